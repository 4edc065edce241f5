"""POST /v1/parse-label and /v1/parse-label/url on the real Tesseract and zxing-cpp, with labels drawn
by the test: codes with their keys and validation, barcode agreement, rotation found by orientation
detection, bad check digits sent to review, bad inputs refused with 4xx, private URLs refused."""

import http.server
import io
import random
import threading

import numpy as np
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from linesight_ocr.main import create_app
from linesight_ocr.settings import OcrSettings
from linesight_ocr.synthetic import FONT_DIR, corpus_label, random_spec, render

pytestmark = pytest.mark.integration

TOKEN = "ocr-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def lenovo_label():
    spec = random_spec(random.Random(6), "lenovo")
    return spec, render(spec)


@pytest.fixture(scope="module")
def client():
    settings = OcrSettings(service_token=TOKEN, log_format="console", image_max_pixels=4_000_000)
    with TestClient(create_app(settings)) as c:
        yield c


def parse(client, data: bytes, **form):
    return client.post(
        "/v1/parse-label", headers=AUTH, files={"image": ("label.png", data, "image/png")}, data=form
    )


def codes_by_type(body):
    return {c["type"]: c for c in body["codes"]}


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_laptop_label_is_read_upright_and_turned(client, lenovo_label, rotation):
    spec, image = lenovo_label
    resp = parse(client, png(image.rotate(-rotation, expand=True)))  # turned clockwise
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["rotation"] == (360 - rotation) % 360
    assert body["vendor"] == {"id": "lenovo", "name": "Lenovo", "matched_by": "label"}
    codes = codes_by_type(body)
    for kind in ("serial", "part_number", "mac", "ean13"):
        assert codes[kind]["value"] == spec.expected[kind], (kind, codes[kind])
        assert codes[kind]["valid"]
    assert codes["serial"]["key"] == "S/N"
    assert codes["ean13"]["source"] == "both"  # printed digits and the EAN-13 barcode agree
    assert codes["ean13"]["confidence"] > 0.99
    assert {b["format"] for b in body["barcodes"]} >= {"EAN13", "Code128"}
    # token boxes are in the uploaded image's pixels
    width, height = body["image_width"], body["image_height"]
    for box in codes["serial"]["token_boxes"]:
        assert 0 <= box["x1"] < box["x2"] <= width and 0 <= box["y1"] < box["y2"] <= height
    assert body["timings_ms"]["ocr"] > 0


@pytest.fixture(scope="module")
def corpus():
    """Labels of the benchmark corpus (bench/ocr.py, seed 1) by their index."""
    rng = random.Random(1)
    return [corpus_label(rng) for _ in range(140)]


@pytest.mark.parametrize(
    "index",
    [
        9,  # small text next to two barcodes: the bars used to derail the page layout (read as `MIMI`)
        0,  # the same, turned by 270 degrees
        139,  # orientation detection reads it upside down: read again turned by 180 degrees
    ],
)
def test_benchmark_labels_that_used_to_read_as_scraps(client, corpus, index):
    spec, image, faults = corpus[index]
    body = parse(client, png(image)).json()
    assert body["rotation"] == (360 - faults["rotation"]) % 360
    values = {(c["type"], c["value"]) for c in body["codes"]}
    for kind in ("serial", "part_number", "mac", "ean13"):
        assert (kind, spec.expected[kind]) in values, (kind, body["codes"])


def test_a_bad_ean_check_digit_is_reported_invalid_and_sent_to_review(client):
    spec = random_spec(random.Random(11), "dell", valid_ean=False)
    body = parse(client, png(render(spec)), vendor_hint="dell").json()
    assert body["vendor"]["matched_by"] == "hint"
    ean = codes_by_type(body)["ean13"]
    assert ean["value"] == spec.ean13
    assert ean["valid"] is False
    assert body["needs_review"] is True
    assert "invalid_checksum" in body["review_reasons"]
    metrics = client.get("/metrics").text
    assert 'linesight_ocr_codes_found_total{type="ean13",valid="false"}' in metrics
    assert 'linesight_ocr_label_reads_total{needs_review="true"}' in metrics
    assert "linesight_ocr_parse_duration_seconds_count" in metrics


def test_a_label_without_the_vendors_part_number_goes_to_review(client):
    # a Dell label whose part-number line is cut off: the serial reads fine, but Dell labels carry a DP/N
    # (a tag without 0, O, 1 or I: those two recognizers cannot tell apart in a Dell tag, ambiguous_characters)
    image = Image.new("L", (520, 150), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", 26)
    draw.text((30, 25), "DELL Latitude", font=font, fill=0)
    draw.text((30, 80), "Service Tag: 7XF4T2B", font=font, fill=0)
    body = parse(client, png(image)).json()
    assert body["vendor"]["id"] == "dell"
    assert codes_by_type(body)["serial"]["value"] == "7XF4T2B"
    assert body["needs_review"] is True
    assert body["review_reasons"] == ["missing_codes"]
    # the whole label, part number included, raises no such reason
    spec = random_spec(random.Random(6), "lenovo")
    assert "missing_codes" not in parse(client, png(render(spec))).json()["review_reasons"]


def test_a_barcode_without_any_printed_text_goes_to_review(client):
    symbol = zxingcpp.create_barcode("4006381333931", zxingcpp.BarcodeFormat.EAN13)
    bars = Image.fromarray(np.array(zxingcpp.write_barcode_to_image(symbol, scale=3)))
    image = Image.new("L", (bars.width + 80, bars.height + 80), 255)
    image.paste(bars, (40, 40))
    body = parse(client, png(image)).json()
    assert [(c["type"], c["value"], c["source"]) for c in body["codes"]] == [
        ("ean13", "4006381333931", "barcode")
    ]
    assert body["tokens"] == []
    assert body["needs_review"] is True and "no_text" in body["review_reasons"]


def test_bad_inputs_are_4xx_problems(client):
    cases = [
        (b"this is not an image", 422),
        (b"", 422),
        (png(Image.new("RGB", (1, 1), "white")), 200),
        (png(Image.new("L", (2100, 2100), 255)), 413),  # over the 4 Mpx limit set above
    ]
    for data, status in cases:
        resp = parse(client, data)
        assert resp.status_code == status, resp.text
        if status == 200:
            assert resp.json()["needs_review"] is True
            assert resp.json()["review_reasons"] == ["no_codes"]
        else:
            assert resp.headers["content-type"].startswith("application/problem+json")
    assert parse(client, png(Image.new("RGB", (1, 1))), vendor_hint="nokia").status_code == 422
    assert client.post("/v1/parse-label", files={"image": ("a.png", b"x")}).status_code == 401


@pytest.fixture(scope="module")
def image_server(lenovo_label):
    data = png(lenovo_label[1])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect-to-metadata":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/label.png")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_variant_refuses_private_addresses_unless_allow_listed(client, image_server, lenovo_label):
    url = f"{image_server}/redirect"
    refused = client.post("/v1/parse-label/url", headers=AUTH, json={"image_url": url})
    assert refused.status_code == 422
    assert "loopback" in refused.json()["detail"]
    for bad in ("file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/a.png"):
        assert client.post("/v1/parse-label/url", headers=AUTH, json={"image_url": bad}).status_code == 422

    settings = OcrSettings(service_token=TOKEN, log_format="console", ocr_url_allowlist="127.0.0.1/32")
    with TestClient(create_app(settings)) as allowed:
        resp = allowed.post("/v1/parse-label/url", headers=AUTH, json={"image_url": url})
        assert resp.status_code == 200, resp.text
        assert codes_by_type(resp.json())["serial"]["value"] == lenovo_label[0].serial
        # a redirect is checked again: the metadata address is not on the allow-list
        hop = allowed.post(
            "/v1/parse-label/url", headers=AUTH, json={"image_url": f"{image_server}/redirect-to-metadata"}
        )
        assert hop.status_code == 422
        assert "metadata" in hop.json()["detail"]
    small = OcrSettings(
        service_token=TOKEN, log_format="console", ocr_url_allowlist="127.0.0.1", image_max_bytes=1000
    )
    with TestClient(create_app(small)) as limited:
        resp = limited.post(
            "/v1/parse-label/url", headers=AUTH, json={"image_url": f"{image_server}/label.png"}
        )
        assert resp.status_code == 413
