from __future__ import annotations

import re

from tests.factories import PASSWORD, auth, make_org, make_token, make_user

from imdesk.accounts import services
from imdesk.core.security import verify_password


def _login_form(client) -> str:
    r = client.get("/login")
    assert r.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def _login(client, email, password):
    token = _login_form(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                       follow_redirects=False)


def test_login_sets_session_and_dashboard_by_role(client, session):
    agent = make_user(session, "agent", locale="en")
    session.commit()
    r = _login(client, agent.email, PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and "Agent workspace" in page.text


def test_customer_gets_portal_in_chinese_from_accept_language(client, session):
    cust = make_user(session, "customer")
    session.commit()
    _login(client, cust.email, PASSWORD)
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "服务门户" in page.text and 'lang="zh-CN"' in page.text


def test_user_locale_setting_wins_over_browser(client, session):
    cust = make_user(session, "customer", locale="en")
    session.commit()
    _login(client, cust.email, PASSWORD)
    page = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert "Support portal" in page.text


def test_wrong_password_and_unknown_user_get_the_same_answer(client, session):
    agent = make_user(session, "agent")
    session.commit()
    a = _login(client, agent.email, "wrong-password!")
    b = _login(client, "nobody@example.com", "wrong-password!")
    assert a.status_code == b.status_code == 401
    strip = lambda t: re.sub(r'(value="|Token": ")[^"]*"', "", t)  # noqa: E731
    assert strip(a.text).replace(agent.email, "X") == strip(b.text).replace("nobody@example.com", "X")


def test_unknown_user_still_pays_for_a_hash(monkeypatch):
    """Timing: verifying against no hash runs argon2 on a dummy hash (same work as a real user)."""
    calls = []
    import imdesk.core.security as sec

    real = sec._hasher

    class Spy:
        def verify(self, h, p):
            calls.append(h)
            return real.verify(h, p)

    monkeypatch.setattr(sec, "_hasher", Spy())
    assert verify_password(None, "whatever") is False
    assert calls and calls[0] == sec._DUMMY_HASH


def test_login_rate_limited_per_account(client, session, settings):
    agent = make_user(session, "agent")
    session.commit()
    for _ in range(settings.login_max_attempts):
        assert _login(client, agent.email, "nope-nope").status_code == 401
    r = _login(client, agent.email, PASSWORD)  # even the right password is refused for now
    assert r.status_code == 429


def test_login_without_csrf_is_refused(client, session):
    agent = make_user(session, "agent")
    session.commit()
    client.get("/login")
    r = client.post("/login", data={"email": agent.email, "password": PASSWORD, "csrf_token": "forged"},
                    follow_redirects=False)
    assert r.status_code == 400


def test_open_redirect_is_neutralised(client, session):
    agent = make_user(session, "agent")
    session.commit()
    token = _login_form(client)
    r = client.post("/login", data={"email": agent.email, "password": PASSWORD, "csrf_token": token,
                                    "next": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_cookie_authenticated_writes_need_csrf(client, session):
    cust = make_user(session, "customer")
    session.commit()
    _login(client, cust.email, PASSWORD)
    r = client.put("/api/v1/me/locale", json={"locale": "en"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    page = client.get("/")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
    r = client.put("/api/v1/me/locale", json={"locale": "en"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert client.get("/api/v1/me").json()["locale"] == "en"


def test_logout_clears_session(client, session):
    agent = make_user(session, "agent")
    session.commit()
    _login(client, agent.email, PASSWORD)
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303


def test_anonymous_html_redirects_to_login(client):
    r = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_token_revocation_and_last_used(client, session, clock):
    agent = make_user(session, "agent")
    token = make_token(session, agent)
    session.commit()
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    from imdesk.accounts.queries import list_tokens

    rows = list_tokens(session, services.SYSTEM, agent.email)
    assert rows[0]["last_used_at"] is not None
    services.do_revoke_token(session, services.SYSTEM, rows[0]["id"])
    session.commit()
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401


def test_tokens_are_stored_hashed(session):
    agent = make_user(session, "agent")
    token = make_token(session, agent)
    from sqlalchemy import text

    digests = [r[0] for r in session.execute(text("SELECT digest FROM api_tokens"))]
    assert token not in digests and all(len(d) == 64 for d in digests)


def test_org_pin_is_hashed_and_verifiable(session):
    org = make_org(session, "PIN Org", verification_pin="135790")
    from sqlalchemy import text

    stored = session.execute(text("SELECT verification_pin_hash FROM organisations WHERE id = :i"), {"i": org}).scalar()
    assert "135790" not in stored
    assert services.verify_org_pin(session, org, "135790")
    assert not services.verify_org_pin(session, org, "000000")


def _csrf(client) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)


def test_admin_pages_create_org_and_user(client, session):
    admin = make_user(session, "admin", locale="en")
    session.commit()
    _login(client, admin.email, PASSWORD)
    csrf = _csrf(client)
    r = client.post("/admin/orgs", data={"name": "<script>alert(1)</script> Corp", "annual_fee": "5000",
                                         "plan": "premium", "pin": "4321", "csrf_token": csrf})
    assert r.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Corp" in r.text and "<script>alert(1)" not in r.text
    r = client.post("/admin/orgs", data={"name": "Bad fee", "annual_fee": "lots", "csrf_token": csrf})
    assert r.status_code == 200 and "annual fee" in r.text
    r = client.post("/admin/users", data={"email": "new@example.com", "role": "customer", "csrf_token": csrf,
                                          "org": "<script>alert(1)</script> Corp", "password": "long-enough"})
    assert r.status_code == 200 and "new@example.com" in r.text


def test_agents_can_read_but_not_write_admin_pages(client, session):
    agent = make_user(session, "agent", locale="en")
    cust = make_user(session, "customer", locale="en")
    session.commit()
    _login(client, agent.email, PASSWORD)
    assert client.get("/admin/orgs").status_code == 200
    r = client.post("/admin/orgs", data={"name": "X", "csrf_token": _csrf(client)})
    assert r.status_code == 403
    client.cookies.clear()
    _login(client, cust.email, PASSWORD)
    assert client.get("/admin/users").status_code == 403


def test_token_page_shows_new_token_once(client, session):
    cust = make_user(session, "customer", locale="en")
    session.commit()
    _login(client, cust.email, PASSWORD)
    r = client.post("/account/tokens", data={"name": "bot", "csrf_token": _csrf(client)})
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    again = client.get("/account/tokens").text
    assert token not in again and "bot" in again


def test_logout_ends_the_session_even_for_a_copied_cookie(client, session):
    agent = make_user(session, "agent", locale="en")
    session.commit()
    _login(client, agent.email, PASSWORD)
    stolen = client.cookies.get("imdesk_session")
    csrf = _csrf(client)
    client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    client.cookies.set("imdesk_session", stolen)
    assert client.get("/api/v1/me").status_code == 401


def test_password_change_ends_open_sessions(client, session):
    agent = make_user(session, "agent", locale="en")
    session.commit()
    _login(client, agent.email, PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    services.do_set_password(session, services.SYSTEM, agent.email, "a-brand-new-password")
    session.commit()
    assert client.get("/api/v1/me").status_code == 401
    r = _login(client, agent.email, "a-brand-new-password")
    assert r.status_code == 303 and client.get("/api/v1/me").status_code == 200
