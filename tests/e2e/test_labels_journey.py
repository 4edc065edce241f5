"""On the whole local stack, in headless Chromium: an operator signs in; two generated labels (a Dell one
with a wrong check digit, an HP one the two recognizers read differently) read on the Labels page from
files, then cleared from the review queue with the keyboard only: the first one's
wrong EAN corrected in its field (a wrong value refused in the gateway's words first, the typed value
kept), Enter to save; the next read opens by itself and Alt+A approves it. Each step is checked on the
page and through the API."""

import io
import random

import pytest
from PIL import Image

from linesight_core.label_codes import gtin_check_digit
from linesight_ocr.synthetic import LabelSpec, random_spec, render
from tests.support.browser import StreamlitPage, new_user, sign_in

NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def operator(gateway) -> tuple[str, str]:
    """An operator made through the gateway's API: (username, password)."""
    return new_user(gateway, "operator", "labels", "Label Reviewer")


def read_in_browser(app: StreamlitPage, photo: bytes, vendor: str) -> None:
    app.page.get_by_text("Read a label", exact=True).click()
    app.settle()
    app.page.get_by_text("File", exact=True).click()
    app.settle()
    vendor_box = app.page.get_by_label("Vendor", exact=True)
    vendor_box.click()
    app.page.get_by_role("option", name=vendor, exact=True).click()
    app.settle()
    uploader = app.page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(files=[{"name": "label.png", "mimeType": "image/png", "buffer": photo}])
    app.settle()
    # not StreamlitPage.click: the button's name ends with its shortcut ("Read label Alt+L")
    app.page.get_by_role("button", name="Read label").click()
    app.settle()
    app.assert_no_exception()
    assert not app.errors(), app.errors()
    app.expect_text("Waits for review")


def waiting(gateway) -> list[dict]:
    return gateway.get("/api/v1/labels", params={"status": "needs_review"}).json()["items"]


def right_ean(spec: LabelSpec) -> str:
    return spec.ean13[:-1] + str(gtin_check_digit(spec.ean13[:-1]))


def test_labels_read_then_corrected_and_approved_from_the_queue_by_keyboard(
    stack, gateway, operator, ui_page, tmp_path
):
    assert waiting(gateway) == []  # no read waits before this journey
    bad_ean = random_spec(random.Random(11), "dell", valid_ean=False)  # the printed check digit is wrong
    # An HP label in a narrow sans: Tesseract reads a 5 of the serial as S and RapidOCR does not, so the
    # read waits for a person although every code is valid (a plain label both read alike is approved).
    plain = random_spec(random.Random(30), "hp")
    plain.barcode, plain.font, plain.font_px = False, NARROW, 20

    app = sign_in(StreamlitPage(ui_page, stack.urls["ui"]).open(), *operator)
    app.go_to("Labels")
    app.assert_no_exception()
    read_in_browser(app, png(render(bad_ean)), "dell")
    assert app.page.locator('[data-testid="stImage"]').count() == 1  # the photo with the codes' boxes
    app.expect_text("Waits for review: a check digit is wrong")
    [read] = waiting(gateway)
    position = [c["type"] for c in read["codes"]].index("ean13") + 1
    assert app.page.get_by_label(f"Value {position}", exact=True).input_value() == bad_ean.ean13
    assert app.page.locator('[data-testid="stDataFrame"]').count() == 1  # the codes table
    app.screenshot(tmp_path / "labels-read.png")
    read_in_browser(app, png(render(plain)), "hp")
    first, second = waiting(gateway)
    assert {c["type"]: c["value"] for c in first["codes"]}["ean13"] == bad_ean.ean13

    # the queue, oldest first
    app.page.get_by_text("Review queue", exact=True).click()
    app.settle()
    app.expect_text("2 label reads")
    app.expect_text(f"Label read {first['id']}")
    ean_field = f"Value {[c['type'] for c in first['codes']].index('ean13') + 1}"

    # another wrong EAN, typed and Enter: refused in the gateway's words, the field keeps it
    other_wrong = bad_ean.ean13[:-1] + str((int(right_ean(bad_ean)[-1]) + 3) % 10)
    app.fill(ean_field, other_wrong)
    app.page.get_by_label(ean_field, exact=True).press("Enter")
    app.settle()
    [error] = app.errors()
    assert "Could not save the corrected codes" in error and f"must be {right_ean(bad_ean)[-1]}" in error
    assert app.page.get_by_label(ean_field, exact=True).input_value() == other_wrong
    app.screenshot(tmp_path / "labels-refused.png")

    # the right EAN, Enter: corrected, and the next read opens by itself
    app.fill(ean_field, right_ean(bad_ean))
    app.page.get_by_label(ean_field, exact=True).press("Enter")
    app.settle()
    app.assert_no_exception()
    app.expect_text(f"Label read {first['id']} corrected")
    app.expect_text(f"Label read {second['id']}")
    app.expect_text("1 label read")

    # Alt+A approves it as read: the queue is empty
    app.page.keyboard.press("Alt+A")
    app.settle()
    app.expect_text(f"Label read {second['id']} approved")
    app.expect_text("The review queue is empty")
    app.assert_no_exception()

    after = {r["id"]: r for r in gateway.get("/api/v1/labels").json()["items"]}
    assert after[first["id"]]["status"] == "corrected" and after[second["id"]]["status"] == "approved"
    assert {c["type"]: c["value"] for c in after[first["id"]]["codes"]}["ean13"] == right_ean(bad_ean)
    assert waiting(gateway) == []
