"""The structured admin editor of the priority rules: form <-> the stored JSON (the one the JSON
editor and ``services.do_update_rule_set`` take), errors next to the field, nothing stored and
nothing typed lost on bad input, and a saved edit changes the priority of the next ticket."""

from __future__ import annotations

import pytest

from imdesk.core import i18n
from imdesk.desk import editors, services
from imdesk.desk.models import RuleSetRow
from imdesk.desk.priority import PriorityRules, decide
from imdesk.profiles import load_profile
from tests.desk import test_editors
from tests.factories import auth


def _form(**over) -> dict[str, list[str]]:
    form = {"default": ["P2"],
            "sig_id": ["leak", "everyone", ""],
            "sig_dimension": ["security", "impact", "impact"],
            "sig_level": ["incident", "all", "all"],
            "sig_keywords": ["数据泄露, data leak\nhacked", "全员，everyone", ""]}
    return form | over


def test_seed_rules_round_trip():
    seed = load_profile(None).data("priority_rules")
    ed = editors.priority_editor(seed)
    assert {s["dimension"] for s in ed.signals} <= set(editors.LEVELS)
    form = {"default": [ed.default]} | {f"sig_{k}": [s[k] for s in ed.signals] for k in ("id", "dimension", "level",
                                                                                         "keywords")}
    back = editors.parse_priority_form(form, existing=seed)
    assert not back.errors and back.data == dict(seed)


def test_form_builds_the_json_and_keeps_other_keys():
    ed = editors.parse_priority_form(_form(), existing={"default": "P3", "signals": [], "note": "kept"})
    assert not ed.errors
    assert ed.data == {"default": "P2", "note": "kept", "signals": [
        {"id": "leak", "dimension": "security", "level": "incident", "keywords": ["数据泄露", "data leak", "hacked"]},
        {"id": "everyone", "dimension": "impact", "level": "all", "keywords": ["全员", "everyone"]}]}
    rules = PriorityRules.from_config(ed.data)
    assert decide("hacked!", "", rules).priority == "P0"


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"sig_keywords": [" , \n", "everyone", ""]}, "sig_keywords.0", "at least one keyword"),
    ({"sig_keywords": ["leak, LEAK", "everyone", ""]}, "sig_keywords.0", "a keyword is listed twice"),
    ({"sig_keywords": ["x" * 101, "everyone", ""]}, "sig_keywords.0", "each keyword at most {n} characters"),
    ({"sig_id": ["leak", "leak", ""]}, "sig_id.1", "listed twice"),
    ({"sig_id": ["", "everyone", ""]}, "sig_id.0", "lower-case letters, digits, - and _ (at most 64)"),
    ({"sig_id": ["Leak Signal", "everyone", ""]}, "sig_id.0", "lower-case letters, digits, - and _ (at most 64)"),
    ({"sig_level": ["incident", "down", ""]}, "sig_level.1", "one of {choices}"),  # an urgency level on impact
    ({"sig_dimension": ["mood", "impact", ""]}, "sig_dimension.0", "one of {choices}"),
    ({"default": ["P9"]}, "default", "one of {choices}"),
])
def test_field_errors(over, field, message):
    ed = editors.parse_priority_form(_form(**over), existing={})
    assert ed.data is None and ed.errors[field][0] == message
    typed = [k.strip() for k in (over.get("sig_keywords") or _form()["sig_keywords"])[:2]]
    assert [s["keywords"] for s in ed.signals][:2] == typed
    assert [s["id"] for s in ed.signals][:2] == (over.get("sig_id") or _form()["sig_id"])[:2]  # nothing lost
    assert i18n.has_translation("zh_CN", message)


def test_level_error_names_the_levels_of_the_dimension():
    ed = editors.parse_priority_form(_form(sig_level=["incident", "down", ""]), existing={})
    assert ed.errors["sig_level.1"][1] == {"choices": "all, many, some"}


def test_empty_rows_are_dropped_and_an_id_without_keywords_is_not():
    ed = editors.parse_priority_form(_form(sig_id=["leak", "everyone", "orphan"]), existing={})
    assert ed.errors == {"sig_keywords.2": ("at least one keyword", {})}
    ed = editors.parse_priority_form(_form(sig_keywords=["leak", "", ""]), existing={})
    assert set(ed.errors) == {"sig_keywords.1"}


admin_client = test_editors.admin_client  # the seeded desk, an admin, an agent and a customer


def _page_form(session) -> dict[str, list[str]]:
    ed = editors.priority_editor(session.query(RuleSetRow).filter_by(name="priority_rules").one().data)
    return {"default": [ed.default]} | {f"sig_{k}": [s[k] for s in ed.signals]
                                        for k in ("id", "dimension", "level", "keywords")}


def test_priority_editor_pages(admin_client, session):
    client, tok, customer = admin_client
    h = auth(tok["admin"])
    page = client.get("/desk/admin", headers=h)
    assert page.status_code == 200 and 'id="priority-form"' in page.text
    assert 'name="sig_id" value="security_incident"' in page.text
    before = session.query(RuleSetRow).filter_by(name="priority_rules").one().data
    plain = services.create_ticket(session, customer, title="打印机冒烟了", description="")
    assert plain.priority == before["default"] == "P2"

    # bad input (HTMX): errors next to the fields, what was typed comes back escaped, nothing stored
    form = _page_form(session)
    form["sig_id"].append("printer")
    form["sig_dimension"].append("impact")
    form["sig_level"].append("incident")
    form["sig_keywords"].append('打印机冒烟, "><script>alert(1)</script>')
    r = client.post("/desk/admin/priority", data=form, headers={**h, "HX-Request": "true", "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and "<html" not in r.text and 'id="priority-error"' in r.text
    last = len(form["sig_id"]) - 1
    assert f'data-field="sig_level.{last}"' in r.text and "未保存" in r.text
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text
    assert 'value="printer"' in r.text
    session.expire_all()
    assert session.query(RuleSetRow).filter_by(name="priority_rules").one().data == before
    # without HTMX: the whole page, 422, the same state
    r = client.post("/desk/admin/priority", data=form, headers=h)
    assert r.status_code == 422 and f'data-field="sig_level.{last}"' in r.text and 'id="rules-form"' in r.text

    # fixed: stored through the rule-set service, and the next ticket is decided by it
    form["sig_dimension"][last], form["sig_keywords"][last] = "security", "打印机冒烟"
    r = client.post("/desk/admin/priority", data=form, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and 'id="priority-saved"' in r.text and 'value="printer"' in r.text
    session.expire_all()
    stored = session.query(RuleSetRow).filter_by(name="priority_rules").one().data
    assert stored["signals"][-1] == {"id": "printer", "dimension": "security", "level": "incident",
                                     "keywords": ["打印机冒烟"]}
    assert stored["signals"][:-1] == before["signals"]
    t = services.create_ticket(session, customer, title="打印机冒烟了", description="")
    assert t.priority == "P0"
    assert services.create_ticket(session, customer, title="随便问问", description="").priority == "P2"
    form["default"] = ["P3"]
    assert client.post("/desk/admin/priority", data=form, headers={**h, "HX-Request": "true"}).status_code == 200
    session.expire_all()
    assert services.create_ticket(session, customer, title="随便问问", description="").priority == "P3"

    # the JSON editor still works as before
    r = client.post("/desk/admin", data={"what": "priority_rules", "data": "{not json"}, headers=h)
    assert r.status_code == 422
    assert client.post("/desk/admin/priority", data=form, headers=auth(tok["agent"])).status_code == 403


def test_signal_row_endpoint(admin_client):
    client, tok, _ = admin_client
    h = {**auth(tok["admin"]), "HX-Request": "true"}
    r = client.get("/desk/admin/priority/row", headers=h)
    assert r.status_code == 200 and r.text.lstrip().startswith("<tr") and 'name="sig_id" value=""' in r.text
    # the dimension changed: the row as typed, with that dimension's levels, the first one chosen
    r = client.get("/desk/admin/priority/row", params={"sig_id": "x<b>", "sig_dimension": "urgency",
                                                       "sig_level": "all", "sig_keywords": "宕机"}, headers=h)
    assert 'value="x&lt;b&gt;"' in r.text and ">宕机</textarea>" in r.text
    assert '<option value="down" selected>' in r.text and 'value="all"' not in r.text
    assert client.get("/desk/admin/priority/row?sig_dimension=mood", headers=h).status_code == 422
    assert client.get("/desk/admin/priority/row", headers=auth(tok["agent"])).status_code == 403
