"""Browser: a customer submits a ticket → the engineer sees it triaged and assigned → proposes a
solution → the customer accepts and rates. A P0 outage is used so the on-call assignment works at
any hour of the day (P2/P3 tickets wait in the group queue outside working hours)."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_customer_to_agent_to_rating(live_server, new_page):
    title = f"全员无法登录 ERR_IM_1003 e2e-{int(time.time())}"
    customer = new_page("zh-CN")
    login(customer, live_server, "ops@huaxin.example")
    customer.goto(live_server + "/tickets/new")
    assert customer.locator("#ticket-form #kb-suggestions, #kb-suggestions").count() == 1
    customer.fill("#title", title)
    customer.fill("#description", "今天早上开始所有用户都无法登录，系统不可用 <script>alert(1)</script>")
    customer.click("#submit-ticket")
    customer.wait_for_url(re.compile(r".*/tickets/\d+$"))
    ticket_url = customer.url
    assert customer.locator("#ticket-title").inner_text() == title
    assert customer.locator("#ticket-priority").inner_text() == "P0"
    assert "<script>alert(1)</script>" in customer.locator(".description .pre").inner_text()  # shown as text

    agent = new_page("en-US")
    login(agent, live_server, "senior@imdesk.example")
    agent.goto(live_server + "/desk?queue=mine")
    row = agent.locator("#queue-table tr", has_text=title)
    assert row.count() == 1
    row.locator("a").first.click()
    agent.wait_for_url(ticket_url)
    assert agent.locator("#ticket-status").get_attribute("data-status") == "assigned"
    assert agent.locator("#ticket-group").get_attribute("data-group") == "auth"
    kinds = agent.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert {"created", "classified", "priority", "assigned"} <= set(kinds)
    agent.fill("#reply-body", "jwt_secret 在节点间不一致，已统一并重启。Please log in again.")
    agent.check("#kind-solution")
    agent.click("#reply-submit")
    agent.wait_for_selector("#ticket-status[data-status=solution_proposed]")

    customer.reload()
    customer.click("#accept-solution")
    customer.wait_for_selector("#ticket-status[data-status=resolved]")
    customer.check("#rate-form input[name=score][value='5']")
    customer.fill("#rate-form textarea[name=comment]", "处理很快，谢谢！")
    customer.click("#rate-submit")
    customer.wait_for_selector("#rating-stars")
    assert customer.locator("#rating-stars").inner_text() == "★★★★★"
    assert "时间线" in customer.content()
