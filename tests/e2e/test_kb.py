"""Browser: a Chinese knowledge-base search, the error-code page and the deflection panel of the
ticket form (demo data: the im_server articles are imported by `imdesk demo load`)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e


def test_chinese_search_with_highlight(live_server, new_page):
    page = new_page("zh-CN")
    login(page, live_server, "ops@huaxin.example")
    page.goto(live_server + "/kb")
    assert page.locator("h1").first.inner_text() == "知识库"
    page.fill("#kb-q", "苹果手机收不到推送")
    page.press("#kb-q", "Enter")
    page.wait_for_selector("#kb-results article.kb-hit")
    first = page.locator("#kb-results article.kb-hit").first
    assert first.get_attribute("data-slug") == "ios-push-not-received"
    assert first.locator("mark").count() > 0
    first.locator("h3 a").click()
    page.wait_for_load_state("networkidle")
    assert "/kb/articles/ios-push-not-received" in page.url
    assert "这篇文章有帮助吗？" in page.content()


def test_error_code_page_from_any_form(live_server, new_page):
    page = new_page("zh-CN")
    login(page, live_server, "ops@huaxin.example")
    page.goto(live_server + "/kb/error-codes")
    page.fill("input[name=code]", "err_im_1002")
    page.press("input[name=code]", "Enter")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/kb/error-codes/ERR_IM_1002")
    assert "权限不足" in page.locator("#code-title").inner_text()
    page.goto(live_server + "/kb/error-codes/1002")
    assert page.url.endswith("/kb/error-codes/ERR_IM_1002")
    assert page.locator("#code-meaning").inner_text()


def test_deflection_panel_suggests_while_typing(live_server, new_page):
    page = new_page("zh-CN")
    login(page, live_server, "ops@huaxin.example")
    page.goto(live_server + "/tickets/new")
    title = page.locator("#ticket-form [name=title]")
    title.click()
    title.press_sequentially("iOS 收不到推送", delay=30)
    link = page.locator("#kb-suggestions a[href^='/kb/go/']").first
    link.wait_for(timeout=10_000)
    href = link.get_attribute("href")
    assert "?s=" in href
    token = page.locator("#kb-suggestions input[name=kb_suggestion]").get_attribute("value")
    assert token and token in href
    # opening a suggestion, then saying it helped, is a self-service resolution
    article = page.context.new_page()
    article.goto(live_server + href)
    article.wait_for_selector("#kb-solved button")
    article.click("#kb-solved button")
    article.wait_for_selector("#kb-solved >> text=未创建工单")
