"""Promotion with evidence on the Models screen, on the whole local stack in headless Chromium: a station
has verified history and a promotion gate; an engineer (signed in with a password) replays a candidate
that finds nothing, sees it worse than production in figures and drawn disagreements, and the promotion
is refused with the figures in words, with no override offered; an admin overrides it with a reason, and
the audit log (read through the API) keeps the reason."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from linesight_devstack import Stack
from tests.support.browser import StreamlitPage, signed_in
from tests.support.verified_history import History, blind_version, verified_station

SCREENSHOT = Path(os.environ.get("LINESIGHT_PROMOTION_SCREENSHOT", "/tmp/promotion.png"))
MODEL = f"evidence-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def history(gateway: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> History:
    """Seven verified benches at a gated station; v2 of the model finds nothing."""
    folder = tmp_path_factory.mktemp("evidence")
    made = verified_station(gateway, folder, MODEL, f"{MODEL}-bench")
    gate = gateway.put(f"/api/v1/stations/{made.station_id}/promotion-gate", json={"min_verified": 7})
    assert gate.status_code == 200, gate.text
    assert blind_version(gateway, folder, MODEL) == 2
    return made


@contextmanager
def on_models(browser: Browser, stack: Stack, gateway: httpx.Client, role: str) -> Iterator[StreamlitPage]:
    """A new user of `role` signed in, on the Models page with the model picked."""
    with signed_in(browser, stack, gateway, role, go_to="Models", viewport=(1400, 1400)) as app:
        choose(app, "Model", MODEL)
        app.assert_no_exception()
        yield app


def choose(app: StreamlitPage, label: str, option: str) -> None:
    box = app.page.get_by_label(label, exact=True)
    box.scroll_into_view_if_needed()
    box.click()
    app.page.get_by_role("option", name=option, exact=True).click()
    app.settle()


def ask_to_promote(app: StreamlitPage, reason: str) -> None:
    app.fill("Reason", reason)
    app.page.get_by_text(
        f"Yes: every station that uses {MODEL}@production switches to v2.", exact=True
    ).click()
    app.settle()
    app.click("Promote v2 to production")
    app.assert_no_exception()


def test_an_engineer_sees_a_worse_replay_refused_and_an_admin_overrides(browser, stack, gateway, history):
    with on_models(browser, stack, gateway, "engineer") as app:
        engineer_sees_the_replay_and_the_refusal(app, gateway, history)
    with on_models(browser, stack, gateway, "admin") as admin:
        admin_overrides(admin)
    assert gateway.get(f"/api/v1/models/{MODEL}/aliases").json()[0]["version"] == 2
    events = gateway.get("/api/v1/audit", params={"action": "model.promotion_gate_override"}).json()["items"]
    [event] = [e for e in events if e["object_id"] == MODEL]
    assert event["details"]["override_reason"] == "camera moved; old history is unfair"
    assert event["details"]["gate"]["failed_rules"] == ["verdict_accuracy"]


def engineer_sees_the_replay_and_the_refusal(
    app: StreamlitPage, gateway: httpx.Client, history: History
) -> None:
    app.expect_text(f"{MODEL} is gated")
    app.expect_text(f"v2 has no replay at {history.station} yet")
    app.click("Start replay")
    app.expect_text("7 verified inspections replayed, 0 skipped")
    # the report is drawn in the run after the replay's end: its photos come last
    app.expect_text("v2 (replayed): NOK · nothing found")
    app.settle().assert_no_exception()
    figures = app.page.locator('[data-testid="stTable"]').first.inner_text()
    assert "verdict accuracy" in figures and "57.1%" in figures and "71.4%" in figures, figures
    drawn = app.page.locator('[data-testid="stImage"]')
    assert drawn.count() >= 2  # each disagreement drawn with the candidate's and production's answer
    app.screenshot(SCREENSHOT.with_name("promotion-replay.png"))

    ask_to_promote(app, "the new one looks fine")
    [refusal] = app.errors()
    assert f"The promotion gate refused to move {MODEL}@production to v2" in refusal, refusal
    assert "verdict accuracy 0.5714 is below production v1's 0.7143" in refusal, refusal
    assert "Traceback" not in refusal
    assert app.page.get_by_label("Override reason (admins; recorded in the audit log)").count() == 0
    app.screenshot(SCREENSHOT.with_name("promotion-refused.png"))
    assert gateway.get(f"/api/v1/models/{MODEL}/aliases").json()[0]["version"] == 1


def admin_overrides(admin: StreamlitPage) -> None:
    ask_to_promote(admin, "the line needs v2 today")
    admin.expect_text("The promotion gate refused")
    override = admin.page.get_by_role("button", name="Override the gate and promote v2", exact=True)
    assert override.is_disabled()  # not without a reason
    admin.fill("Override reason (admins; recorded in the audit log)", "camera moved; old history is unfair")
    admin.page.keyboard.press("Enter")
    admin.settle()
    admin.click("Override the gate and promote v2")
    admin.assert_no_exception()
    admin.expect_text(f"{MODEL}@production is now v2 (was v1).")
