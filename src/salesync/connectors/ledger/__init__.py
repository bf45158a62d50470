"""The built-in double-entry ledger and its Beancount and hledger exports."""
