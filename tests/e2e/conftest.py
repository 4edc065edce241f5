"""The whole local stack, started once for the e2e session: every service and its infrastructure as local
processes on a free port base, data in a temporary folder, Prometheus scraping every 2 s; and headless
Chromium for the browser tests (tests/support/browser.py): one browser per session, a fresh context
(no cookies, no Streamlit session) per test."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from linesight_devstack import Stack, free_port_base
from tests.conftest import shared_tmp_dir
from tests.support.browser import chromium, fresh_page


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    data_dir = shared_tmp_dir("linesight-e2e-")
    # Only the stack's own settings: a LINESIGHT_DATABASE_URL in the caller's environment would make the
    # stack use that database instead of its own, and the outage test stops the stack's own Postgres.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINESIGHT_")}
    stack = Stack(
        data_dir,
        free_port_base(),
        scrape_interval="2s",
        durable=False,
        environ=environ,
        ready_timeout=240,
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if request.session.testsfailed:
            print(f"\ne2e: the stack's logs are kept in {data_dir / 'logs'}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """The gateway's API as the stack's admin (its API key)."""
    headers = {"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]}
    with httpx.Client(base_url=stack.urls["gateway"], headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API keeps an event loop running in the main thread
    # while it is started, and every later test calling asyncio.run() would fail beside it.
    with chromium() as browser:
        yield browser


@pytest.fixture
def ui_page(browser: Browser) -> Iterator[Page]:
    with fresh_page(browser) as page:
        yield page
