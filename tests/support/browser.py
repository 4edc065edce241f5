"""Headless Chromium for the browser tests: Playwright drives Debian's `chromium` (scripts/bootstrap.sh
installs it; Playwright never downloads a browser here), one fresh browser context per test, and the
waits and checks a Streamlit page needs.

In a test module (tests/e2e/conftest.py provides the fixtures):

    def test_home(ui_page, stack):
        app = StreamlitPage(ui_page, stack.urls["ui"])
        app.open()
        app.expect_text("LineSight")
        app.assert_no_exception()
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from linesight_devstack import Stack

CHROMIUM = Path(os.environ.get("LINESIGHT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Streamlit reruns the script after every widget change; a page counts as done when the app has said
# "not running" this many polls in a row (a click's rerun starts a moment after the click).
SETTLED_POLLS = 3
POLL_SECONDS = 0.2
DEFAULT_TIMEOUT_S = 60.0


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap.sh does, as root), "
            "or point LINESIGHT_CHROMIUM at a Chromium binary. Never `playwright install`."
        )


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the whole session; close it by leaving the block."""
    _require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_page(
    browser: Browser, timeout_s: float = DEFAULT_TIMEOUT_S, viewport: tuple[int, int] = (1400, 900)
) -> Iterator[Page]:
    """A page in a new browser context: no cookies, storage or Streamlit session from another test.
    (Streamlit scrolls inside its own main area, so a screenshot shows what the viewport holds.)"""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(timeout_s * 1000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


class StreamlitPage:
    """A Streamlit app in a Playwright page: open it, wait for each rerun to end, read and act on it."""

    def __init__(self, page: Page, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    # --- waiting -----------------------------------------------------------------------------------
    def open(self, path: str = "/") -> StreamlitPage:
        self.page.goto(self.base_url + path)
        self.page.locator('[data-testid="stApp"]').wait_for()
        return self.settle()

    def running(self) -> bool:
        state = self.page.evaluate(
            """() => {
                const app = document.querySelector('[data-testid="stApp"]');
                if (!app) return 'missing';
                return [app.getAttribute('data-test-script-state'),
                        app.getAttribute('data-test-connection-state')].join('/');
            }"""
        )
        if state != "notRunning/CONNECTED":
            return True
        return self.page.locator('[data-testid="stStatusWidget"] :text("Running")').count() > 0

    def settle(self) -> StreamlitPage:
        """Wait until the script has finished running (no running indicator), then check the page."""
        deadline = time.monotonic() + self.timeout_s
        quiet = 0
        while quiet < SETTLED_POLLS:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the Streamlit app at {self.page.url} kept running for {self.timeout_s} s"
                )
            quiet = 0 if self.running() else quiet + 1
            time.sleep(POLL_SECONDS)
        return self

    # --- reading -----------------------------------------------------------------------------------
    def exceptions(self) -> list[str]:
        return [e.inner_text() for e in self.page.locator('[data-testid="stException"]').all()]

    def assert_no_exception(self) -> None:
        found = self.exceptions()
        assert not found, f"the page shows a Python exception: {found[0][:2000]}"

    def expect_text(self, text: str) -> Locator:
        """The first element showing `text`, waited for (fails after the timeout)."""
        locator = self.page.get_by_text(text).first
        expect(locator).to_be_visible(timeout=self.timeout_s * 1000)
        return locator

    def main_text(self) -> str:
        return self.page.locator('[data-testid="stMain"]').inner_text()

    def sidebar_text(self) -> str:
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        return sidebar.inner_text() if sidebar.count() else ""

    def nav_labels(self) -> list[str]:
        """The page names in the sidebar navigation, in order."""
        links = self.page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
        return [label.strip() for label in links.all_inner_texts()]

    def errors(self) -> list[str]:
        """The text of every st.error box on the page."""
        return [e.inner_text() for e in self.page.locator('[data-testid="stAlertContentError"]').all()]

    # --- acting ------------------------------------------------------------------------------------
    def fill(self, label: str, value: str) -> StreamlitPage:
        field = self.page.get_by_label(label, exact=True)
        field.fill(value)
        return self

    def click(self, button: str) -> StreamlitPage:
        """Click the button with this label and wait for the rerun it starts."""
        self.page.get_by_role("button", name=button, exact=True).click()
        return self.settle()

    def go_to(self, page_name: str) -> StreamlitPage:
        """Follow the sidebar navigation link with this name."""
        self.page.locator('[data-testid="stSidebarNav"]').get_by_text(page_name, exact=True).click()
        return self.settle()

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path


def new_user(gateway: httpx.Client, role: str, prefix: str, display_name: str) -> tuple[str, str]:
    """A user of `role` made through the gateway's API (`gateway` calls as an admin): (username, password)."""
    username, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    made = gateway.post(
        "/api/v1/users",
        json={"username": username, "display_name": display_name, "role": role, "password": password},
    )
    assert made.status_code == 201, made.text
    return username, password


def sign_in(app: StreamlitPage, username: str, password: str) -> StreamlitPage:
    """Sign in with a password on the sign-in page; done once the home page shows."""
    app.fill("Username", username).fill("Password", password).click("Sign in")
    app.expect_text("Services ready")
    return app


@contextmanager
def signed_in(
    browser: Browser,
    stack: Stack,
    gateway: httpx.Client,
    role: str,
    *,
    prefix: str | None = None,
    display_name: str | None = None,
    go_to: str | None = None,
    viewport: tuple[int, int] = (1400, 900),
) -> Iterator[StreamlitPage]:
    """A new user of `role` (made through the API) signed in on a fresh page, on the page `go_to` when
    given (else the home page). The username starts with `prefix` (default: the role)."""
    username, password = new_user(gateway, role, prefix or role, display_name or role.title())
    with fresh_page(browser, viewport=viewport) as page:
        app = sign_in(StreamlitPage(page, stack.urls["ui"]).open(), username, password)
        if go_to is not None:
            app.go_to(go_to)
        yield app
