"""The support desk and billing around the sync: the plan catalog, subscriptions and
invoices, developer-hour entitlements, support requests and their triage against the scope
of work, escalation, SLA clocks and the knowledge base."""
