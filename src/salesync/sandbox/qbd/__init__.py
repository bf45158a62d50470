"""A simulated QuickBooks Desktop company file and a QuickBooks Web Connector client."""
