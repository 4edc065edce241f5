"""In headless Chromium, against the UI process on the real gateway, registry and inference service: an
engineer browses a segment dataset (its items with their outlines filled, its mask area per class); an
operator opens a segment inspection in History (the outlines over the photo, the failed rule in words),
draws a missed outline with the mouse in the canvas's polygon mode and sends the correction: the gateway
keeps the model's outlines and the drawn one. The History part needs the gateway's segment stations
(branch h/segstation); without them it says so and stops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from linesight_ui.boxes import canvas_scale
from tests.integration.test_ui_browser_correction import (  # noqa: F401 - browser_page is a fixture
    browser_page,
    canvas_area,
    sign_in_with_key,
    ui_process,
)
from tests.integration.test_ui_pages import start_stack  # noqa: F401 - start_stack is a fixture
from tests.integration.test_ui_segment_datasets import segment_zip
from tests.integration.test_ui_segment_inspections import crack_photo
from tests.integration.test_ui_segment_stations import crack_inspection, upload_segment_model
from tests.support.browser import StreamlitPage
from tests.support.segment_data import SEGMENT_CLASSES

pytestmark = pytest.mark.integration

# The outline drawn, in canvas pixels (the 320x240 plate is shown at its own size).
TRIANGLE = [(30, 30), (90, 30), (60, 80)]


def shot(app: StreamlitPage, tmp_path: Path, name: str) -> Path:
    return app.screenshot(Path(os.environ.get("LINESIGHT_SCREENSHOT_DIR") or tmp_path) / f"{name}.png")


def test_segment_dataset_and_a_drawn_mask_correction_in_the_browser(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
    browser_page,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    stack = start_stack()
    assert stack.api.post(
        "/api/v1/datasets", json={"name": "plates", "task": "segment", "class_names": SEGMENT_CLASSES}
    ).is_success
    resp = stack.api.post(
        "/api/v1/datasets/plates/imports",
        files={"file": ("plates.zip", segment_zip(tmp_path / "zip", images=8), "application/zip")},
        data={"format": "yolo"},
    )
    assert resp.status_code == 200, resp.text
    page = browser_page
    with ui_process(stack, tmp_path / "ui.log") as url:
        app = StreamlitPage(page, url)
        sign_in_with_key(app, stack.keys["engineer"])
        app.go_to("Datasets")
        app.expect_text("Instances and mask area per class")
        page.get_by_text("Instances and mask area per class", exact=False).click()
        app.settle()
        app.assert_no_exception()
        pictures = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
        expect(pictures.first).to_be_visible()
        assert sum(p.evaluate("img => img.complete && img.naturalWidth > 0") for p in pictures.all()) == 8
        pictures.first.scroll_into_view_if_needed()
        shot(app, tmp_path, "datasets-segment")

        upload_segment_model(stack)
        roi = [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]]
        inspection, model_outlines = crack_inspection(stack, crack_photo(), roi)

        sign_in_with_key(app, stack.keys["operator"])
        app.go_to("History")
        app.expect_text(inspection["failed_rules"][0]["text"])
        app.assert_no_exception()
        page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first.scroll_into_view_if_needed()
        shot(app, tmp_path, "history-segment")

        page.get_by_text("Correct this answer", exact=True).click()
        app.settle()
        expect(page.locator("canvas.upper-canvas").first).to_be_visible()
        area = canvas_area(page)
        scale = canvas_scale(320, 240)
        assert (round(area["width"]), round(area["height"])) == (scale.canvas_width, scale.canvas_height)
        for x, y in [*TRIANGLE, TRIANGLE[0]]:  # the first point again closes the outline
            page.mouse.click(area["x"] + x, area["y"] + y)
            page.wait_for_timeout(250)
        app.settle()  # a closed polygon reaches the app
        app.expect_text(f"What is sent: {len(model_outlines) + 1} outlines")
        app.assert_no_exception()
        shot(app, tmp_path, "history-segment-correction")
        app.click("Send correction")
        app.expect_text("Correction saved")
        app.assert_no_exception()

    given = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert len(given["instances"]) == len(model_outlines) + 1
    drawn = given["instances"][-1]
    assert drawn["label"] == "crack"  # the class picked for the outlines drawn (the first)
    points = [c for point in drawn["polygon"] for c in point]
    expected = [c / scale.factor for point in TRIANGLE for c in point]
    assert points == pytest.approx(expected, abs=1.5)
