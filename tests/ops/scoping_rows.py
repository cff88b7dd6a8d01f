"""Ops tools in the tenant-scoping matrix: any signed-in user may use them; they read no stored data."""

from __future__ import annotations

from tests.scoping import Row

_ALL = {"anonymous": 401, "own_customer": 200, "other_customer": 200, "agent": 200, "senior_engineer": 200,
        "account_manager": 200, "admin": 200}

ROWS = [
    Row("tools: version check", "POST", lambda s, c: "/api/v1/tools/version-check", _ALL,
        body={"sdk": "java:4.3.0", "server": "4.2.1"}),
    Row("tools: config check", "POST", lambda s, c: "/api/v1/tools/config-check", _ALL,
        body={"content": "server:\n  node_id: n1\n"}),
]
