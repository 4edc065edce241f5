"""The UI in headless Chromium against the whole local stack: nothing but the sign-in page until a
person signs in; each role (users made through the gateway's API) sees the pages and buttons
docs/roles.md lets it use, with its name and role in the sidebar; a wrong password says so; signing out
ends the session at the gateway and returns to the sign-in page."""

from __future__ import annotations

import secrets

import httpx
import pytest

from linesight_devstack import Stack
from linesight_ui.navigation import page_files, page_title
from tests.support.browser import StreamlitPage

ROLES = ("viewer", "operator", "engineer", "admin")
# docs/roles.md: a viewer may not inspect (POST /api/v1/inspections), edit stations or administer, but
# may look at label reads (GET /api/v1/labels: the Labels page without its review form); an operator
# may inspect; the pages only admins use are for admins.
NOT_FOR = {
    "viewer": {"Inspect", "Datasets", "Stations", "Admin"},
    "operator": {"Datasets", "Stations", "Admin"},
    "engineer": {"Stations", "Admin"},
    "admin": set(),
}
EVERY_ROLE_SEES = {"Home", "History", "Training", "Models", "Labels"}


@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, tuple[str, str]]:
    """A user of each role, made through the gateway's API: role -> (username, password)."""
    admin = {"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]}
    made = {}
    for role in ROLES:
        username, password = f"{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        resp = httpx.post(
            f"{stack.urls['gateway']}/api/v1/users",
            headers=admin,
            json={
                "username": username,
                "display_name": f"{role.title()} Person",
                "role": role,
                "password": password,
            },
            timeout=30,
        )
        assert resp.status_code == 201, resp.text
        made[role] = (username, password)
    return made


def sign_in(app: StreamlitPage, username: str, password: str) -> StreamlitPage:
    app.fill("Username", username).fill("Password", password)
    return app.click("Sign in")


def on_sign_in_page(app: StreamlitPage) -> bool:
    return app.page.get_by_label("Username", exact=True).count() == 1 and not app.nav_labels()


def test_nothing_but_the_sign_in_page_until_signed_in(ui_page, stack):
    app = StreamlitPage(ui_page, stack.urls["ui"]).open()
    assert on_sign_in_page(app)
    app.assert_no_exception()
    for path in ("/Models", "/Inspect"):  # a page's address does not get past the sign-in either
        app.open(path)
        assert on_sign_in_page(app), path
        assert "Promote" not in app.main_text() and "Station" not in app.main_text()


def test_a_wrong_password_says_so_and_keeps_the_username(ui_page, stack, people):
    username, _ = people["viewer"]
    app = StreamlitPage(ui_page, stack.urls["ui"]).open()
    sign_in(app, username, "not the password")
    app.expect_text("The username or password is wrong.")
    assert on_sign_in_page(app)
    assert app.page.get_by_label("Username", exact=True).input_value() == username
    app.assert_no_exception()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_pages_and_signs_out(ui_page, stack, people, role):
    username, password = people[role]
    app = StreamlitPage(ui_page, stack.urls["ui"]).open()
    sign_in(app, username, password)
    app.expect_text("Services ready")  # the home page
    app.assert_no_exception()

    shown = app.nav_labels()
    existing = {page_title(p) for p in page_files()}
    assert EVERY_ROLE_SEES <= set(shown), shown
    assert not NOT_FOR[role] & set(shown), f"{role} sees {NOT_FOR[role] & set(shown)}"
    assert set(shown) == existing - NOT_FOR[role], shown  # every other page is there
    sidebar = app.sidebar_text()
    assert f"{role.title()} Person" in sidebar and role in sidebar

    for name in shown:
        app.go_to(name)
        app.assert_no_exception()
    app.go_to("Training")
    app.page.get_by_role("tab", name="New run").click()
    app.settle()
    note = "you need the engineer role"
    assert (note in app.main_text()) == (role in ("viewer", "operator")), app.main_text()[:500]

    app.click("Sign out")
    assert on_sign_in_page(app)
    app.expect_text("You are signed out.")
    admin = {"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]}
    ended = httpx.get(
        f"{stack.urls['gateway']}/api/v1/audit", params={"action": "user.logout"}, headers=admin, timeout=10
    ).json()["items"]
    assert username in [e["actor_name"] for e in ended]  # the session ended at the gateway too


def operator_to_end(stack: Stack, prefix: str) -> tuple[dict, str, str]:
    """An operator (made through the API) whose session a test ends: (the user, username, password)."""
    username, password = f"{prefix}-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    user = httpx.post(
        f"{stack.urls['gateway']}/api/v1/users",
        headers={"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]},
        json={"username": username, "role": "operator", "password": password},
        timeout=30,
    )
    assert user.status_code == 201, user.text
    return user.json(), username, password


def test_a_session_ended_by_an_admin_returns_to_the_sign_in_page(ui_page, stack, people):
    admin = {"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]}
    user, username, password = operator_to_end(stack, "temp")
    app = StreamlitPage(ui_page, stack.urls["ui"]).open()
    sign_in(app, username, password)
    app.expect_text("Services ready")
    reset = httpx.patch(
        f"{stack.urls['gateway']}/api/v1/users/{user['id']}",
        headers=admin,
        json={"active": False},
        timeout=30,
    )
    assert reset.status_code == 200
    app.go_to("History")
    app.expect_text("Signed out: The session was ended")
    assert on_sign_in_page(app)
    app.assert_no_exception()


def test_what_was_entered_when_the_session_ended_is_back_after_signing_in_again(ui_page, stack):
    """The gateway ends the session (an admin resets the password) while an operator is filling in the
    Labels page: the next step shows the sign-in page with the reason, and signing in again (the same
    person) brings back the page with what they had entered and chosen on it."""
    admin = {"X-API-Key": stack.env["LINESIGHT_ADMIN_API_KEY"]}
    user, username, password = operator_to_end(stack, "keep")
    app = StreamlitPage(ui_page, stack.urls["ui"]).open()
    sign_in(app, username, password)
    app.go_to("Labels")
    app.page.get_by_text("Read a label", exact=True).click()
    app.settle()
    app.fill("Context (optional)", "pallet 7, night shift")
    app.page.keyboard.press("Enter")
    app.settle()
    new_password = secrets.token_urlsafe(12)
    reset = httpx.patch(
        f"{stack.urls['gateway']}/api/v1/users/{user['id']}",
        headers=admin,
        json={"password": new_password},
        timeout=30,
    )
    assert reset.status_code == 200  # a new password ends the user's sessions
    app.page.get_by_text("File", exact=True).click()  # a rerun: the page asks the gateway again
    app.settle()
    app.expect_text("Signed out:")
    assert on_sign_in_page(app)
    sign_in(app, username, new_password)
    app.assert_no_exception()
    assert "Labels" in app.nav_labels()
    app.expect_text("Upload a label photo")  # the page, the view and the photo source they had chosen
    assert app.page.get_by_label("Context (optional)", exact=True).input_value() == "pallet 7, night shift"
    app.assert_no_exception()
