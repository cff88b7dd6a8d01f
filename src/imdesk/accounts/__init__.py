"""Accounts: users, organisations (the enterprise customers), roles, API tokens, login, audit,
and the tenant-scoping helpers every customer-visible query goes through."""
