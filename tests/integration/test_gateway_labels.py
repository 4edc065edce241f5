"""Label reads through the gateway with the real OCR service (Tesseract, zxing-cpp), Postgres and S3, on
labels drawn by the test: a clean label is approved at once, doubtful ones wait in the review queue
(oldest first) until approved or corrected, every review is audited with before and after, the export
carries reviewed reads only with their tokens labelled; bad photos are refused before anything is
stored, and with the OCR service down nothing is stored at all."""

import io
import json
import random

import pytest
from PIL import Image

from linesight_core.label_codes import gtin_check_digit
from linesight_ocr.main import create_app as create_ocr
from linesight_ocr.settings import OcrSettings
from linesight_ocr.synthetic import degrade, random_spec, render
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.servers import free_port, serve
from tests.support.yolo_models import detect_model

ADMIN = {"X-API-Key": ADMIN_KEY}
THRESHOLD = 0.85
MAX_PIXELS = 4_000_000
NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def ocr_url():
    # Tesseract alone: the review flow below needs labels Tesseract misreads, which the second recognizer
    # would catch; the two recognizers through the gateway: test_two_recognizers_disagreeing_...
    settings = OcrSettings(
        service_token=SERVICE_TOKEN, log_format="console", log_level="WARNING", ocr_recognizers="tesseract"
    )
    with serve(create_ocr(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def ocr_both_url():
    settings = OcrSettings(
        service_token=SERVICE_TOKEN, log_format="console", log_level="WARNING", ocr_workers=1
    )
    with serve(create_ocr(settings)) as url:
        yield url


@pytest.fixture
def ocr_env(ocr_url, monkeypatch):
    monkeypatch.setenv("LINESIGHT_OCR_URL", ocr_url)
    monkeypatch.setenv("LINESIGHT_LABEL_AUTO_APPROVE_THRESHOLD", str(THRESHOLD))
    monkeypatch.setenv("LINESIGHT_IMAGE_MAX_PIXELS", str(MAX_PIXELS))


@pytest.fixture
def gw(ocr_env, gateway_stack):
    return gateway_stack


def send(gw, image_bytes, key, **form):
    return gw.post(
        "/api/v1/labels", files={"file": ("label.png", image_bytes, "image/png")}, data=form, headers=key
    )


def by_type(read):
    return {c["type"]: c for c in read["codes"]}


def add_station(gw, name):
    assert (
        gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}, headers=ADMIN).status_code == 201
    )
    with open(detect_model(), "rb") as fh:
        resp = gw.post("/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    gw.put("/api/v1/models/bench/aliases/production", json={"version": 1}, headers=ADMIN)
    body = {"name": name, "mode": "detect", "model_name": "bench", "expected_items": [{"label": "wrench"}]}
    resp = gw.post("/api/v1/stations", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text


def test_label_reads_from_upload_through_review_to_export(gw):
    operator, viewer, engineer = gw.keys["operator"], gw.keys["viewer"], gw.keys["engineer"]
    add_station(gw, "goods-in")

    # A: a clean Lenovo label, every code sure: approved at once.
    clean_spec = random_spec(random.Random(6), "lenovo")
    clean_png = png(render(clean_spec))
    # The photo carries EXIF with GPS (as a phone writes it): it is stored without it.
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 8.0, 30.0), 3: "E", 4: (11.0, 34.0, 5.0)}
    with_gps = io.BytesIO()
    render(clean_spec).save(with_gps, format="PNG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(with_gps.getvalue())).getexif().get_ifd(0x8825)
    assert send(gw, clean_png, viewer).status_code == 403
    resp = send(gw, with_gps.getvalue(), operator, station="goods-in", context="pallet 4711")
    assert resp.status_code == 201, resp.text
    a = resp.json()
    assert a["status"] == "approved" and a["auto_approved"] is True, a
    assert a["station"] == "goods-in" and a["context"] == "pallet 4711"
    assert a["vendor"]["id"] == "lenovo"
    assert a["review_reasons"] == [] and a["reviewed_at"] is not None
    for kind in ("serial", "part_number", "mac", "ean13"):
        assert by_type(a)[kind]["value"] == clean_spec.expected[kind]
        assert by_type(a)[kind]["review"] == "approved"
        assert by_type(a)[kind]["confidence"] >= THRESHOLD
    assert a["tokens_count"] > 10
    image = gw.get(a["image"]["url"], headers=viewer)
    assert image.status_code == 200 and image.content == clean_png  # the pixels as sent, no metadata
    assert not Image.open(io.BytesIO(image.content)).getexif()
    assert image.headers["content-type"] == "image/png"

    # B: a Dell label whose printed EAN has a wrong check digit: waits for review, the EAN flagged.
    bad_ean_spec = random_spec(random.Random(11), "dell", valid_ean=False)
    b = send(gw, png(render(bad_ean_spec)), operator, vendor_hint="dell").json()
    assert b["status"] == "needs_review" and "invalid_checksum" in b["review_reasons"], b
    assert by_type(b)["ean13"]["review"] == "flagged" and by_type(b)["ean13"]["valid"] is False

    # C: an HP label whose serial Tesseract misreads; D: a Dell label without barcodes; E: a blank
    # photo (no codes at all); F: a blurred label, read only in part.
    hp_spec = random_spec(random.Random(35), "hp")
    c = send(gw, png(render(hp_spec)), operator).json()
    plain_spec = random_spec(random.Random(4), "dell")
    plain_spec.barcode = False
    d = send(gw, png(render(plain_spec)), operator).json()
    e = send(gw, png(Image.new("L", (400, 200), 255)), operator).json()
    blur_rng = random.Random(3)
    blur_spec = random_spec(blur_rng, "lenovo")
    f = send(gw, png(degrade(render(blur_spec), blur_rng, blur=2.2)), operator).json()
    for read in (c, d, e, f):
        assert read["status"] == "needs_review", read
    assert e["review_reasons"] == ["no_codes"] and e["codes"] == []
    assert by_type(c)["serial"]["value"] != hp_spec.serial  # the misread the reviewer fixes below

    # The review queue: oldest first by default, filters narrow it.
    queue = gw.get("/api/v1/labels", params={"status": "needs_review"}, headers=viewer).json()
    assert [r["id"] for r in queue["items"]] == [b["id"], c["id"], d["id"], e["id"], f["id"]]
    assert queue["total"] == 5
    newest = gw.get("/api/v1/labels", params={"sort": "newest", "limit": 2}, headers=viewer).json()
    assert [r["id"] for r in newest["items"]] == [f["id"], e["id"]] and newest["total"] == 6
    dell = gw.get("/api/v1/labels", params={"vendor": "dell"}, headers=viewer).json()
    assert {r["id"] for r in dell["items"]} == {b["id"], d["id"]}
    mac = clean_spec.mac
    found = gw.get(
        "/api/v1/labels", params={"code_type": "mac", "code_value": mac[3:11].lower()}, headers=viewer
    ).json()
    assert [r["id"] for r in found["items"]] == [a["id"]]
    at_station = gw.get("/api/v1/labels", params={"station": "goods-in"}, headers=viewer).json()
    assert [r["id"] for r in at_station["items"]] == [a["id"]]
    assert gw.get("/api/v1/labels", params={"station": "nowhere"}, headers=viewer).json()["total"] == 0
    assert gw.get("/api/v1/labels", params={"status": "lost"}, headers=viewer).status_code == 422

    # B cannot be approved as read (the check digit is wrong), nor corrected to another wrong EAN.
    refused = gw.post(f"/api/v1/labels/{b['id']}/approve", headers=operator)
    assert refused.status_code == 422 and "check digit" in refused.json()["detail"]
    codes_b = [{"type": c_["type"], "value": c_["value"]} for c_ in b["codes"] if c_["type"] != "ean13"]
    right_ean = bad_ean_spec.ean13[:-1] + str(gtin_check_digit(bad_ean_spec.ean13[:-1]))
    other_wrong = bad_ean_spec.ean13[:-1] + str((int(right_ean[-1]) + 3) % 10)
    wrong = gw.post(
        f"/api/v1/labels/{b['id']}/corrections",
        json={"codes": [*codes_b, {"type": "ean13", "value": other_wrong}]},
        headers=operator,
    )
    assert wrong.status_code == 422 and f"must be {right_ean[-1]}" in wrong.json()["detail"]
    assert (
        gw.post(
            f"/api/v1/labels/{b['id']}/corrections",
            json={"codes": [{"type": "mac", "value": "not-a-mac"}]},
            headers=operator,
        ).status_code
        == 422
    )
    assert (
        gw.post(f"/api/v1/labels/{b['id']}/corrections", json={"codes": codes_b}, headers=viewer).status_code
        == 403
    )
    corrected = gw.post(
        f"/api/v1/labels/{b['id']}/corrections",
        json={"codes": [*codes_b, {"type": "ean13", "value": right_ean}], "notes": "label misprinted"},
        headers=operator,
    )
    assert corrected.status_code == 200, corrected.text
    b2 = corrected.json()
    assert b2["status"] == "corrected" and b2["reviewed_by"] == "operator-key"
    assert by_type(b2)["ean13"]["value"] == right_ean
    assert by_type(b2)["ean13"]["review"] == "corrected"
    assert by_type(b2)["ean13"]["read_value"] == bad_ean_spec.ean13
    assert [h["action"] for h in b2["history"]] == ["read", "correct"]
    assert b2["history"][0]["status"] == "needs_review"

    # C: the misread serial corrected; D approved as read, once.
    codes_c = [
        {"type": c_["type"], "value": hp_spec.serial if c_["type"] == "serial" else c_["value"]}
        for c_ in c["codes"]
    ]
    c2 = gw.post(f"/api/v1/labels/{c['id']}/corrections", json={"codes": codes_c}, headers=operator).json()
    assert c2["status"] == "corrected" and by_type(c2)["serial"]["value"] == hp_spec.serial
    approved = gw.post(f"/api/v1/labels/{d['id']}/approve", json={"notes": "ok"}, headers=operator)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["auto_approved"] is False
    assert all(c_["review"] == "approved" for c_ in approved.json()["codes"])
    assert gw.post(f"/api/v1/labels/{d['id']}/approve", headers=operator).status_code == 409

    # F: what was misread or missed on the blurred label corrected or added by the reviewer.
    f_codes = [{"type": k, "value": blur_spec.expected[k]} for k in ("serial", "part_number", "mac", "ean13")]
    f2 = gw.post(f"/api/v1/labels/{f['id']}/corrections", json={"codes": f_codes}, headers=operator).json()
    assert f2["status"] == "corrected"
    assert {c_["type"] for c_ in f2["codes"]} == {"serial", "part_number", "mac", "ean13"}
    for c_ in f2["codes"]:  # added by the reviewer, confirmed as read, or corrected
        if c_["read_value"] is not None:
            assert c_["review"] == ("approved" if c_["read_value"] == c_["value"] else "corrected"), c_

    # Every review is in the audit log with before and after.
    events = gw.get("/api/v1/audit", params={"object_type": "label_read"}, headers=ADMIN).json()["items"]
    assert {(ev["action"], ev["object_id"]) for ev in events} == {
        ("label_read.correct", b["id"]),
        ("label_read.correct", c["id"]),
        ("label_read.approve", d["id"]),
        ("label_read.correct", f["id"]),
    }
    b_event = next(ev for ev in events if ev["object_id"] == b["id"])
    assert b_event["actor_name"] == "operator-key"
    assert b_event["details"]["before"]["status"] == "needs_review"
    assert b_event["details"]["after"]["status"] == "corrected"
    before_ean = [x["value"] for x in b_event["details"]["before"]["codes"] if x["type"] == "ean13"]
    after_ean = [x["value"] for x in b_event["details"]["after"]["codes"] if x["type"] == "ean13"]
    assert before_ean == [bad_ean_spec.ean13] and after_ean == [right_ean]

    # The export: reviewed reads only (E still waits), tokens labelled by the confirmed codes.
    assert gw.get("/api/v1/labels/export", headers=operator).status_code == 403
    export = gw.get("/api/v1/labels/export", params={"format": "jsonl"}, headers=engineer)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    by_id = {line["read_id"]: line for line in lines}
    assert set(by_id) == {a["id"], b["id"], c["id"], d["id"], f["id"]}
    assert lines[0]["read_id"] == a["id"]  # in the order they were reviewed
    line_a = by_id[a["id"]]
    assert line_a["image_sha256"] == a["image"]["sha256"] and line_a["vendor"] == "lenovo"
    assert {c_["type"]: c_["value"] for c_ in line_a["codes"]}["serial"] == clean_spec.serial
    labels = {t["text"]: t["label"] for t in line_a["tokens"]}
    assert labels["S/N:"] == "key" and labels["MAC:"] == "key" and labels["Model:"] == "key"
    assert labels[clean_spec.serial] == "serial"
    assert labels[clean_spec.ean13] == "ean13"
    assert labels[clean_spec.mac] == "mac"
    assert labels["ThinkPad"] == "model"
    assert labels["LENOVO"] == "other"
    assert set(line_a["tokens"][0]) == {"text", "confidence", "box", "block", "line", "word", "label"}
    # the EAN a person corrected labels the printed (wrong) digits as the EAN: they were read from there
    assert {t["text"]: t["label"] for t in by_id[b["id"]]["tokens"]}[bad_ean_spec.ean13] == "ean13"
    line_c = {t["text"]: t["label"] for t in by_id[c["id"]]["tokens"]}
    assert line_c[by_type(c)["serial"]["read_value"]] == "serial"  # the misread token is still the serial
    later = gw.get(
        "/api/v1/labels/export", params={"since": f2["reviewed_at"]}, headers=engineer
    ).text.splitlines()
    assert [json.loads(x)["read_id"] for x in later] == [f["id"]]

    one = gw.get(f"/api/v1/labels/{e['id']}", headers=viewer).json()
    assert one["status"] == "needs_review" and [h["action"] for h in one["history"]] == ["read"]


def test_bad_photos_are_refused_before_anything_is_stored(gw):
    operator = gw.keys["operator"]
    label = png(render(random_spec(random.Random(5), "hp")))
    gif = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(gif, format="GIF")
    cases = [
        (b"this is not an image", 422),
        (b"", 422),
        (gif.getvalue(), 415),
        (png(Image.new("L", (2100, 2000), 255)), 413),  # over the 4 Mpx limit of this test
    ]
    for data, status in cases:
        resp = send(gw, data, operator)
        assert resp.status_code == status, (status, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert send(gw, label, operator, station="nowhere").status_code == 404
    hint = send(gw, label, operator, vendor_hint="nokia")
    assert hint.status_code == 422 and "vendor_hint" in hint.json()["detail"]  # the OCR service's answer
    assert gw.post("/api/v1/labels", headers=operator).status_code == 422  # no file at all
    assert gw.get("/api/v1/labels", headers=operator).json()["total"] == 0

    missing = "00000000-0000-0000-0000-000000000001"
    for method, path in (
        ("GET", f"/api/v1/labels/{missing}"),
        ("GET", f"/api/v1/labels/{missing}/image"),
        ("POST", f"/api/v1/labels/{missing}/approve"),
    ):
        assert gw.request(method, path, headers=operator).status_code == 404, path
    assert (
        gw.post(f"/api/v1/labels/{missing}/corrections", json={"codes": []}, headers=operator).status_code
        == 404
    )
    assert gw.get("/api/v1/labels/not-a-uuid", headers=operator).status_code == 422


@pytest.fixture
def gw_without_ocr(monkeypatch, request):
    monkeypatch.setenv("LINESIGHT_OCR_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    return request.getfixturevalue("gateway_stack")


def test_with_the_ocr_service_down_the_upload_is_refused_and_nothing_is_stored(gw_without_ocr):
    gw = gw_without_ocr
    resp = send(gw, png(render(random_spec(random.Random(7), "lenovo"))), gw.keys["operator"])
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "ocr-service" in body["detail"] and "nothing was stored" in body["detail"]
    assert resp.headers["retry-after"]
    assert gw.get("/api/v1/labels", headers=gw.keys["viewer"]).json()["total"] == 0
    store, bucket = gw.app.state.store, gw.app.state.settings.bucket("images")
    assert list(store.client.list_objects(bucket, prefix="labels/", recursive=True)) == []


@pytest.fixture
def ocr_both_env(ocr_both_url, monkeypatch):
    monkeypatch.setenv("LINESIGHT_OCR_URL", ocr_both_url)
    monkeypatch.setenv("LINESIGHT_LABEL_AUTO_APPROVE_THRESHOLD", str(THRESHOLD))


@pytest.fixture
def gw_both(ocr_both_env, gateway_stack):
    return gateway_stack


def test_two_recognizers_disagreeing_send_the_read_to_review_with_what_differed(gw_both):
    gw = gw_both
    # an HP label in a narrow sans: Tesseract reads the serial's 5 as S, RapidOCR reads it right
    spec = random_spec(random.Random(30), "hp")
    spec.barcode, spec.font, spec.font_px = False, NARROW, 20
    read = send(gw, png(render(spec)), gw.keys["operator"]).json()
    assert read["status"] == "needs_review" and "recognizers_disagree" in read["review_reasons"], read
    serial = by_type(read)["serial"]
    assert serial["value"] == spec.serial and serial["review"] == "flagged"
    assert serial["disagreement"] == "tesseract read '0JFSA9RBEL', rapidocr read '0JF5A9RBEL': S/5 at 4"
    assert set(by_type(read)["mac"]["evidence"]) >= {"tesseract", "rapidocr"}
    # the same label with a Code 128 of its serial: the barcode settles it, approved at once
    spec.barcode, spec.font = True, NARROW
    approved = send(gw, png(render(spec)), gw.keys["operator"]).json()
    assert approved["status"] == "approved" and approved["auto_approved"] is True, approved
    assert by_type(approved)["serial"]["value"] == spec.serial
