"""Role x endpoint: the tenant-scoping matrix (rows come from every tests/*/scoping_rows.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tests.factories import auth, make_org, make_token, make_user
from tests.scoping import ROLE_KEYS, MatrixCtx, Row

TESTS = Path(__file__).resolve().parents[1]


def _collect_rows() -> list[Row]:
    rows: list[Row] = []
    for path in sorted(TESTS.glob("*/scoping_rows.py")):
        module_name = f"tests.{path.parent.name}.scoping_rows"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows.extend(module.ROWS)
    return rows


ROWS = _collect_rows()


def test_matrix_has_rows_from_accounts():
    assert any(r.name == "get own or other org" for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_scoping_matrix(row: Row, client, session, clock):
    org_a = make_org(session, "Matrix Org A")
    org_b = make_org(session, "Matrix Org B")
    actors = {
        "own_customer": make_user(session, "customer", org_id=org_a),
        "other_customer": make_user(session, "customer", org_id=org_b),
        "agent": make_user(session, "agent"),
        "senior_engineer": make_user(session, "senior_engineer"),
        "account_manager": make_user(session, "account_manager"),
        "admin": make_user(session, "admin"),
    }
    tokens = {k: make_token(session, a) for k, a in actors.items()}
    ctx = MatrixCtx(org_a=org_a, org_b=org_b, actors=actors, clock=clock)
    session.commit()
    failures = []
    for role in ROLE_KEYS:
        path = row.make(session, ctx)
        session.commit()
        body = row.body(session, ctx) if callable(row.body) else row.body
        ctx.extra["n"] = ctx.extra.get("n", 0) + 1
        headers = auth(tokens[role]) if role != "anonymous" else {}
        r = client.request(row.method, path, json=body, headers=headers)
        if r.status_code != row.expect[role]:
            failures.append(f"{role}: expected {row.expect[role]}, got {r.status_code} {r.text[:200]}")
    assert not failures, f"{row.method} {row.name}:\n" + "\n".join(failures)
