from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.desk import classify as c
from imdesk.desk import priority as p


@pytest.mark.parametrize(("title", "description", "group"), [
    ("全员无法登录", "今天早上开始所有用户都无法登录", "auth"),
    ("SSO login fails", "Our SAML single sign-on returns unauthorized", "auth"),
    ("APNs push not working", "iOS users do not get offline notifications", "push"),
    ("安卓收不到离线推送", "华为手机收不到推送通知", "push"),
    ("如何配置 LDAP 同步", "请问组织架构如何从 AD 同步？", "directory"),
    ("消息撤回失败", "群聊里撤回消息提示失败", "messaging"),
    ("Read receipts missing", "read receipts are not shown in group chat", "messaging"),
    ("小程序 SDK 报错", "调用 REST 接口返回 401，SDK 版本 4.1", "integration"),
    ("Redis 连接不上", "服务器日志里都是 redis 超时，集群节点 CPU 很高", "infrastructure"),
    ("疑似数据泄露", "员工聊天记录被泄露到外网", "security"),
    ("续费和发票", "请问明年的合同续费报价，以及发票开具", "account"),
    ("Invoice for 2026", "Please send the invoice and the renewal quote", "account"),
])
def test_keyword_rules_route_zh_and_en(title, description, group):
    assert c.classify(title, description).group == group


def test_error_code_hints_use_catalogue_and_prefixes():
    rs = c.default_ruleset()
    assert rs.group_for_code("ERR_IM_5003") == "infrastructure"
    assert rs.group_for_code("ERR_IM_3001") == "push"
    assert rs.group_for_code("ERR_IM_5999") == "infrastructure"  # not in the catalogue: prefix table
    result = c.classify("服务异常", "日志里有 ERR_IM_5101")
    assert result.group == "infrastructure"
    assert any("ERR_IM_5101" in s for s in result.signals)


def test_title_weighs_more_than_description():
    rs = c.RuleSet.from_config({"rules": {"a": [{"kw": "alpha", "w": 1}], "b": [{"kw": "beta", "w": 1.5}]},
                                "title_boost": 2})
    assert c.classify("alpha", "beta", rs).group == "a"
    assert c.classify("beta", "alpha", rs).group == "b"


def test_unknown_text_falls_back():
    res = c.classify("hello", "")
    assert res.method == "fallback" and res.group == "infrastructure"


def test_empty_keyword_refused():
    with pytest.raises(BadInput):
        c.compile_keyword("  ", 1)


def _corpus():
    data = {
        "push": ["推送收不到", "apns certificate expired push", "离线推送失败 华为", "fcm push delay", "通知栏没有推送"],
        "account": ["发票开具", "invoice needed", "合同续费报价", "billing question renewal", "授权许可到期"],
        "directory": ["通讯录同步失败", "ldap sync broken", "组织架构不更新", "contacts not synced", "离职成员还在通讯录"],
    }
    return [(f"{t} {i}", g) for g, texts in data.items() for i in range(4) for t in texts]


def test_naive_bayes_learns_and_serialises():
    samples = _corpus()
    nb = c.NaiveBayes(min_samples=10).fit(samples)
    assert nb.ready
    assert nb.predict("推送证书") == "push"
    assert nb.predict("ldap 通讯录") == "directory"
    clone = c.NaiveBayes.from_dict(nb.to_dict())
    assert clone.predict_proba("invoice 发票") == pytest.approx(nb.predict_proba("invoice 发票"))
    acc = c.cross_validate(samples, folds=5)
    assert acc is not None and acc >= 0.7
    assert c.cross_validate(samples[:3]) is None


def test_model_combines_with_rules():
    nb = c.NaiveBayes(min_samples=10).fit([("quux frobnicator", "account")] * 10 + [("zork", "push")] * 10)
    res = c.classify("quux frobnicator", "", model=nb)
    assert res.group == "account" and res.method == "model"
    not_ready = c.NaiveBayes(min_samples=1000).fit([("quux", "account")])
    assert c.classify("quux", "", model=not_ready).method == "fallback"


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=200), description=st.text(max_size=500))
def test_classify_and_prioritise_never_crash(title, description):
    res = c.classify(title, description)
    assert res.group in c.default_ruleset().rules or res.group == "infrastructure"
    assert p.decide(title, description).priority in p.PRIORITIES


@pytest.mark.parametrize(("title", "description", "prio", "signal"), [
    ("全员无法登录", "所有用户都无法登录", "P0", "impact_all"),
    ("Data leak suspected", "chat history leaked to outside", "P0", "security_incident"),
    ("账号被盗", "管理员账号被盗用", "P0", "security_incident"),
    ("消息延迟严重", "很多用户消息延迟严重，几分钟才收到", "P1", "impact_many"),
    ("Group chat failing for many users", "many users: messages keep failing, severely degraded", "P1", "urgency_degraded"),
    ("撤回失败", "部分用户撤回消息失败，可以先用删除代替（临时方案）", "P2", "workaround"),
    ("how to configure LDAP", "is it possible to sync departments nightly?", "P3", "nature_question"),
    ("请问如何开发票", "咨询发票开具流程", "P3", "nature_question"),
])
def test_priority_matrix(title, description, prio, signal):
    d = p.decide(title, description)
    assert d.priority == prio, d
    assert signal in d.signals
    assert d.reason


def test_suggested_priority_raise_and_lower():
    # customer suggests P1 for a some-users problem: raised, reason says so
    d = p.decide("部分用户收不到消息", "some users", suggested="P1")
    assert d.computed == "P2" and d.priority == "P1" and "raised" in d.reason
    # a plain question suggested as P0: lowered back to computed, with reason
    d = p.decide("请问如何配置", "how to configure", suggested="P0")
    assert d.priority == "P3" and "lowered" in d.reason
    # a security incident is never lowered
    d = p.decide("数据泄露", "data leak", suggested="P3")
    assert d.priority == "P0" and "kept" in d.reason
    # lower suggestion for a P1 is accepted
    d = p.decide("全员消息很慢", "everyone sees high latency", suggested="P2")
    assert d.computed == "P1" and d.priority == "P2"
    with pytest.raises(BadInput):
        p.decide("x", "y", suggested="P5")
