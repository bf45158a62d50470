"""Read models: what the dashboard and the REST API show a merchant or an operator,
computed from the database and always scoped to one tenant."""
