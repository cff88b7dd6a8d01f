from __future__ import annotations

from tests.factories import auth, make_org, make_token, make_user


def test_healthz_and_metrics(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    m = client.get("/metrics")
    assert m.status_code == 200
    assert "imdesk_http_requests_total" in m.text


def test_me_requires_credentials_with_problem_json(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "not_authenticated" and body["status"] == 401


def test_bad_bearer_token(client):
    r = client.get("/api/v1/me", headers=auth("imd_nope"))
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_me_with_token(client, session):
    agent = make_user(session, "agent")
    token = make_token(session, agent)
    session.commit()
    r = client.get("/api/v1/me", headers=auth(token))
    assert r.status_code == 200
    assert r.json()["email"] == agent.email and r.json()["role"] == "agent"


def test_wrong_role_is_403(client, session):
    org = make_org(session)
    cust = make_user(session, "customer", org_id=org)
    token = make_token(session, cust)
    session.commit()
    r = client.post("/api/v1/orgs", json={"name": "X"}, headers=auth(token))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


def test_validation_is_422_problem(client, session):
    admin = make_user(session, "admin")
    token = make_token(session, admin)
    session.commit()
    r = client.post("/api/v1/orgs", json={"name": ""}, headers=auth(token))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/orgs", content=b"{not json", headers={**auth(token), "content-type": "application/json"})
    assert r.status_code == 422


def test_oversized_body_is_413(client, session, app):
    admin = make_user(session, "admin")
    token = make_token(session, admin)
    session.commit()
    limit = app.state.settings.max_json_body_bytes
    r = client.post("/api/v1/orgs", content=b"x" * (limit + 1),
                    headers={**auth(token), "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


def test_unknown_route_is_404_problem(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_request_id_echoed(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
