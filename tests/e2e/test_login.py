"""Browser: the demo agent sees the workspace; a customer sees the portal in Chinese."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_agent_logs_in_and_sees_workspace(live_server, new_page):
    page = new_page("en-US")
    login(page, live_server, "agent@imdesk.example")
    assert page.url.rstrip("/") == live_server
    assert page.locator("h1").first.inner_text() == "Agent workspace"
    assert page.locator("html").get_attribute("lang") == "en"


def test_customer_sees_portal_in_chinese(live_server, new_page):
    page = new_page("zh-CN")
    login(page, live_server, "ops@huaxin.example")
    assert page.locator("h1").first.inner_text() == "服务门户"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "退出登录" in page.content()


def test_wrong_password_stays_on_login(live_server, new_page):
    page = new_page("en-US")
    login(page, live_server, "agent@imdesk.example", "wrong-password")
    assert "/login" in page.url
    assert page.locator("[role=alert]").inner_text() == "Wrong e-mail or password."


def test_language_switch_and_logout(live_server, new_page):
    page = new_page("en-US")
    login(page, live_server, "it@northwind.example")
    assert page.locator("h1").first.inner_text() == "Support portal"
    page.click("button[name=locale]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text() == "服务门户"
    page.click("text=退出登录")
    page.wait_for_load_state("networkidle")
    assert "/login" in page.url
