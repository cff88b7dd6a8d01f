"""The structured admin editors of SLA policies and keyword classification rules: form <-> the
stored JSON, errors next to the field, nothing stored (and nothing typed lost) on bad input."""

from __future__ import annotations

import pytest

from imdesk.core import i18n
from imdesk.desk import editors, services, sla, store
from imdesk.desk.models import RuleSetRow, SlaPolicyRow
from tests.factories import auth, make_org, make_token, make_user


def _policy_form(**over) -> dict[str, list[str]]:
    form = {"policy": [""], "name": ["gold"], "plan": ["enterprise"], "calendar": ["china"],
            "title_en": ["Gold"], "title_zh": ["金牌"]}
    for p, (fr, nr, res, clock) in {"P0": (10, 20, 120, "24x7"), "P1": (30, 60, 600, "24x7"),
                                    "P2": (120, 240, 1000, "business"), "P3": (240, 480, 2000, "business")}.items():
        form |= {f"{p}.first_response": [str(fr)], f"{p}.next_response": [str(nr)], f"{p}.resolution": [str(res)],
                 f"{p}.clock": [clock]}
    return form | {k: [v] for k, v in over.items()}


def test_policy_form_round_trips_to_the_json_the_desk_reads():
    stored = sla.load_policies()["default"].to_dict() | {"title": {"en": "Standard support", "zh": "标准支持"}}
    ed = editors.policy_editor(stored)
    assert ed.values["P0.first_response"] == "15" and ed.values["P0.clock"] == "24x7"
    assert ed.values["P2.clock"] == "business"
    form = {k: [v] for k, v in ed.values.items()} | {"policy": ["default"]}
    back = editors.parse_policy_form(form, existing=stored, calendars=["china", "24x7"])
    assert not back.errors and back.data == stored | {"plan": None}
    assert sla.parse_policy(back.data).to_dict() == sla.parse_policy(stored).to_dict()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("P0.first_response", "", "required"),
    ("P0.first_response", "0", "must be more than 0"),
    ("P1.next_response", "1.5", "a whole number of minutes"),
    ("P2.resolution", "9999999", "at most {n} (one year)"),
    ("P3.first_response", "3000", "longer than the resolution target"),
    ("P3.clock", "sometimes", "24x7 or business"),
    ("calendar", "mars", "one of {choices}"),
    ("name", "Gold Plan!", "lower-case letters, digits, - and _ (at most 64)"),
    ("plan", "x" * 33, "at most {n} characters on one line"),
])
def test_policy_field_errors(field, value, message):
    ed = editors.parse_policy_form(_policy_form(**{field: value}), existing=None, calendars=["china", "24x7"])
    assert ed.data is None and ed.errors[field][0] == message
    assert ed.values[field] == value and ed.values["P0.resolution"] == "120"  # what was typed stays
    assert i18n.has_translation("zh_CN", message)


def test_policy_name_taken():
    ed = editors.parse_policy_form(_policy_form(), existing=None, calendars=["china"], taken_names=["gold"])
    assert ed.errors["name"][0] == "a policy of this name exists"


def _rules_form(**over) -> dict[str, list[str]]:
    form = {"kw": ["铃声", "ringtone", ""], "w": ["5", "2.5", "1"], "group": ["push", "push", ""],
            "code": ["err_im_3xxx", ""], "code_group": ["push", ""],
            "title_boost": ["2"], "min_score": ["1"], "error_code_weight": ["6"], "fallback_group": ["infrastructure"]}
    return form | over


GROUPS = ["auth", "push", "infrastructure", "messaging"]


def test_rules_form_builds_the_rule_set_json():
    existing = {"rules": {"auth": [{"kw": "登录", "w": 3}]}, "error_code_hints": {"ERR_IM_1": "auth"},
                "extra_key": "kept"}
    ed = editors.parse_rules_form(_rules_form(), existing=existing, groups=GROUPS)
    assert not ed.errors
    assert ed.data == {"rules": {"push": [{"kw": "铃声", "w": 5}, {"kw": "ringtone", "w": 2.5}]},
                       "error_code_hints": {"ERR_IM_3": "push"}, "extra_key": "kept", "title_boost": 2,
                       "min_score": 1, "error_code_weight": 6, "fallback_group": "infrastructure"}
    back = editors.rules_editor(ed.data)
    assert [r["kw"] for r in back.keywords] == ["铃声", "ringtone"] and back.codes == [{"code": "ERR_IM_3", "group": "push"}]


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"w": ["abc", "2", "1"]}, "w.0", "a number"),
    ({"w": ["0", "2", "1"]}, "w.0", "between {low} and {high}"),
    ({"group": ["push", "nowhere", ""]}, "group.1", "unknown group"),
    ({"kw": ["铃声", "铃声", ""]}, "kw.1", "listed twice for this group"),
    ({"kw": ["x" * 101, "ringtone", ""]}, "kw.0", "at most {n} characters on one line"),
    ({"code": ["ERR_XX_1", ""]}, "code.0", "like ERR_IM_5 or ERR_IM_5xxx"),
    ({"code": ["ERR_IM_3", "ERR_IM_3xxx"], "code_group": ["push", "auth"]}, "code.1", "listed twice"),
    ({"title_boost": ["-1"]}, "title_boost", "between {low} and {high}"),
    ({"fallback_group": ["gone"]}, "fallback_group", "unknown group"),
])
def test_rules_field_errors(over, field, message):
    ed = editors.parse_rules_form(_rules_form(**over), existing={}, groups=GROUPS)
    assert ed.data is None and ed.errors[field][0] == message
    assert [r["kw"] for r in ed.keywords][:2] == (over.get("kw") or ["铃声", "ringtone"])[:2]
    assert i18n.has_translation("zh_CN", message)


@pytest.fixture
def admin_client(client, session):
    admin = make_user(session, "admin", password=None)
    store.seed(session)
    org = make_org(session, "编辑器测试")
    customer = make_user(session, "customer", org_id=org, password=None)
    agent = make_user(session, "agent", password=None)
    tokens = {"admin": make_token(session, admin), "agent": make_token(session, agent)}
    session.commit()
    return client, tokens, customer


def test_policy_editor_pages(admin_client, session):
    client, tok, _ = admin_client
    h = auth(tok["admin"])
    page = client.get("/desk/admin", headers=h)
    assert page.status_code == 200 and 'id="policy-default"' in page.text and 'id="policy-new"' in page.text
    assert 'name="P2.next_response" value="480"' in page.text
    # bad input, HTMX: the form comes back with the error next to the field and the typed values
    form = {k: v[0] for k, v in _policy_form(**{"P1.resolution": "soon"}).items()}
    r = client.post("/desk/admin/policy", data=form, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    assert 'data-field="P1.resolution"' in r.text and 'value="soon"' in r.text and 'value="Gold"' in r.text
    assert session.query(SlaPolicyRow).filter_by(name="gold").count() == 0
    # without HTMX: the whole page, 422, same state
    r = client.post("/desk/admin/policy", data=form, headers=h)
    assert r.status_code == 422 and 'data-field="P1.resolution"' in r.text and 'id="policy-default"' in r.text
    # a good new policy is stored and becomes an editable one; a new blank form follows
    form["P1.resolution"] = "600"
    r = client.post("/desk/admin/policy", data=form, headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and 'id="policy-gold"' in r.text and 'id="policy-new"' in r.text
    session.expire_all()
    gold = store.desk_config(session).policies["gold"]
    assert gold.plan == "enterprise" and gold.target("P2", "next_response").minutes == 240
    assert gold.target("P0", "resolution").around_the_clock and not gold.target("P3", "resolution").around_the_clock
    # editing the default: P2 first response, zh page labels
    default = editors.policy_editor(next(iter(
        [r.data | {"name": r.name, "plan": r.plan, "calendar": r.calendar}
         for r in session.query(SlaPolicyRow).filter_by(name="default")])))
    edit = dict(default.values, policy="default")
    edit["P2.first_response"] = "200"
    r = client.post("/desk/admin/policy", data=edit, headers={**h, "HX-Request": "true", "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and "已保存" in r.text and 'id="policy-default"' in r.text
    session.expire_all()
    assert store.desk_config(session).policies["default"].target("P2", "first_response").minutes == 200
    # an unknown stored policy name is a clear 4xx; non-admins are refused
    assert client.post("/desk/admin/policy", data={**edit, "policy": "nope"}, headers=h).status_code == 422
    assert client.post("/desk/admin/policy", data=edit, headers=auth(tok["agent"])).status_code == 403


def test_rules_editor_pages(admin_client, session):
    client, tok, customer = admin_client
    h = auth(tok["admin"])
    page = client.get("/desk/admin", headers=h)
    assert 'id="rules-form"' in page.text and 'name="kw" value="登录"' in page.text
    before = session.query(RuleSetRow).filter_by(name="classification").one().data
    bad = _rules_form(w=["heavy", "2", "1"])
    r = client.post("/desk/admin/rules", data=bad, headers={**h, "HX-Request": "true", "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and 'data-field="w.0"' in r.text and "请填写数字" in r.text
    assert 'value="heavy"' in r.text and 'value="ringtone"' in r.text  # nothing typed is lost
    xss = client.post("/desk/admin/rules", data=_rules_form(kw=['"><script>alert(1)</script>', "x", ""],
                                                            w=["no", "1", "1"]), headers={**h, "HX-Request": "true"})
    assert "<script>alert(1)" not in xss.text and "&lt;script&gt;alert(1)" in xss.text
    session.expire_all()
    assert session.query(RuleSetRow).filter_by(name="classification").one().data == before  # nothing stored
    r = client.post("/desk/admin/rules", data=_rules_form(), headers={**h, "HX-Request": "true"})
    assert r.status_code == 200 and 'id="rules-saved"' in r.text
    t = services.create_ticket(session, customer, title="铃声不响", description="")
    assert store.desk_config(session).group_keys[t.group_id] == "push"
    t2 = services.create_ticket(session, customer, title="报错", description="出现 ERR_IM_3001")
    assert store.desk_config(session).group_keys[t2.group_id] == "push"
    row = client.get("/desk/admin/rules/row?kind=code", headers={**h, "HX-Request": "true"})
    assert row.status_code == 200 and 'name="code"' in row.text and row.text.lstrip().startswith("<tr")
    assert client.get("/desk/admin/rules/row?kind=zzz", headers=h).status_code == 422
    assert client.get("/desk/admin/rules/row", headers=auth(tok["agent"])).status_code == 403
