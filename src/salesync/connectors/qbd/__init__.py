"""QuickBooks Desktop through the QuickBooks Web Connector."""
