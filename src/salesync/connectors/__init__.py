"""Connectors: one package per provider or book, each translating to and from the domain."""
