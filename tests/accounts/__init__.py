"""Tests of accounts: users, passwords, sessions, keys and the permission table."""
