"""Never a 500 for bad input: every operation of the OpenAPI spec, as an admin and as a customer,
gets malformed path parameters, wrong-typed and oversized JSON bodies and hostile query strings.
Every answer must be < 500, and every 4xx from /api/ must be RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import auth, make_org, make_token, make_user

BAD_PATH_VALUES = ["0", "999999999", "-1", "abc", "1.5", "%00", "ERR_IM_9999", "..%2F..%2Fetc%2Fpasswd", "x" * 300]
HOSTILE_QUERY = {"q": "<script>alert(1)</script>' OR 1=1 --", "limit": "-5", "page": "99999999999", "offset": "abc",
                 "status": "nonsense", "priority": "P9", "since": "yesterday-ish", "lang": "xx", "per_page": "0"}


def _resolve(spec: dict, schema: dict | None) -> dict:
    seen = 0
    while schema and "$ref" in schema and seen < 10:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"].get(name, {})
        seen += 1
    return schema or {}


def _wrong(prop: dict) -> Any:
    kind = prop.get("type")
    if kind == "string":
        return 12345
    if kind in ("integer", "number"):
        return "not-a-number"
    if kind == "boolean":
        return "maybe"
    if kind == "array":
        return {"not": "a list"}
    return ["unexpected"]


def _bodies(spec: dict, op: dict) -> list[Any]:
    content = (op.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return [None]
    schema = _resolve(spec, content["application/json"].get("schema"))
    props = schema.get("properties", {})
    bodies: list[Any] = [{}, [], "just a string", None, {"unexpected_field": True}]
    if props:
        bodies.append({k: _wrong(_resolve(spec, v) if "$ref" in v else v) for k, v in props.items()})
        bodies.append({k: "x" * 1_100_000 for k in props})  # 1 MB strings everywhere
        bodies.append({k: "\x00\ud7ff<img src=x onerror=alert(1)>" for k in props})
    return bodies


def _operations(app) -> list[tuple[str, str, dict]]:
    spec = app.openapi()
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method in ("get", "post", "put", "patch", "delete", "head"):
                ops.append((method.upper(), path, op))
    return ops


@pytest.fixture
def actors(session):
    org = make_org(session, "Fuzz Org")
    admin = make_user(session, "admin")
    cust = make_user(session, "customer", org_id=org)
    tokens = {"admin": make_token(session, admin), "customer": make_token(session, cust)}
    session.commit()
    return tokens


def test_no_server_errors_for_bad_input(app, actors):
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    spec = app.openapi()
    failures: list[str] = []
    for method, path, op in _operations(app):
        params = [p for p in op.get("parameters", []) if p.get("in") == "path"]
        paths = [path]
        if params:
            paths = []
            for value in BAD_PATH_VALUES:
                p = path
                for prm in params:
                    p = p.replace("{" + prm["name"] + "}", value)
                paths.append(p)
        for role, token in actors.items():
            for url in paths:
                for body in _bodies(spec, op):
                    kwargs: dict[str, Any] = {"headers": auth(token)}
                    if method in ("GET", "HEAD"):
                        kwargs["params"] = HOSTILE_QUERY
                    elif body is not None:
                        kwargs["json"] = body
                    r = client.request(method, url, **kwargs)
                    if r.status_code >= 500:
                        failures.append(f"{role} {method} {url[:80]} body={str(body)[:60]} -> {r.status_code}")
                    elif (r.status_code >= 400 and method != "HEAD"
                          and not r.headers.get("content-type", "").startswith("application/problem+json")):
                        failures.append(f"{role} {method} {url[:80]} -> {r.status_code} not problem+json")
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:40])
