"""On the whole local stack, in headless Chromium: an admin (made through the gateway's API) signs in and,
on the Stations page, creates a classify station with a reference photo from a model the registry has;
the same name again is refused in the gateway's words with the typed name kept; a low-confidence
threshold above the success threshold is refused, then a threshold change is saved; after a few
inspections with operators' feedback the station's figures are charts. Then a detect station on a model
without a version yet (its expected item typed, with a count), deactivated, then deleted. Each step is
checked on the page and through GET /api/v1/stations."""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.support.browser import StreamlitPage, signed_in
from tests.support.onnx_models import yolo_onnx

MODEL = f"ui-check-{secrets.token_hex(3)}"  # the tiny classifier's classes: ok, scratch, dent
STATION = f"final-check-{secrets.token_hex(3)}"
DETECTOR = f"ui-bench-{secrets.token_hex(3)}"  # a detect model without a version yet


def photo(colour: tuple[int, int, int]) -> bytes:
    """A plain photo: the tiny classifier says `ok` for red, `scratch` for green."""
    out = io.BytesIO()
    Image.new("RGB", (96, 96), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def classifier(gateway, tmp_path_factory) -> str:
    """A classify model in production (tiny ONNX, made in milliseconds), as an engineer would upload it."""
    assert gateway.post("/api/v1/models", json={"name": MODEL, "task": "classify"}).status_code == 201
    onnx = yolo_onnx(tmp_path_factory.mktemp("models") / "cls.onnx", task="classify")
    with onnx.open("rb") as fh:
        up = gateway.post(f"/api/v1/models/{MODEL}/versions", files={"file": ("cls.onnx", fh)})
    assert up.status_code == 201, up.text
    promoted = gateway.put(f"/api/v1/models/{MODEL}/aliases/production", json={"version": 1})
    assert promoted.status_code == 200, promoted.text
    assert gateway.post("/api/v1/models", json={"name": DETECTOR, "task": "detect"}).status_code == 201
    return MODEL


@pytest.fixture(scope="module")
def app(browser, stack, gateway) -> Iterator[StreamlitPage]:
    """One signed-in admin's page for the module (a tall window: the screenshot shows the charts)."""
    with signed_in(
        browser,
        stack,
        gateway,
        "admin",
        prefix="stations",
        display_name="Station Admin",
        viewport=(1400, 1500),
    ) as app:
        yield app


def stations_named(gateway, name: str) -> list[dict]:
    return [
        s for s in gateway.get("/api/v1/stations", params={"q": name}).json()["items"] if s["name"] == name
    ]


def choose(app: StreamlitPage, label: str, option: str) -> None:
    """Pick `option` in the selectbox or multiselect labelled `label`."""
    app.page.get_by_label(label, exact=True).click()
    app.page.get_by_role("option", name=option, exact=True).click()
    app.page.keyboard.press("Escape")  # a multiselect stays open
    app.settle()


def view(app: StreamlitPage, name: str) -> None:
    """The page's view picker (a radio), not the navigation link or the title of the same name."""
    app.page.locator('[data-testid="stRadio"]').get_by_text(name, exact=True).click()
    app.settle()


def type_number(app: StreamlitPage, label: str, value: str) -> None:
    field = app.page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")  # a number input takes the value on Enter (or when it loses focus)
    app.settle()


def type_option(app: StreamlitPage, label: str, text: str) -> None:
    """Add `text` to the multiselect labelled `label` as a new option (it takes typed ones)."""
    box = app.page.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(text)
    box.press("Enter")
    app.page.keyboard.press("Escape")
    app.settle()


def new_station_form(app: StreamlitPage, *, with_photo: bool) -> None:
    view(app, "New station")
    app.fill("Name", STATION)
    app.page.get_by_label("Name", exact=True).press("Tab")
    app.settle()
    choose(app, "Model", f"{MODEL} (classify)")
    choose(app, "OK classes", "ok")
    if with_photo:
        uploader = app.page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.set_input_files(
            files=[{"name": "ref.png", "mimeType": "image/png", "buffer": photo((200, 30, 30))}]
        )
        app.settle()


def shot(app: StreamlitPage, tmp_path: Path, name: str) -> Path:
    """A screenshot, in LINESIGHT_SCREENSHOT_DIR when set (to look at), else the test's folder."""
    return app.screenshot(Path(os.environ.get("LINESIGHT_SCREENSHOT_DIR") or tmp_path) / f"{name}.png")


def test_an_admin_creates_edits_and_watches_a_station(app, gateway, classifier, tmp_path):
    app.go_to("Stations")
    app.assert_no_exception()

    # create, with a reference photo
    new_station_form(app, with_photo=True)
    app.click("Create the station")
    app.expect_text(f"Station {STATION} created, with its reference photo.")
    app.assert_no_exception()
    [made] = stations_named(gateway, STATION)
    assert made["mode"] == "classify" and made["model_name"] == MODEL and made["model_alias"] == "production"
    assert made["ok_classes"] == ["ok"] and made["has_reference_image"] and made["active"]
    assert made["thresholds"] == {"success": 0.7, "low_confidence": 0.5}

    # the same name again: the gateway's refusal in words, the typed name kept
    new_station_form(app, with_photo=False)
    app.click("Create the station")
    app.expect_text(f"A station named '{STATION}' exists already.")
    assert app.page.get_by_label("Name", exact=True).input_value() == STATION
    assert len(stations_named(gateway, STATION)) == 1
    app.assert_no_exception()

    # listed; its reference photo shown
    view(app, "Stations")
    choose(app, "Station", STATION)
    assert f"active · classify · {MODEL}@production · OK: ok" in app.main_text()
    app.page.get_by_role("tab", name="Reference photo").click()
    app.settle()
    assert app.page.locator('[data-testid="stImage"] img').count() == 1

    # a low-confidence threshold above the success threshold is refused, and stays in its field
    app.page.get_by_role("tab", name="Settings").click()
    app.settle()
    type_number(app, "Low-confidence threshold", "0.9")
    app.click("Save changes")
    app.expect_text("low_confidence must not be above success")
    shot(app, tmp_path, "stations-refused")
    assert app.page.get_by_label("Low-confidence threshold", exact=True).input_value() == "0.90"
    assert stations_named(gateway, STATION)[0]["thresholds"] == {"success": 0.7, "low_confidence": 0.5}
    # raised above it, the change is saved
    type_number(app, "Success threshold", "0.95")
    app.click("Save changes")
    app.expect_text(f"Station {STATION} saved: thresholds.")
    app.assert_no_exception()
    assert stations_named(gateway, STATION)[0]["thresholds"] == {"success": 0.95, "low_confidence": 0.9}

    # inspections and feedback through the API; the figures show them as charts
    for n, colour in enumerate([(220, 20, 20), (220, 20, 20), (20, 220, 20)]):
        done = gateway.post(
            "/api/v1/inspections",
            data={"station_id": made["id"]},
            files={"image": ("p.png", photo(colour), "image/png")},
        )
        assert done.status_code == 201, done.text
        right = n != 1  # the operator says the second answer was wrong
        body = (
            {"correct": True}
            if right
            else {"correct": False, "corrected_verdict": "NOK", "corrected_class": "dent"}
        )
        assert gateway.post(f"/api/v1/inspections/{done.json()['id']}/feedback", json=body).status_code in (
            200,
            201,
        )
    app.page.get_by_role("tab", name="Figures").click()
    app.settle()
    app.expect_text("Inspections per day")
    app.expect_text("Accuracy from feedback, per model version")
    assert app.page.locator('[data-testid="stVegaLiteChart"]').count() >= 3
    assert "33.3%" in app.main_text()  # the NOK rate: one of the three photos is green
    app.assert_no_exception()
    assert not app.errors(), app.errors()
    shot(app, tmp_path, "stations")

    # a detect station whose model has no version yet: the item typed, with its count; deactivated
    bench = f"{STATION}-bench"
    view(app, "New station")
    app.fill("Name", bench)
    app.page.get_by_label("Name", exact=True).press("Tab")
    app.settle()
    choose(app, "Model", f"{DETECTOR} (detect)")
    type_option(app, "Expected items", "wrench")
    type_number(app, "wrench: at least", "2")
    app.click("Create the station")
    app.expect_text(f"Station {bench} created.")
    [detect] = stations_named(gateway, bench)
    assert detect["mode"] == "detect" and detect["expected_items"] == [{"label": "wrench", "min_count": 2}]
    app.page.get_by_role("tab", name="Deactivate or delete").click()
    app.settle()
    app.click("Deactivate the station")
    app.expect_text(f"Station {bench} is deactivated.")
    app.assert_no_exception()
    assert stations_named(gateway, bench)[0]["active"] is False
    # it has no inspections, so it can go for good
    app.page.get_by_text(f"Yes, delete {bench} for good", exact=True).click()
    app.settle()
    app.click("Delete the station")
    app.expect_text(f"Station {bench} is deleted.")
    app.assert_no_exception()
    assert stations_named(gateway, bench) == []
