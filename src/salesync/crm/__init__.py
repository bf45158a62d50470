"""The built-in clienteling CRM: clients merged across sources, products, sales linked to
clients, associates and locations, and "N days after the sale" triggers."""
