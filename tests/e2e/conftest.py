"""Browser tests: a real `imdesk serve` on a free loopback port (SQLite in a temp dir, demo data),
driven by Playwright for Python with Debian's /usr/bin/chromium (never a downloaded browser).

Without chromium the tests are skipped locally; CI sets IMDESK_REQUIRE_BROWSER=1 and then a
missing browser is a failure."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
DEMO_PASSWORD = "imdesk-demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_env(live_server) -> dict[str, str]:
    """The environment of the running server (to run `imdesk` commands against its database)."""
    return live_server.env


class LiveServer(str):
    """The base URL (a str, so tests can write ``live_server + "/login"``) plus the server's env."""

    env: dict[str, str]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Base URL of a running imdesk with demo data."""
    root = tmp_path_factory.mktemp("live")
    env = {**os.environ, "IMDESK_DATABASE_URL": f"sqlite:///{root / 'imdesk.db'}", "IMDESK_DATA_DIR": str(root),
           "IMDESK_ENV": "development", "IMDESK_LOG_LEVEL": "WARNING", "IMDESK_CONFIG_FILE": str(root / "none.toml")}
    imdesk = [sys.executable, "-m", "imdesk.cli"]
    subprocess.run(imdesk + ["demo", "load"], env=env, check=True, capture_output=True, cwd=root)
    port = _free_port()
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(imdesk + ["serve", "--port", str(port)], env=env, cwd=root, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("imdesk serve exited: " + (root / "server.log").read_text(errors="replace")[-2000:])
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("imdesk serve did not become healthy in 60 s")
    live = LiveServer(base)
    live.env = env
    yield live
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if os.environ.get("IMDESK_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (IMDESK_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing")
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    """A fresh browser context per test; ``new_page(locale="zh-CN")``."""
    contexts = []

    def make(locale: str = "en-US"):
        ctx = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale})
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for c in contexts:
        c.close()


def login(page, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state("networkidle")
