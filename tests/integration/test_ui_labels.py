"""The Labels page against the real gateway (served over HTTP, as the UI reaches it) and the real OCR
service (Tesseract, zxing-cpp), on labels drawn by linesight_ocr.synthetic: an operator reads a label and
sees its codes on the photo, a reviewer clears the queue oldest first (a bad correction shows the gateway's
words and keeps what was typed), a viewer sees reads without review buttons, an engineer downloads the
export."""

import contextlib
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from linesight_core.label_codes import gtin_check_digit
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_ocr.main import create_app as create_ocr
from linesight_ocr.settings import OcrSettings
from linesight_ocr.synthetic import LabelSpec, random_spec, render
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from linesight_ui.main import HOME
from linesight_ui.resources import CREDENTIAL
from linesight_ui.signin import PERSON
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.servers import free_port, private_broker, serve

pytestmark = pytest.mark.integration

PAGE = str(Path(HOME).parent / "screens" / "5_Labels.py")
ADMIN = {"X-API-Key": ADMIN_KEY}


NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def right_ean(spec: LabelSpec) -> str:
    return spec.ean13[:-1] + str(gtin_check_digit(spec.ean13[:-1]))


class Stack:
    def __init__(self, url: str) -> None:
        self.url = url
        self.api = httpx.Client(base_url=url, headers=ADMIN, timeout=60)
        self.keys: dict[str, str] = {}
        for role in ("viewer", "operator", "engineer"):
            resp = self.api.post("/api/v1/api-keys", json={"name": f"ui-{role}", "role": role})
            assert resp.status_code == 201, resp.text
            self.keys[role] = resp.json()["key"]

    def read(self, photo: bytes, **form: str) -> dict:
        resp = self.api.post("/api/v1/labels", files={"file": ("label.png", photo, "image/png")}, data=form)
        assert resp.status_code == 201, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def ocr_url() -> Iterator[str]:
    settings = OcrSettings(service_token=SERVICE_TOKEN, log_format="console", log_level="WARNING")
    with serve(create_ocr(settings)) as url:
        yield url


@pytest.fixture
def ocr_target(ocr_url) -> str:
    """The OCR service the gateway calls; a test parametrizes it to a dead port."""
    return ocr_url


@pytest.fixture
def stack(fresh_service_env, ocr_target, monkeypatch) -> Iterator[Stack]:
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    broker = private_broker(fresh_service_env["LINESIGHT_REDIS_URL"], "ui")
    for key, value in {
        "LINESIGHT_SERVICE_TOKEN": SERVICE_TOKEN,
        "LINESIGHT_ADMIN_API_KEY": ADMIN_KEY,
        "LINESIGHT_LOG_FORMAT": "console",
        "LINESIGHT_CELERY_BROKER_URL": broker,
        "LINESIGHT_HTTP_RETRIES": "0",
        "LINESIGHT_OCR_URL": ocr_target,
        "LINESIGHT_LABEL_AUTO_APPROVE_THRESHOLD": "0.85",  # as tests/integration/test_gateway_labels.py
        "LINESIGHT_INFERENCE_URL": f"http://127.0.0.1:{free_port()}",
        "LINESIGHT_TRAINING_WORKER_URL": f"http://127.0.0.1:{free_port()}",
    }.items():
        monkeypatch.setenv(key, value)
    with contextlib.ExitStack() as servers:
        monkeypatch.setenv(
            "LINESIGHT_REGISTRY_URL", servers.enter_context(serve(create_registry(RegistrySettings())))
        )
        gateway = Stack(servers.enter_context(serve(create_gateway(GatewaySettings()))))
        servers.callback(gateway.api.close)
        yield gateway
    redis.Redis.from_url(broker).flushdb()


def open_page(monkeypatch, stack: Stack, role: str, view: str | None = None) -> AppTest:
    """The page, in a browser session signed in with a personal key of `role`."""
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", stack.url)
    st.cache_resource.clear()  # the settings are made once per process
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state[CREDENTIAL] = stack.keys[role]
    at.run()
    assert not at.exception, at.exception
    if view is not None:
        at.radio(key="labels_view").set_value(view).run()
        assert not at.exception, at.exception
    return at


def buttons(at: AppTest, label: str) -> list:
    return [b for b in at.button if b.label == label]


def button(at: AppTest, label: str):
    [found] = buttons(at, label)
    return found


def codes_table(at: AppTest):
    return next(d.value for d in at.dataframe if "validation" in d.value.columns)


def value_input(at: AppTest, value: str):
    """The code field in the review form that holds `value` now."""
    [found] = [t for t in at.text_input if t.key and t.key.startswith("value-") and t.value == value]
    return found


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_an_operator_reads_a_label_sees_its_codes_and_corrects_a_bad_ean(monkeypatch, stack):
    spec = random_spec(random.Random(11), "dell", valid_ean=False)  # the printed EAN's check digit is wrong
    at = open_page(monkeypatch, stack, "operator", "Read a label")
    assert not at.warning  # an operator key may read labels
    assert button(at, "Read label").disabled  # no photo yet
    at.radio(key="labels_source").set_value("File").run()
    at.selectbox(key="labels_vendor_hint").set_value("dell")
    at.text_input(key="labels_context").set_value("pallet 4711")
    at.file_uploader(key="labels_file").set_value(("label.png", png(render(spec)), "image/png")).run()
    button(at, "Read label").click().run()
    assert not at.exception and not errors(at), errors(at)

    [read] = stack.api.get("/api/v1/labels").json()["items"]
    assert read["status"] == "needs_review" and read["context"] == "pallet 4711"
    assert len(at.image) == 1  # the photo with the codes' boxes
    assert any("Waits for review: a check digit is wrong" in w.value for w in at.warning)
    codes = codes_table(at).set_index("type")
    assert codes.loc["ean13", "value"] == spec.ean13
    assert codes.loc["ean13", "validation"].startswith("check digit wrong")
    assert codes.loc["ean13", "review"] == "check this"
    assert codes.loc["serial", "value"] == spec.serial and codes.loc["serial", "validation"] == "valid"
    assert set(codes["source"]) <= {"OCR", "barcode", "OCR + barcode"}
    assert all(0 < c <= 1 for c in codes["confidence"])

    # approving as read is refused in the gateway's words
    button(at, "Approve").click().run()
    assert not at.exception
    [error] = errors(at)
    assert "Could not approve the label read" in error and "check digit" in error

    # another wrong EAN: refused, and the field keeps what was typed
    other_wrong = spec.ean13[:-1] + str((int(right_ean(spec)[-1]) + 3) % 10)
    value_input(at, spec.ean13).set_value(other_wrong)
    button(at, "Save codes").click().run()
    [error] = errors(at)
    assert "Could not save the corrected codes: the gateway answered 422" in error
    assert f"must be {right_ean(spec)[-1]}" in error
    assert value_input(at, other_wrong)  # nothing the reviewer typed is lost
    assert stack.api.get(f"/api/v1/labels/{read['id']}").json()["status"] == "needs_review"

    value_input(at, other_wrong).set_value(right_ean(spec))
    button(at, "Save codes").click().run()
    assert not errors(at), errors(at)
    assert at.success[0].value.startswith(f"Label read {read['id']} corrected")
    after = stack.api.get(f"/api/v1/labels/{read['id']}").json()
    assert after["status"] == "corrected" and after["reviewed_by"] == "ui-operator"
    assert {c["type"]: c["value"] for c in after["codes"]}["ean13"] == right_ean(spec)
    assert codes_table(at).set_index("type").loc["ean13", "review"] == f"corrected (read {spec.ean13})"


def test_a_reviewer_clears_the_queue_oldest_first_each_next_read_opening_by_itself(monkeypatch, stack):
    clean = stack.read(png(render(random_spec(random.Random(6), "lenovo"))))
    assert clean["status"] == "approved"  # not in the queue
    bad_ean = random_spec(random.Random(11), "dell", valid_ean=False)
    b = stack.read(png(render(bad_ean)), vendor_hint="dell")
    # An HP label in a narrow sans: the two recognizers read its serial differently, so it waits for a
    # person although every code is valid (a plain label both read alike is approved by itself).
    hp = random_spec(random.Random(30), "hp")
    hp.barcode, hp.font, hp.font_px = False, NARROW, 20
    c = stack.read(png(render(hp)))
    other_ean = random_spec(random.Random(12), "dell", valid_ean=False)
    d = stack.read(png(render(other_ean)), vendor_hint="dell")
    assert [r["status"] for r in (b, c, d)] == ["needs_review"] * 3

    at = open_page(monkeypatch, stack, "operator")
    assert at.radio(key="labels_view").value == "Review queue"
    assert "3 label reads" in [x.value for x in at.caption]
    assert at.selectbox(key="labels_pick").value == b["id"]  # the oldest first
    assert any("Alt+A" in x.value for x in at.caption)  # the shortcuts are on the page

    # B skipped for now: Next opens C
    button(at, "Next").click().run()
    assert at.selectbox(key="labels_pick").value == c["id"]
    button(at, "Previous").click().run()
    assert at.selectbox(key="labels_pick").value == b["id"]
    button(at, "Next").click().run()

    # C: approved as read; D, the read after it, opens by itself (not B)
    button(at, "Approve").click().run()
    assert not errors(at), errors(at)
    assert at.success[0].value.startswith(f"Label read {c['id']} approved")
    assert "2 label reads" in [x.value for x in at.caption]
    assert at.selectbox(key="labels_pick").value == d["id"]

    # D: its EAN corrected in place; the last one in the queue, so the oldest left, B, opens
    value_input(at, other_ean.ean13).set_value(right_ean(other_ean))
    button(at, "Save codes").click().run()
    assert not errors(at), errors(at)
    assert at.success[0].value.startswith(f"Label read {d['id']} corrected")
    assert at.selectbox(key="labels_pick").value == b["id"]

    # B: the EAN corrected, and the queue is empty
    value_input(at, bad_ean.ean13).set_value(right_ean(bad_ean))
    button(at, "Save codes").click().run()
    assert not errors(at), errors(at)
    assert at.success[0].value.startswith(f"Label read {b['id']} corrected")
    assert [i.value for i in at.info] == ["The review queue is empty: every read is reviewed."]

    reads = {r["id"]: r for r in stack.api.get("/api/v1/labels", params={"limit": 10}).json()["items"]}
    assert [reads[x["id"]]["status"] for x in (b, c, d)] == ["corrected", "approved", "corrected"]
    assert {x["type"]: x["value"] for x in reads[d["id"]]["codes"]}["ean13"] == right_ean(other_ean)
    history = stack.api.get(f"/api/v1/labels/{c['id']}").json()["history"]
    assert [h["action"] for h in history] == ["read", "approve"]

    # the reviewed reads are still there under their status, and can be corrected again
    at.selectbox(key="labels_status").set_value("corrected").run()
    assert "2 label reads" in [x.value for x in at.caption]
    assert button(at, "Approve").disabled
    at.selectbox(key="labels_status").set_value("any")
    at.selectbox(key="labels_vendor").set_value("dell").run()
    assert "2 label reads" in [x.value for x in at.caption]


def test_a_viewer_sees_reads_but_no_review_buttons_nor_the_export(monkeypatch, stack):
    spec = random_spec(random.Random(11), "dell", valid_ean=False)
    stack.read(png(render(spec)), vendor_hint="dell")

    at = open_page(monkeypatch, stack, "viewer")
    assert not errors(at), errors(at)
    assert at.radio(key="labels_view").options == ["Review queue", "Read a label"]
    assert codes_table(at).set_index("type").loc["ean13", "value"] == spec.ean13
    assert len(at.image) == 1
    assert not buttons(at, "Approve") and not buttons(at, "Save codes")
    assert any("needs the operator role; you are signed in as viewer" in x.value for x in at.caption)

    at.radio(key="labels_view").set_value("Read a label").run()
    assert any("need the operator role; you are signed in as viewer" in i.value for i in at.info)
    assert not buttons(at, "Read label") and not at.file_uploader


def test_an_engineer_downloads_the_export_of_reviewed_reads(monkeypatch, stack):
    spec = random_spec(random.Random(11), "dell", valid_ean=False)
    read = stack.read(png(render(spec)), vendor_hint="dell")
    waits = random_spec(random.Random(30), "hp")
    waits.barcode, waits.font, waits.font_px = False, NARROW, 20
    assert stack.read(png(render(waits)))["status"] == "needs_review"  # not exported
    codes = [
        {"type": x["type"], "value": right_ean(spec) if x["type"] == "ean13" else x["value"]}
        for x in read["codes"]
    ]
    assert stack.api.post(f"/api/v1/labels/{read['id']}/corrections", json={"codes": codes}).is_success

    at = open_page(monkeypatch, stack, "operator")
    assert "Export" not in at.radio(key="labels_view").options
    at = open_page(monkeypatch, stack, "engineer", "Export")
    button(at, "Prepare export").click().run()
    assert not errors(at), errors(at)
    assert any(x.value.startswith("1 reviewed read in the export") for x in at.caption)
    [download] = at.get("download_button")
    assert download.proto.label == "Download JSON Lines"
    exported = stack.api.get("/api/v1/labels/export").text.splitlines()
    assert [json.loads(line)["read_id"] for line in exported] == [read["id"]]


@pytest.mark.parametrize("ocr_target", [f"http://127.0.0.1:{free_port()}"], ids=["dead-port"])
def test_a_photo_the_gateway_cannot_read_is_refused_in_words_and_kept(monkeypatch, stack):
    at = open_page(monkeypatch, stack, "operator", "Read a label")
    at.radio(key="labels_source").set_value("File").run()
    at.file_uploader(key="labels_file").set_value(("label.png", b"not a picture", "image/png")).run()
    button(at, "Read label").click().run()
    assert not at.exception
    [error] = errors(at)
    assert error.startswith("Could not read the label: the gateway answered 422")

    label = png(render(random_spec(random.Random(6), "lenovo")))
    at.file_uploader(key="labels_file").set_value(("label.png", label, "image/png")).run()
    button(at, "Read label").click().run()
    [error] = errors(at)  # the OCR service is down: nothing stored, the photo still on the page
    assert "Could not read the label: the gateway answered 503" in error and "send the photo again" in error
    assert not button(at, "Read label").disabled
    assert stack.api.get("/api/v1/labels").json()["total"] == 0


def test_the_labels_page_says_when_the_gateway_is_unreachable(monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", dead)
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    st.cache_resource.clear()
    at = AppTest.from_file(str(HOME), default_timeout=30)
    # signed in as a viewer a moment ago; the gateway has gone away since
    at.session_state[CREDENTIAL] = "lss_whatever"
    at.session_state[PERSON] = {"name": "vera", "display_name": "Vera", "role": "viewer", "kind": "user"}
    at.run()
    at.switch_page("screens/5_Labels.py").run()  # in a viewer's navigation
    assert not at.exception, at.exception
    assert any("the gateway is unreachable" in e and dead in e for e in errors(at)), errors(at)
