"""Browser: an admin edits the keyword classification rules, an SLA policy and the priority rules in
the structured editors (HTMX): add a row, a bad weight is shown next to its field with everything
typed kept, the fix saves; a policy target is changed in the zh_CN page; a priority signal is added
(its level list follows the dimension chosen), refused without keywords, saved, and deleted again."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_admin_edits_rules_and_policy(live_server, new_page):
    page = new_page("en-US")
    login(page, live_server, "admin@imdesk.example")
    page.goto(live_server + "/desk/admin")
    form = page.locator("#rules-form")
    rows_before = form.locator("tr.keyword-row").count()
    for n in (1, 2):
        page.click("#add-keyword")
        page.wait_for_function(f"document.querySelectorAll('#rules-form tr.keyword-row').length == {rows_before + n}")
    doomed, new_row = form.locator("tr.keyword-row").nth(rows_before), form.locator("tr.keyword-row").last
    doomed.locator("input[name=kw]").fill("e2e-to-delete")
    new_row.locator("input[name=kw]").fill("铃声静音")
    new_row.locator("input[name=w]").fill("heavy")
    new_row.locator("select[name=group]").select_option("push")
    doomed.locator(".remove-row").click()  # deleted in the page, before saving
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#rules-error")
    err = page.locator("#rules-form .field-error[data-field^='w.']")
    assert err.count() == 1 and err.inner_text() == "a number"
    bad_row = page.locator("#rules-form tr.keyword-row", has=page.locator("input[name=kw][value='铃声静音']"))
    assert bad_row.locator("input[name=w]").input_value() == "heavy"
    assert bad_row.locator("input[aria-invalid=true]").count() == 1
    kws = page.locator("#rules-form tr.keyword-row input[name=kw]").evaluate_all("els => els.map(e => e.value)")
    assert "e2e-to-delete" not in kws and "登录" in kws  # deleted row gone, the stored ones kept
    bad_row.locator("input[name=w]").fill("7")
    page.locator("#rules-form button[type=submit]").click()
    page.wait_for_selector("#rules-saved")
    page.reload()
    kws = page.locator("#rules-form tr.keyword-row input[name=kw]").evaluate_all("els => els.map(e => e.value)")
    assert "铃声静音" in kws and "e2e-to-delete" not in kws and "登录" in kws

    zh = new_page("zh-CN")
    login(zh, live_server, "admin@imdesk.example")  # the demo admin prefers English: switch
    zh.goto(live_server + "/desk/admin")
    zh.click("button[name=locale][value=zh_CN]")
    zh.wait_for_selector("html[lang^=zh]")
    policy = zh.locator("#policy-default")
    policy.locator("input[name='P3.next_response']").fill("0")
    policy.locator("button[type=submit]").click()
    zh.wait_for_selector("#policy-default .policy-error")
    assert zh.locator("#policy-default .field-error[data-field='P3.next_response']").inner_text() == "必须大于 0"
    zh.locator("#policy-default input[name='P3.next_response']").fill("900")
    zh.locator("#policy-default select[name='P3.clock']").select_option("24x7")
    zh.locator("#policy-default button[type=submit]").click()
    zh.wait_for_selector("#policy-default .policy-saved")
    zh.reload()
    assert zh.locator("#policy-default input[name='P3.next_response']").input_value() == "900"
    assert zh.locator("#policy-default select[name='P3.clock']").input_value() == "24x7"
    zh.locator("#policy-default input[name='P3.next_response']").fill("1080")  # leave the demo as it was
    zh.locator("#policy-default select[name='P3.clock']").select_option("business")
    zh.locator("#policy-default button[type=submit]").click()
    zh.wait_for_selector("#policy-default .policy-saved")
    zh.click("button[name=locale][value=en]")
    zh.wait_for_selector("html[lang=en]")


def test_admin_edits_priority_signals(live_server, new_page):
    page = new_page("en-US")
    login(page, live_server, "admin@imdesk.example")
    page.goto(live_server + "/desk/admin")
    rows = page.locator("#priority-form tr.signal-row")
    before = rows.count()
    page.click("#add-signal")
    page.wait_for_function(f"document.querySelectorAll('#priority-form tr.signal-row').length == {before + 1}")
    rows.last.locator("input[name=sig_id]").fill("e2e_printer")
    rows.last.locator("select[name=sig_dimension]").select_option("urgency")  # the row comes back with urgency levels
    page.wait_for_function("(() => { const r = [...document.querySelectorAll('#priority-form tr.signal-row')].pop();"
                           " return [...r.querySelectorAll('select[name=sig_level] option')].map(o => o.value)"
                           ".join() == 'down,degraded'; })()")
    new_row = rows.last
    assert new_row.locator("input[name=sig_id]").input_value() == "e2e_printer"  # kept across the swap
    new_row.locator("select[name=sig_level]").select_option("degraded")
    page.locator("#priority-form button[type=submit]").click()
    page.wait_for_selector("#priority-error")
    err = page.locator("#priority-form .field-error[data-field^='sig_keywords.']")
    assert err.count() == 1 and err.inner_text() == "at least one keyword"
    new_row = page.locator("#priority-form tr.signal-row", has=page.locator("input[name=sig_id][value='e2e_printer']"))
    assert new_row.locator("select[name=sig_level]").input_value() == "degraded"
    new_row.locator("textarea[name=sig_keywords]").fill("打印机很慢\nprinter slow")
    page.locator("#priority-form button[type=submit]").click()
    page.wait_for_selector("#priority-saved")
    page.reload()
    saved = page.locator("#priority-form tr.signal-row", has=page.locator("input[name=sig_id][value='e2e_printer']"))
    assert saved.locator("textarea[name=sig_keywords]").input_value() == "打印机很慢, printer slow"
    assert saved.locator("select[name=sig_dimension]").input_value() == "urgency"
    assert page.locator("#priority-form input[name=sig_id][value='security_incident']").count() == 1
    saved.locator(".remove-row").click()  # leave the demo as it was
    page.locator("#priority-form button[type=submit]").click()
    page.wait_for_selector("#priority-saved")
    assert page.locator("#priority-form input[name=sig_id][value='e2e_printer']").count() == 0


def test_agent_sets_own_working_hours(live_server, new_page):
    page = new_page("zh-CN")
    login(page, live_server, "agent2@imdesk.example")
    page.goto(live_server + "/desk/agents")
    mine = page.locator("form.agent-form", has=page.locator("input[name=work_start]"))
    assert mine.count() == 1  # only the own row is editable
    form_id = mine.get_attribute("id")
    mine.locator("input[name=work_start]").fill("13:00")
    mine.locator("button[value=save]").click()
    page.wait_for_selector(f"#{form_id} .agent-error")
    assert "时间" in page.locator(f"#{form_id} .field-error[data-field=work_end]").inner_text()
    assert page.locator(f"#{form_id} input[name=work_start]").input_value() == "13:00"  # kept
    page.locator(f"#{form_id} input[name=work_end]").fill("22:00")
    page.locator(f"#{form_id} button[value=save]").click()
    page.wait_for_selector(f"#{form_id} .agent-saved")
    assert "13:00-22:00" in page.locator(f"#{form_id} .agent-status").inner_text()
    page.locator(f"#{form_id} input[name=work_start]").fill("")  # back to the calendar's hours
    page.locator(f"#{form_id} input[name=work_end]").fill("")
    page.locator(f"#{form_id} button[value=save]").click()
    page.wait_for_selector(f"#{form_id} .agent-status:has-text('09:00-18:00')")
