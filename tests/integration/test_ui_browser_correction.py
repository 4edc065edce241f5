"""In headless Chromium, against the UI process (`python -m linesight_ui`) on the real gateway, registry
and inference service: an operator signs in with a personal API key, inspects a photo, says the answer
was wrong, deletes a false box, draws a missed one with the mouse, and sends it for training; the dataset
item has those boxes."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from linesight_ui.boxes import MAX_CANVAS_WIDTH
from tests.integration.test_ui_pages import Stack, start_stack  # noqa: F401 - start_stack is a fixture
from tests.support.browser import StreamlitPage, chromium, fresh_page
from tests.support.servers import free_port
from tests.support.synthetic import CLASSES, draw_scene, jpeg

pytestmark = pytest.mark.integration

ROW_HEIGHT = 35  # of Streamlit's data editor, the header row included
PHOTO_SIZE = (1280, 960)  # shown at 800x600: the canvas works at a display scale of 0.625


@contextlib.contextmanager
def ui_process(stack: Stack, logs: Path) -> Iterator[str]:
    """`python -m linesight_ui` on free ports, on the stack's gateway; yields the app's URL (the UI holds
    no credential: a person signs in)."""
    port, ops_port = free_port(), free_port()
    env = os.environ | {
        "LINESIGHT_GATEWAY_URL": stack.url,
        "LINESIGHT_HOST": "127.0.0.1",
        "LINESIGHT_PORT": str(port),
        "LINESIGHT_OPS_PORT": str(ops_port),
    }
    with open(logs, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "linesight_ui"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, logs.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, logs.read_text()
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser_page() -> Iterator[Page]:
    with chromium() as browser, fresh_page(browser) as page:
        yield page


def sign_in_with_key(app: StreamlitPage, key: str) -> None:
    """Sign in on the sign-in page with a personal API key, as an operator given one would."""
    app.open()
    app.page.get_by_role("tab", name="Personal API key").click()
    # the tab's panel is labelled like the field: the field is the textbox
    app.page.get_by_role("textbox", name="Personal API key").fill(key)
    app.click("Sign in with the key")
    app.expect_text("Services ready")  # the home page
    app.assert_no_exception()


def shot(app: StreamlitPage, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, in LINESIGHT_SCREENSHOT_DIR when set (to look at), else the test's folder."""
    app.screenshot(Path(os.environ.get("LINESIGHT_SCREENSHOT_DIR") or tmp_path) / f"{name}.png")


def canvas_area(page: Page) -> dict:
    """Where the drawing canvas is in the viewport now (scrolled into view first)."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.scroll_into_view_if_needed()
    canvas.hover()  # shows the canvas's toolbar
    area = canvas.bounding_box()
    assert area is not None
    return area


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag on the canvas, from and to canvas pixels."""
    box = canvas_area(page)
    page.mouse.move(box["x"] + start[0], box["y"] + start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0], box["y"] + end[1], steps=8)
    page.mouse.up()


def edit_cell(app: StreamlitPage, *, row: int, column: int, text: str) -> None:
    """Type `text` into the box table's cell (`column` 0 is the class), with the keyboard as a person
    would: the grid is drawn on a canvas, so its first cell is clicked and the arrows lead from there.
    The grid's accessible copy of the cell says whether it took (a keystroke may come too early on a
    busy machine: then it is typed again)."""
    page = app.page
    grid = page.locator("[data-testid=stDataFrame]").last
    cell = grid.locator(f"[data-testid=glide-cell-{column + 1}-{row}]")
    for _ in range(3):
        grid.scroll_into_view_if_needed()
        area = grid.bounding_box()
        assert area is not None
        page.mouse.click(area["x"] + 80, area["y"] + ROW_HEIGHT * 1.5)  # below the header: class, row 0
        page.wait_for_timeout(300)
        for key, times in (("ArrowRight", column), ("ArrowDown", row)):
            for _ in range(times):
                page.keyboard.press(key)
        page.keyboard.press("Enter")  # opens the cell's editor
        page.wait_for_timeout(500)
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        app.settle()  # the edit reaches the app
        if cell.inner_text().strip() in (text, f"{float(text):.1f}"):
            return
    raise AssertionError(f"the table's cell ({row}, {column}) says {cell.inner_text()!r}, not {text!r}")


def wait_for_item(stack: Stack, inspection_id: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        feedback = stack.api.get(f"/api/v1/inspections/{inspection_id}/feedback").json()
        link = feedback.get("dataset") or {}
        if link.get("synced") and link.get("item_id"):
            return stack.api.get(f"/api/v1/datasets/{link['dataset']}/items/{link['item_id']}").json()
        assert time.monotonic() < deadline, feedback
        time.sleep(0.3)


def test_an_operator_corrects_a_detection_with_drawn_boxes_and_it_becomes_a_dataset_item(
    start_stack,  # noqa: F811 - the fixture imported above
    browser_page,
    monkeypatch,
    tmp_path,
):
    monkeypatch.setenv("LINESIGHT_DATASET_SYNC_INTERVAL_SECONDS", "0.3")
    stack = start_stack()
    stack.detect_station()
    scene, _ = draw_scene(random.Random(3), present=[0, 2])  # wrench and tape, no screwdriver
    photo = tmp_path / "bench.jpg"
    photo.write_bytes(jpeg(scene.resize(PHOTO_SIZE)))
    factor = MAX_CANVAS_WIDTH / PHOTO_SIZE[0]
    page = browser_page

    with ui_process(stack, tmp_path / "ui.log") as url:
        app = StreamlitPage(page, url)
        sign_in_with_key(app, stack.keys["operator"])
        app.go_to("Inspect")
        page.get_by_text("File", exact=True).click()
        app.settle()
        page.locator("input[type=file]").set_input_files(str(photo))
        app.settle()
        app.click("Inspect")
        app.expect_text("Was this answer right?")
        app.assert_no_exception()
        [inspection] = stack.api.get("/api/v1/inspections").json()["items"]
        found = [p for p in inspection["predictions"] if p["confidence"] >= 0.5]
        assert sorted(p["label"] for p in found) == ["tape", "wrench"], found
        tape = next(p["box"] for p in found if p["label"] == "tape")
        shot(app, tmp_path, "inspect-answer")

        app.click("Wrong")
        expect(page.locator("canvas.upper-canvas").first).to_be_visible()
        area = canvas_area(page)
        assert (round(area["width"]), round(area["height"])) == (800, 600)

        # The tape's box is off: select it in edit mode and delete it.
        page.get_by_role("button", name="Edit").click()
        area = canvas_area(page)
        page.mouse.click(
            area["x"] + (tape["x1"] + tape["x2"]) / 2 * factor,
            area["y"] + (tape["y1"] + tape["y2"]) / 2 * factor,
        )
        page.get_by_role("button", name="Delete selected").click()
        page.get_by_role("button", name="Edit").click()  # back to drawing

        # A missed item, drawn with the first class (wrench), then given its right class on the photo:
        # in edit mode, a click selects the box, a second click opens its label.
        drag(page, (500, 100), (600, 300))
        app.settle()  # the drawing reaches the app on mouse up
        page.get_by_role("button", name="Edit").click()
        area = canvas_area(page)
        for _ in range(2):
            page.mouse.click(area["x"] + 550, area["y"] + 200)
            page.wait_for_timeout(400)
        page.keyboard.press("Control+A")
        page.keyboard.type("screwdriver")
        page.mouse.click(area["x"] + 60, area["y"] + 560)  # done: click on an empty spot
        app.settle()
        page.get_by_role("button", name="Edit").click()

        # The tape drawn again where it is, with the class picked for the boxes drawn.
        page.get_by_label("Class of the boxes you draw").click()
        page.get_by_role("option", name="tape").click()
        app.settle()
        drag(page, (120, 80), (220, 160))
        app.settle()
        app.assert_no_exception()
        shot(app, tmp_path, "inspect-correction")

        # In the table, the tape's x typed as 1250: with its 160 px it reaches outside the photo. Refused.
        edit_cell(app, row=2, column=1, text="1250")
        app.click("Send correction")
        expect(page.get_by_text("Not sent: fix these boxes first.")).to_be_visible()
        expect(
            page.get_by_text("Box 3 (tape) reaches outside the 1280x960 photo (x 1250 to 1410")
        ).to_be_visible()
        shot(app, tmp_path, "inspect-correction-outside")

        # A click without a drag leaves a box too small to be anything: refused on the page, nothing sent
        # (the drawing changed, so the table starts anew from it).
        area = canvas_area(page)
        page.mouse.click(area["x"] + 150, area["y"] + 500)
        app.settle()
        app.click("Send correction")
        expect(page.get_by_text("Not sent: fix these boxes first.")).to_be_visible()
        expect(page.get_by_text("Box 4 (tape) is 3x3 pixels: too small")).to_be_visible()
        shot(app, tmp_path, "inspect-correction-refused")
        assert stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").status_code == 404
        canvas_area(page)
        page.get_by_role("button", name="Undo").click()
        app.settle()

        app.click("Send correction")
        app.expect_text("Feedback saved: the answer was wrong; it should have been OK, with 3 boxes.")
        app.assert_no_exception()
        shot(app, tmp_path, "inspect-correction-saved")

        # History offers the same editor for the past inspection, starting from this correction's boxes.
        app.go_to("History")
        app.expect_text("Corrected boxes: 3 (")
        page.get_by_text("Correct this answer").click()
        app.settle()
        app.expect_text("The boxes of the last correction (revision 1) are drawn")
        expect(page.locator("canvas.upper-canvas").first).to_be_visible()
        canvas_area(page)
        app.assert_no_exception()
        shot(app, tmp_path, "history-correction")

    feedback = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert feedback["use_for_training"] is True
    assert feedback["corrected_verdict"] == "OK"  # every expected item is there
    boxes = {b["label"]: b for b in feedback["corrected_boxes"]}
    assert sorted(boxes) == ["screwdriver", "tape", "wrench"]
    wrench = next(p["box"] for p in found if p["label"] == "wrench")
    assert boxes["wrench"] == {"label": "wrench", **{k: pytest.approx(v, abs=0.1) for k, v in wrench.items()}}
    # canvas pixels at 0.625 to photo pixels: where the drag began, and its size (the stroke aside)
    for label, (x, y, w, h) in {"screwdriver": (500, 100, 100, 200), "tape": (120, 80, 100, 80)}.items():
        drawn = boxes[label]
        assert (drawn["x1"], drawn["y1"]) == (
            pytest.approx(x / factor, abs=4),
            pytest.approx(y / factor, abs=4),
        )
        assert drawn["x2"] - drawn["x1"] == pytest.approx(w / factor, abs=6)
        assert drawn["y2"] - drawn["y1"] == pytest.approx(h / factor, abs=6)

    item = wait_for_item(stack, inspection["id"])
    assert item["source"] == "feedback" and item["origin"] == f"inspection:{inspection['id']}"
    by_class = {CLASSES[label["class_id"]]: label for label in item["labels"]}
    assert sorted(by_class) == ["screwdriver", "tape", "wrench"]
    width, height = PHOTO_SIZE
    for label, drawn in boxes.items():
        assert by_class[label]["cx"] == pytest.approx((drawn["x1"] + drawn["x2"]) / 2 / width, abs=1e-4)
        assert by_class[label]["h"] == pytest.approx((drawn["y2"] - drawn["y1"]) / height, abs=1e-4)
