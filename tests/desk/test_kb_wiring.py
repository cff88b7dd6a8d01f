"""The desk and the knowledge base working together: a ticket opened after KB suggestions is linked
to them (deflection statistics), and an agent drafts a KB article from a resolved ticket."""

from __future__ import annotations

import re

from imdesk.desk import services
from imdesk.kb import services as kb_services
from tests.factories import auth, make_org, make_token, make_user


def test_ticket_after_suggestions_is_counted(client, session):
    customer = make_user(session, "customer", org_id=make_org(session), locale="en")
    admin = make_user(session, "admin")
    ct, at = make_token(session, customer), make_token(session, admin)
    kb_services.do_save_article(session, admin, kb_services.ArticleInput(
        slug="apns-provider-token", title="iOS push fails: APNs rejects the provider token", lang="en",
        body="ERR_IM_3001 means APNs rejected the credentials. Renew the .p8 key.", error_codes=["ERR_IM_3001"],
        status="published"))
    session.commit()
    panel = client.get("/kb/suggest", params={"title": "ERR_IM_3001 iOS push fails", "description": ""},
                       headers=auth(ct))
    token = re.search(r'name="kb_suggestion" value="([^"]+)"', panel.text).group(1)
    r = client.post("/tickets/new", data={"title": "ERR_IM_3001 iOS push fails", "description": "APNs 403",
                                          "kb_suggestion": token}, headers=auth(ct), follow_redirects=False)
    assert r.status_code == 303
    months = client.get("/api/v1/kb/deflection", headers=auth(at)).json()
    rows = months if isinstance(months, list) else months.get("months", [])
    assert sum(m["tickets"] for m in rows) == 1


def test_agent_drafts_article_from_resolved_ticket(client, session, clock):
    customer = make_user(session, "customer", org_id=make_org(session), locale="en")
    agent = make_user(session, "senior_engineer", locale="en")
    at = make_token(session, agent)
    t = services.create_ticket(session, customer, clock=clock, title="Push fails after certificate renewal",
                               description="APNs answers 403 InvalidProviderToken")
    services.do_add_reply(session, agent, t.id, "checking", clock=clock)
    services.do_propose_solution(session, agent, t.id, "Upload the renewed .p8 key in the admin console.",
                                 settings=client.app.state.settings, clock=clock)
    services.do_accept_solution(session, customer, t.id, settings=client.app.state.settings, clock=clock)
    session.commit()
    page = client.get(f"/tickets/{t.id}", headers=auth(at))
    form = re.search(r'<form method="post" action="/kb/drafts-from-ticket" id="draft-kb-article">(.*?)</form>',
                     page.text, re.S)
    assert form is not None
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1), re.S))
    assert fields["ticket_ref"] == t.number and "renewed .p8 key" in fields["body"]
    r = client.post("/kb/drafts-from-ticket", data=fields, headers=auth(at), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/edit")
    slug = r.headers["location"].split("/kb/articles/")[1].rsplit("/edit", 1)[0]
    art = client.get(f"/api/v1/kb/articles/{slug}", headers=auth(at)).json()
    assert art["status"] == "draft" and "renewed .p8 key" in art["body"]
