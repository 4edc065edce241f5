"""The OCR service boots on the real Tesseract and zxing-cpp: ready only when Tesseract runs with the
configured language data and the barcode decoder reads back a barcode it drew; /v1/capabilities says
what it can read, behind the service token."""

import io
import os
import random
import signal
import threading
import time

import httpx
import pytest
import tesserocr
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from linesight_ocr.domain.barcodes import check_decoder, draw_self_test_images
from linesight_ocr.main import create_app
from linesight_ocr.settings import OcrSettings
from linesight_ocr.synthetic import random_spec, render
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

TOKEN = "ocr-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build(**overrides) -> TestClient:
    settings = OcrSettings(service_token=TOKEN, log_format="console", **overrides)
    return TestClient(create_app(settings))


def test_ready_with_tesseract_and_the_barcode_decoder():
    with build() as client:
        assert client.get("/health").json()["service"] == "ocr-service"
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"tesseract", "barcode_decoder", "rapidocr"}
        metrics = client.get("/metrics").text
        assert 'linesight_http_requests_total{method="GET",route="/ready",status="200"}' in metrics


def test_not_ready_names_the_missing_language_data():
    with build(ocr_languages="eng+xyz") as client:
        resp = client.get("/ready", headers=AUTH)  # the error texts are for the services
        assert resp.status_code == 503
        body = resp.json()
        assert body["failed"] == ["tesseract"]
        assert "xyz" in body["checks"]["tesseract"]["error"]
        assert body["checks"]["barcode_decoder"]["ok"]
        caps = client.get("/v1/capabilities", headers=AUTH)
        assert caps.status_code == 503
        assert "xyz" in caps.json()["detail"]


def test_not_ready_without_tesseract_language_data(tmp_path):
    with build(tessdata_dir=str(tmp_path / "no-tessdata-here")) as client:
        body = client.get("/ready", headers=AUTH).json()
        assert body["failed"] == ["tesseract"]
        assert "LINESIGHT_TESSDATA_DIR" in body["checks"]["tesseract"]["error"]
    with build(tessdata_dir=str(tmp_path)) as client:  # a folder, but no traineddata in it
        body = client.get("/ready", headers=AUTH).json()
        assert body["failed"] == ["tesseract"]
        assert "language data missing for eng, osd" in body["checks"]["tesseract"]["error"]
        # a label cannot be read either: the answer says why instead of failing with a 500
        image = io.BytesIO()
        Image.new("RGB", (200, 80), "white").save(image, format="PNG")
        resp = client.post("/v1/parse-label", headers=AUTH, files={"image": ("l.png", image.getvalue())})
        assert resp.status_code == 503, resp.text
        assert "Tesseract could not load 'eng'" in resp.json()["detail"]


def _label_png(tiles: int = 1) -> bytes:
    """A label, or a sheet of `tiles` x `tiles` labels (a read that takes a few seconds)."""
    labels = [render(random_spec(random.Random(seed), "lenovo")) for seed in range(tiles * tiles)]
    w, h = max(i.width for i in labels), max(i.height for i in labels)
    sheet = Image.new("L", (w * tiles, h * tiles), 255)
    for n, label in enumerate(labels):
        sheet.paste(label, ((n % tiles) * w, (n // tiles) * h))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()


def _parse(client: TestClient, data: bytes):
    return client.post("/v1/parse-label", headers=AUTH, files={"image": ("label.png", data, "image/png")})


def test_a_reader_that_dies_mid_read_costs_that_read_only():
    with build(ocr_workers=1, image_max_pixels=40_000_000) as client:
        readers = client.app.state.readers
        first = readers.warm()
        answers: dict[str, object] = {}
        reading = threading.Thread(target=lambda: answers.update(resp=_parse(client, _label_png(5))))
        reading.start()
        time.sleep(1.5)  # decoded and handed to the reader, which needs several seconds for 25 labels
        os.kill(first[0], signal.SIGKILL)
        reading.join(60)
        resp = answers["resp"]
        assert resp.status_code == 503, resp.text
        assert "stopped while reading this image" in resp.json()["detail"]
        # the next label is read by a new reader
        resp = _parse(client, _label_png())
        assert resp.status_code == 200, resp.text
        assert {c["type"] for c in resp.json()["codes"]} >= {"serial", "part_number", "mac", "ean13"}
        assert readers.pids() and readers.pids() != first
        assert 'linesight_ocr_read_failures_total{reason="crash"}' in client.get("/metrics").text


def test_a_reader_that_died_between_labels_is_replaced_without_an_error():
    with build(ocr_workers=1) as client:
        readers = client.app.state.readers
        first = readers.warm()
        os.kill(first[0], signal.SIGKILL)
        time.sleep(0.5)
        resp = _parse(client, _label_png())
        assert resp.status_code == 200, resp.text
        assert readers.pids() != first


def test_capabilities_need_the_service_token_and_list_what_can_be_read():
    with build() as client:
        assert client.get("/v1/capabilities").status_code == 401
        assert client.get("/v1/capabilities", headers={"Authorization": "Bearer nope"}).status_code == 403
        resp = client.get("/v1/capabilities", headers=AUTH)
        assert resp.status_code == 200
        caps = resp.json()
    assert caps["tesseract"]["version"] == tesserocr.tesseract_version().split()[1]
    assert caps["tesseract"]["languages"] == ["eng"]
    assert "eng" in caps["tesseract"]["installed_languages"]
    assert caps["recognizers"] == ["tesseract", "rapidocr"]
    assert caps["rapidocr"]["version"] == "1.4.4" and len(caps["rapidocr"]["models"]) == 3
    assert caps["rapidocr"]["providers"][-1] == "CPUExecutionProvider"
    formats = caps["barcodes"]["formats"]
    assert {"Code128", "EAN13", "QRCode", "DataMatrix"} <= set(formats)
    # the names are the ones zxing-cpp accepts back
    assert all(zxingcpp.barcode_format_from_str(name) for name in formats)


def test_the_decoder_self_test_fails_on_an_unreadable_image():
    images = draw_self_test_images()
    check_decoder(images)
    images[0].pixels[:] = 255  # wiped: nothing left to read
    with pytest.raises(RuntimeError, match="Code128"):
        check_decoder(images)


def test_python_m_serves_and_stops_on_sigterm(tmp_path):
    service = ServiceProcess("linesight_ocr", {}, tmp_path / "ocr.log")
    try:
        service.wait_ready(timeout=60)
    finally:
        code = service.stop()
    assert code in (0, -signal.SIGTERM), service.log_text()
    assert "stopped service=ocr-service" in service.log_text()


def _metric(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return 0.0


def test_a_read_past_its_deadline_answers_503_and_the_reader_is_free_again():
    # Tesseract alone: a small label must read well within the second (RapidOCR's deadline: see
    # test_ocr_recognizers.py)
    with build(ocr_workers=1, ocr_read_deadline_seconds=1, ocr_recognizers="tesseract") as client:
        client.app.state.readers.warm()
        slow = _parse(client, _label_png(8))  # 64 labels: several seconds of Tesseract
        assert slow.status_code == 503, slow.text
        assert slow.headers["content-type"].startswith("application/problem+json")
        assert "LINESIGHT_OCR_READ_DEADLINE_SECONDS" in slow.json()["detail"]
        assert _parse(client, _label_png()).status_code == 200
        metrics = client.get("/metrics").text
        assert _metric(metrics, "linesight_ocr_read_failures_total") == 1
        assert 'linesight_ocr_read_failures_total{reason="deadline"} 1.0' in metrics


def test_a_client_that_goes_away_mid_read_stops_the_read(tmp_path):
    service = ServiceProcess(
        "linesight_ocr",
        {
            "LINESIGHT_SERVICE_TOKEN": TOKEN,
            "LINESIGHT_OCR_WORKERS": "1",
            "LINESIGHT_OCR_READ_DEADLINE_SECONDS": "120",
        },
        tmp_path / "ocr.log",
    )
    try:
        service.wait_ready()
        files = {"image": ("label.png", _label_png(), "image/png")}
        assert (
            httpx.post(f"{service.url}/v1/parse-label", headers=AUTH, files=files, timeout=60).status_code
            == 200
        )
        big = {"image": ("sheet.png", _label_png(8), "image/png")}
        with pytest.raises(
            httpx.ReadTimeout
        ):  # the caller gives up after 1.5 s, as the gateway does after 30
            httpx.post(f"{service.url}/v1/parse-label", headers=AUTH, files=big, timeout=1.5)
        # With one reader, this label waits for the sheet unless the sheet's read was stopped.
        after = httpx.post(f"{service.url}/v1/parse-label", headers=AUTH, files=files, timeout=120)
        assert after.status_code == 200, after.text
        metrics = httpx.get(f"{service.url}/metrics").text
        assert _metric(metrics, "linesight_ocr_reads_cancelled_total") == 1
        # the two small labels were read; the sheet never was
        assert _metric(metrics, "linesight_ocr_parse_duration_seconds_count") == 2
    finally:
        service.stop()
