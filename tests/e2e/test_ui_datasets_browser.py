"""The Datasets page in headless Chromium on the whole local stack, as an engineer (a user made through the
gateway's API) signed in once for the module: a dataset created on the page, a YOLO zip built here
imported with its report, its items browsed with their boxes drawn, a photo added with a box drawn on
it with the mouse, a version cut (a second cut with nothing changed refused in words, its notes kept),
the version's export downloaded; and a zip with a class out of range and a path-traversal entry refused
with every problem listed and nothing stored. Each step is checked on the page and through the API."""

from __future__ import annotations

import io
import random
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from linesight_devstack import Stack
from tests.support.browser import StreamlitPage, signed_in
from tests.support.synthetic import CLASSES, draw_scene, jpeg, write_detect_zip

IMAGES = 6
SCREENSHOT = Path("/tmp/datasets.png")
REFUSED_SCREENSHOT = Path("/tmp/datasets-refused.png")
ADD_SCREENSHOT = Path("/tmp/datasets-add.png")


@pytest.fixture(scope="module")
def app(stack: Stack, gateway: httpx.Client, browser: Browser) -> Iterator[StreamlitPage]:
    """One engineer, signed in once for the whole module, on the Datasets page."""
    with signed_in(
        browser, stack, gateway, "engineer", prefix="datasets", display_name="Data Engineer", go_to="Datasets"
    ) as app:
        app.expect_text("New dataset")
        yield app


# Chosen once per worker process: with pytest-xdist the module's fixtures can be made again when its
# tests do not run back to back, and the second test must find the dataset the first one made.
DATASET = f"ui-bench-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def name() -> str:
    return DATASET


def view(app: StreamlitPage, label: str) -> None:
    app.page.get_by_role("radiogroup").get_by_text(label, exact=True).click()
    app.settle()


def upload(app: StreamlitPage, filename: str, data: bytes, mime: str) -> None:
    field = app.page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    field.set_input_files(files=[{"name": filename, "mimeType": mime, "buffer": data}])
    app.settle()


def items(gateway: httpx.Client, name: str, **params) -> dict:
    resp = gateway.get(f"/api/v1/datasets/{name}/items", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def shown_images(app: StreamlitPage) -> int:
    """Pictures in the page's main area that the browser loaded and drew."""
    pictures = app.page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
    expect(pictures.first).to_be_visible()
    return sum(p.evaluate("img => img.complete && img.naturalWidth > 0") for p in pictures.all())


def test_an_engineer_imports_a_zip_browses_it_adds_a_drawn_photo_and_cuts_a_version(
    app, gateway, name, tmp_path
):
    page = app.page
    # A dataset made on the page (opened at once).
    # Other datasets exist (on the e2e stack other tests make some): the form is folded, its fields hidden.
    if not page.get_by_label("Name", exact=True).is_visible():
        page.get_by_text("New dataset", exact=True).click()
    app.fill("Name", name)
    app.fill("Classes, in order (one a line, or separated by commas)", "\n".join(CLASSES))
    app.click("Create dataset")
    app.expect_text(f"Dataset {name} created (detect, 3 classes).")
    assert gateway.get(f"/api/v1/datasets/{name}").json()["class_names"] == CLASSES

    # A YOLO zip, imported with its report.
    archive = write_detect_zip(tmp_path / "bench.zip", n_images=IMAGES, seed=5).read_bytes()
    view(app, "Import")
    upload(app, "bench.zip", archive, "application/zip")
    app.click("Import")
    app.expect_text(f"Imported bench.zip into {name}")
    app.expect_text(f"bench.zip: {IMAGES} images in the archive: {IMAGES} added")
    app.assert_no_exception()
    assert not app.errors(), app.errors()
    assert items(gateway, name)["total"] == IMAGES

    # Its items, each picture with its boxes drawn.
    view(app, "Items")
    app.expect_text(f"Items 1–{IMAGES} of {IMAGES} · page 1 of 1")
    assert shown_images(app) == IMAGES
    assert "train · import ·" in app.main_text() or "val · import ·" in app.main_text()
    app.assert_no_exception()
    app.screenshot(SCREENSHOT)

    # A photo added with one box drawn with the mouse (class: the picker's first, wrench).
    scene, _ = draw_scene(random.Random(11), size=(320, 240))
    view(app, "Add an image")
    upload(app, "bench-photo.jpg", jpeg(scene), "image/jpeg")
    canvas = page.locator("canvas.upper-canvas").first
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    area = canvas.bounding_box()
    assert area is not None and (round(area["width"]), round(area["height"])) == (320, 240)
    page.mouse.move(area["x"] + 40, area["y"] + 40)
    page.mouse.down()
    page.mouse.move(area["x"] + 140, area["y"] + 160, steps=8)
    page.mouse.up()
    app.settle()  # the drawing reaches the app on mouse up
    app.screenshot(ADD_SCREENSHOT)
    app.click("Add to the dataset")
    app.expect_text("bench-photo.jpg added (")
    app.assert_no_exception()
    [added] = items(gateway, name, source="upload")["items"]
    [box] = added["labels"]
    assert box["class_id"] == 0
    # drawn from (40, 40) to (140, 160) on the 320x240 photo, give or take the stroke
    assert box["cx"] == pytest.approx(90 / 320, abs=0.02) and box["cy"] == pytest.approx(100 / 240, abs=0.02)
    assert box["w"] == pytest.approx(100 / 320, abs=0.02) and box["h"] == pytest.approx(120 / 240, abs=0.02)

    # A version cut; a second cut with nothing changed is refused in words and keeps its notes.
    view(app, "Versions")
    app.expect_text("No version yet.")
    notes = "Notes for the new version (optional)"
    app.fill(notes, "first cut from the UI")
    app.click("Cut a version")
    app.expect_text(f"Version 1 of {name} cut: {IMAGES + 1} items ({IMAGES + 1} added, 0 removed")
    app.expect_text(f"Version 1 is the first: all its {IMAGES + 1} images are new.")
    [version] = gateway.get(f"/api/v1/datasets/{name}/versions").json()["items"]
    assert (version["version"], version["item_count"], version["notes"]) == (
        1,
        IMAGES + 1,
        "first cut from the UI",
    )
    app.fill(notes, "nothing new")
    app.click("Cut a version")
    [refusal] = app.errors()
    assert "Could not cut a version: the gateway answered 409: Nothing changed" in refusal, refusal
    assert page.get_by_label(notes, exact=True).input_value() == "nothing new"
    assert len(gateway.get(f"/api/v1/datasets/{name}/versions").json()["items"]) == 1

    # The version's export, downloaded from the page.
    app.click("Prepare the export")
    with page.expect_download() as download:
        page.get_by_role("button", name=f"Download {name}-v1.zip", exact=False).click()
    with zipfile.ZipFile(download.value.path()) as exported:
        members = exported.namelist()
    assert "data.yaml" in members
    pictures = {Path(m).name for m in members if m.startswith("images/") and m.endswith(".jpg")}
    assert len(pictures) == IMAGES + 1, members  # (test images are written as val too when val is empty)
    app.assert_no_exception()


def test_a_refused_zip_lists_every_problem_and_stores_nothing(app, gateway, name):
    before = items(gateway, name)["total"]
    photo = jpeg(draw_scene(random.Random(3), size=(160, 120))[0])
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.yaml", "names: [wrench, screwdriver, tape]\n")
        zf.writestr("images/train/a.jpg", photo)
        zf.writestr("labels/train/a.txt", "7 0.5 0.5 0.2 0.2\n")
        zf.writestr("../../etc/cron.d/evil.jpg", photo)
    view(app, "Import")
    upload(app, "bad.zip", bad.getvalue(), "application/zip")
    app.click("Import")
    app.expect_text("bad.zip was refused: nothing was stored")
    refusal = app.page.locator('[data-testid="stAlertContentError"]')
    refusal.scroll_into_view_if_needed()
    [said] = app.errors()
    assert "Could not import bad.zip: the gateway answered 422" in said, said
    assert "labels/train/a.txt: line 1: class id 7" in said, said
    assert "path traversal" in said, said
    app.assert_no_exception()
    app.screenshot(REFUSED_SCREENSHOT)
    assert items(gateway, name)["total"] == before
