"""The Admin page in headless Chromium on the whole local stack, as an admin signed in with a password
(one page for the module): an API key made on the page is shown once and works, then revoked on the
page it gets 401; a user made on the page can sign in, a taken username and a short password are
refused in words with the form kept, a password reset and a deactivation end the user's sessions; the
audit log, filtered by action, shows each of these changes.
Each step is checked on the page and through the gateway's API."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from linesight_devstack import Stack
from tests.support.browser import StreamlitPage, signed_in

SCREENSHOT = Path(os.environ.get("LINESIGHT_ADMIN_SCREENSHOT", "/tmp/admin.png"))


@pytest.fixture(scope="module")
def admin_app(stack: Stack, gateway: httpx.Client, browser: Browser) -> Iterator[StreamlitPage]:
    """An admin made through the gateway's API, signed in once for the module, on the Admin page."""
    with signed_in(browser, stack, gateway, "admin", display_name="Ada Admin", go_to="Admin") as app:
        app.assert_no_exception()
        yield app


def sign_in(stack: Stack, username: str, password: str) -> str:
    """A session token of the user, through the gateway's API."""
    login = httpx.post(
        f"{stack.urls['gateway']}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    return str(login.json()["token"])


def view(app: StreamlitPage, name: str) -> None:
    app.page.locator('[data-testid="stRadio"]').get_by_text(name, exact=True).click()
    app.settle()
    app.assert_no_exception()


def pick(app: StreamlitPage, label: str, option: str) -> None:
    box = app.page.get_by_label(label, exact=True)
    # at the foot of Streamlit's scrolled main area a click focuses the box without opening its list
    box.scroll_into_view_if_needed()
    box.click()
    app.page.get_by_role("option", name=option, exact=True).click()
    app.settle()


def audit_shows(app: StreamlitPage, action: str, *texts: str) -> None:
    """The audit log filtered by `action` shows a row with each of `texts`."""
    view(app, "Audit log")
    pick(app, "Action", action)
    table = app.page.locator('[data-testid="stTable"]')
    for text in texts:
        app.expect_text(text)
    assert table.count() == 1
    shown = table.inner_text()
    assert action in shown and all(t in shown for t in texts), shown[:2000]


def test_an_api_key_made_on_the_page_works_once_shown_and_is_revoked(admin_app, stack, gateway):
    app, me = admin_app, f"{stack.urls['gateway']}/api/v1/me"
    name = f"tablet-{secrets.token_hex(3)}"
    view(app, "API keys")
    app.fill("Key name", name)
    app.click("Create key")
    app.assert_no_exception()
    app.expect_text("this is the only time it is shown")
    key = app.page.locator('[data-testid="stCode"]').inner_text().strip()
    assert key.startswith("lsk_"), key
    who = httpx.get(me, headers={"X-API-Key": key}, timeout=30)
    assert who.status_code == 200, who.text
    assert (who.json()["name"], who.json()["role"], who.json()["kind"]) == (name, "operator", "api_key")
    app.screenshot(SCREENSHOT.with_name("admin-key.png"))

    app.click("I have copied the key")
    assert key not in app.main_text()  # shown once: gone once copied
    [made] = [k for k in gateway.get("/api/v1/api-keys").json()["items"] if k["name"] == name]

    pick(app, "Key to revoke", f"{name} · {made['prefix']} · operator")
    app.expect_text("Whatever uses it gets 401 from now on")
    revoke = app.page.get_by_role("button", name="Revoke key", exact=True)
    assert revoke.is_disabled()  # not before the confirmation
    app.page.get_by_text(f"Yes, revoke {name} ({made['prefix']})", exact=True).click()
    app.settle()
    app.click("Revoke key")
    app.assert_no_exception()
    app.expect_text(f"The API key {name} ({made['prefix']}) is revoked")
    gone = httpx.get(me, headers={"X-API-Key": key}, timeout=30)
    assert gone.status_code == 401, gone.text
    assert name not in [k["name"] for k in gateway.get("/api/v1/api-keys").json()["items"]]

    audit_shows(app, "api_key.revoke", name)
    audit_shows(app, "api_key.create", name, made["prefix"])


def test_a_user_made_on_the_page_signs_in_and_bad_input_is_refused_in_words(admin_app, stack, gateway):
    app = admin_app
    username, password = f"mara-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    view(app, "Users")
    app.fill("Username", username).fill("Display name", "Mara Lindqvist")
    pick(app, "Role", "engineer")
    app.fill("Password", password).fill("Repeat the password", password)
    app.click("Create user")
    app.assert_no_exception()
    app.expect_text(f"The user {username} (engineer) is made")
    [user] = [u for u in gateway.get("/api/v1/users").json()["items"] if u["username"] == username]
    assert (user["display_name"], user["role"], user["active"]) == ("Mara Lindqvist", "engineer", True)
    token, me = sign_in(stack, username, password), f"{stack.urls['gateway']}/api/v1/me"

    # the same username again: the gateway's 409 in words, the form as typed
    app.fill("Username", username).fill("Display name", "Someone Else")
    app.fill("Password", password).fill("Repeat the password", password)
    app.click("Create user")
    app.assert_no_exception()
    app.expect_text(f"The username '{username}' is taken; pick another.")
    assert app.page.get_by_label("Username", exact=True).input_value() == username
    assert app.page.get_by_label("Display name", exact=True).input_value() == "Someone Else"
    app.screenshot(SCREENSHOT.with_name("admin-users.png"))
    # a short password: the gateway's 422 in words
    app.fill("Username", f"{username}-2").fill("Password", "short").fill("Repeat the password", "short")
    app.click("Create user")
    app.expect_text("at least 8 characters")
    assert app.page.get_by_label("Username", exact=True).input_value() == f"{username}-2"
    names = [
        u["username"] for u in gateway.get("/api/v1/users", params={"include_inactive": True}).json()["items"]
    ]
    assert names.count(username) == 1 and f"{username}-2" not in names

    # a password reset ends the session the user had; they sign in with the new password
    pick(app, "User to change", f"{username} (Mara Lindqvist) · engineer")
    new_password = secrets.token_urlsafe(12)
    app.fill("New password", new_password).fill("Repeat the new password", new_password)
    app.click("Reset password")
    app.assert_no_exception()
    app.expect_text(f"The password of {username} is reset")
    assert httpx.get(me, headers={"X-API-Key": token}, timeout=30).status_code == 401
    token = sign_in(stack, username, new_password)
    # a lower role and deactivated: the new session ends too
    pick(app, "Change role", "operator")
    app.page.get_by_text("Active (may sign in)", exact=True).click()
    app.click("Save changes")
    app.assert_no_exception()
    app.expect_text(f"The user {username} is changed: role, active. Their sessions are ended.")
    after = gateway.get(f"/api/v1/users/{user['id']}").json()
    assert (after["role"], after["active"]) == ("operator", False)
    assert httpx.get(me, headers={"X-API-Key": token}, timeout=30).status_code == 401

    audit_shows(app, "user.create", username)
    audit_shows(app, "user.update", username, "password_reset=true", "active=false")
    app.screenshot(SCREENSHOT)
