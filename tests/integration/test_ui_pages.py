"""The UI's pages against the real gateway (served over HTTP, as the UI reaches it), registry and, where a
photo is judged, inference service: an operator inspects a bench photo and gives feedback, a viewer
browses the history, an engineer sees datasets and training runs and promotes a model version."""

import contextlib
import hashlib
import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import redis
import streamlit as st
from PIL import Image, ImageEnhance
from streamlit.testing.v1 import AppTest

from linesight_core.clients.training import TrainingRunsClient
from linesight_core.contracts.training import EpochProgress, RunFinish
from linesight_core.storage import ObjectStore
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from linesight_ui.main import HOME
from linesight_ui.resources import CREDENTIAL
from linesight_ui.signin import PERSON
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.servers import free_port, private_broker, serve
from tests.support.services import variant
from tests.support.synthetic import CLASSES, draw_scene, jpeg, yolo_label_lines
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration

PAGES = Path(HOME).parent / "screens"
ADMIN = {"X-API-Key": ADMIN_KEY}


class Stack:
    """The served gateway (and what it calls), an admin client on it and a key per role."""

    def __init__(self, url: str, registry_url: str) -> None:
        self.url = url
        self.registry_url = registry_url
        self.api = httpx.Client(base_url=url, headers=ADMIN, timeout=60)
        self.keys: dict[str, str] = {}
        for role in ("viewer", "operator", "engineer"):
            resp = self.api.post("/api/v1/api-keys", json={"name": f"ui-{role}", "role": role})
            assert resp.status_code == 201, resp.text
            self.keys[role] = resp.json()["key"]

    def detect_station(self, model: str = "bench", station: str = "bench-1") -> str:
        assert self.api.post("/api/v1/models", json={"name": model, "task": "detect"}).status_code == 201
        with open(detect_model(), "rb") as fh:
            up = self.api.post(f"/api/v1/models/{model}/versions", files={"file": ("m.onnx", fh)})
        assert up.status_code == 201, up.text
        assert self.api.put(f"/api/v1/models/{model}/aliases/production", json={"version": 1}).is_success
        resp = self.api.post(
            "/api/v1/stations",
            json={
                "name": station,
                "mode": "detect",
                "model_name": model,
                "expected_items": [{"label": label, "min_count": 1} for label in CLASSES],
            },
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    def inspect(self, station_id: str, photo: bytes) -> dict:
        resp = self.api.post(
            "/api/v1/inspections", data={"station_id": station_id}, files={"image": ("a.jpg", photo)}
        )
        assert resp.status_code in (201, 202), resp.text
        return resp.json()


@pytest.fixture
def start_stack(fresh_service_env, monkeypatch, tmp_path) -> Iterator:
    """start_stack(inference=True) serves registry, inference (or a dead port) and gateway."""
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    broker = private_broker(fresh_service_env["LINESIGHT_REDIS_URL"], "ui")
    for key, value in {
        "LINESIGHT_SERVICE_TOKEN": SERVICE_TOKEN,
        "LINESIGHT_ADMIN_API_KEY": ADMIN_KEY,
        "LINESIGHT_LOG_FORMAT": "console",
        "LINESIGHT_MODEL_CACHE_DIR": str(tmp_path / "models"),
        "LINESIGHT_CELERY_BROKER_URL": broker,
        "LINESIGHT_HTTP_RETRIES": "0",
        "LINESIGHT_REPROCESS_INTERVAL_SECONDS": "60",  # a pending inspection stays pending in the test
        "LINESIGHT_OCR_URL": f"http://127.0.0.1:{free_port()}",
        "LINESIGHT_TRAINING_WORKER_URL": f"http://127.0.0.1:{free_port()}",
    }.items():
        monkeypatch.setenv(key, value)
    with contextlib.ExitStack() as stack:

        def start(*, inference: bool = True) -> Stack:
            registry_url = stack.enter_context(serve(create_registry(RegistrySettings())))
            monkeypatch.setenv("LINESIGHT_REGISTRY_URL", registry_url)
            if inference:
                inference_url = stack.enter_context(serve(create_inference(InferenceSettings())))
            else:
                inference_url = f"http://127.0.0.1:{free_port()}"
            monkeypatch.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            gateway = Stack(stack.enter_context(serve(create_gateway(GatewaySettings()))), registry_url)
            stack.callback(gateway.api.close)
            return gateway

        yield start
    redis.Redis.from_url(broker).flushdb()


def open_page(monkeypatch, stack: Stack, role: str, page: str) -> AppTest:
    """The page, in a browser session signed in with a personal key of `role`."""
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", stack.url)
    st.cache_resource.clear()  # the settings are made once per process
    at = AppTest.from_file(str(PAGES / page), default_timeout=60)
    at.session_state[CREDENTIAL] = stack.keys[role]
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    [found] = [b for b in at.button if b.label == label]
    return found


def table_with(at: AppTest, column: str):
    """The first table on the page that has `column`."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_inspect_shows_nok_for_a_missing_tool_and_takes_feedback(monkeypatch, start_stack):
    stack = start_stack()
    sid = stack.detect_station()
    photo, _ = draw_scene(random.Random(3), present=[0, 2])  # wrench and tape; the screwdriver is missing

    at = open_page(monkeypatch, stack, "operator", "1_Inspect.py")
    assert at.selectbox(key="inspect_station").value == sid
    assert not at.warning  # an operator key may inspect
    assert button(at, "Inspect").disabled  # no photo yet
    at.radio(key="inspect_source").set_value("File").run()
    at.file_uploader(key="inspect_file").set_value(("bench.jpg", jpeg(photo), "image/jpeg")).run()
    button(at, "Inspect").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    texts = markdown(at)
    assert any(":red-background[" in m and "NOK" in m for m in texts)
    assert any("**Missing:** screwdriver" in m for m in texts)
    assert len(at.image) == 1  # the annotated photo
    captions = [c.value for c in at.caption]
    assert "Model bench v1 (production)" in captions
    assert any(c.startswith("Timings: ") and "total" in c for c in captions)
    [inspection] = stack.api.get("/api/v1/inspections").json()["items"]
    assert inspection["verdict"] == "NOK"

    # the answer was right: confirmed, and the photo offered for training
    at.checkbox(key=f"train-{inspection['id']}").check().run()
    button(at, "Correct").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Feedback saved: the answer was right")
    feedback = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert feedback["correct"] is True and feedback["use_for_training"] is True

    # changed to wrong: the editor starts from the model's boxes (the canvas itself needs a browser, see
    # tests/browser); sent as they are, they become the corrected boxes and the dataset's labels
    button(at, "Wrong").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key=f"inspect-draw-class-{inspection['id']}").options == CLASSES
    button(at, "Send correction").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "revision 2" in at.success[0].value
    feedback = stack.api.get(f"/api/v1/inspections/{inspection['id']}/feedback").json()
    assert feedback["correct"] is False and feedback["use_for_training"] is True
    model_boxes = [
        {"label": p["label"], **{k: pytest.approx(v, abs=0.06) for k, v in p["box"].items()}}
        for p in inspection["predictions"]
        if p["confidence"] >= 0.5
    ]
    assert feedback["corrected_boxes"] == model_boxes
    assert feedback["corrected_counts"] == {"wrench": 1, "screwdriver": 0, "tape": 1}
    assert feedback["corrected_verdict"] == "NOK"


def test_an_unusual_photo_is_shown_on_inspect_and_found_in_history(monkeypatch, start_stack):
    stack = start_stack()
    sid = stack.detect_station()
    bench, _ = draw_scene(random.Random(7), present=[0, 1, 2])
    stack.inspect(sid, jpeg(bench))
    dark = ImageEnhance.Brightness(bench).enhance(0.15)

    at = open_page(monkeypatch, stack, "operator", "1_Inspect.py")
    at.radio(key="inspect_source").set_value("File").run()
    at.file_uploader(key="inspect_file").set_value(("dark.jpg", jpeg(dark), "image/jpeg")).run()
    button(at, "Inspect").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("**Unusual photo:** too dark" in w.value for w in at.warning), [w.value for w in at.warning]

    at = open_page(monkeypatch, stack, "viewer", "2_History.py")
    assert "2 inspections · page 1 of 1" in [c.value for c in at.caption]
    at.selectbox(key="history_unusual").set_value("unusual").run()
    assert "1 inspection · page 1 of 1" in [c.value for c in at.caption]
    assert any("**Unusual photo:** too dark" in m for m in markdown(at))
    at.selectbox(key="history_unusual").set_value("usual").run()
    assert "1 inspection · page 1 of 1" in [c.value for c in at.caption]
    assert not any("Unusual photo" in m for m in markdown(at))


def test_inspect_says_a_photo_is_kept_when_the_model_is_away(monkeypatch, start_stack):
    stack = start_stack(inference=False)
    stack.detect_station()
    photo, _ = draw_scene(random.Random(5), present=[0, 1, 2])

    at = open_page(monkeypatch, stack, "operator", "1_Inspect.py")
    at.radio(key="inspect_source").set_value("File").run()
    at.file_uploader(key="inspect_file").set_value(("bench.jpg", jpeg(photo), "image/jpeg")).run()
    button(at, "Inspect").click().run()
    assert not at.error
    [pending] = at.warning
    assert "The photo is kept" in pending.value and "when the model is back" in pending.value
    assert not at.image and not any("background[" in m for m in markdown(at))
    assert stack.api.get("/api/v1/inspections", params={"status": "pending"}).json()["total"] == 1
    # read again every few seconds (a fragment), and on "Check again": still pending, still said so
    assert any(c.value.startswith("Still waiting (checked ") for c in at.caption)
    button(at, "Check again").click().run()
    assert not at.exception and not at.error
    assert "The photo is kept" in at.warning[0].value


def test_inspect_with_a_viewer_key_says_the_operator_role_is_needed(monkeypatch, start_stack):
    stack = start_stack(inference=False)
    stack.detect_station()

    # opened directly: the page is not in a viewer's navigation
    at = open_page(monkeypatch, stack, "viewer", "1_Inspect.py")
    assert any("need the operator role; you are signed in as viewer" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Inspect"] and not at.file_uploader
    assert stack.api.get("/api/v1/inspections").json()["total"] == 0


def test_history_filters_pages_and_shows_the_picked_photo(monkeypatch, start_stack):
    stack = start_stack()
    sid = stack.detect_station()
    rng = random.Random(11)
    full, _ = draw_scene(rng, present=[0, 1, 2])
    partial, _ = draw_scene(rng, present=[0, 2])
    ok_photo = jpeg(full)
    for _ in range(25):
        assert stack.inspect(sid, ok_photo)["verdict"] == "OK"
    nok = stack.inspect(sid, jpeg(partial))
    assert nok["verdict"] == "NOK"
    wrong = {
        "correct": False,
        "corrected_verdict": "OK",
        "corrected_counts": {"wrench": 1, "screwdriver": 1, "tape": 1},
    }
    assert stack.api.post(f"/api/v1/inspections/{nok['id']}/feedback", json=wrong).status_code == 201

    at = open_page(monkeypatch, stack, "viewer", "2_History.py")
    assert not at.error
    assert "26 inspections · page 1 of 1" in [c.value for c in at.caption]  # 50 per page
    at.selectbox(key="history_page_size").set_value(25).run()
    assert "26 inspections · page 1 of 2" in [c.value for c in at.caption]
    assert len(at.dataframe[0].value) == 25
    at.number_input(key="history_page").set_value(2).run()
    assert len(at.dataframe[0].value) == 1  # the oldest one

    at.selectbox(key="history_verdict").set_value("NOK").run()
    assert "1 inspection · page 1 of 1" in [c.value for c in at.caption]  # a new filter starts at page 1
    [row] = at.dataframe[0].value.to_dict("records")
    assert (row["station"], row["verdict"], row["missing"]) == ("bench-1", "NOK", "screwdriver")
    assert at.selectbox(key="history_pick").value == nok["id"]
    assert len(at.image) == 1
    assert any("**Missing:** screwdriver" in m for m in markdown(at))
    assert any("the answer was wrong: should be OK" in m for m in markdown(at))
    assert not [t for t in at.toggle if t.label == "Correct this answer"]  # a viewer only looks

    at.selectbox(key="history_verdict").set_value("any")
    at.selectbox(key="history_feedback").set_value("without feedback").run()
    assert "25 inspections · page 1 of 1" in [c.value for c in at.caption]
    at.selectbox(key="history_feedback").set_value("any")
    at.date_input(key="history_dates").set_value((date(2020, 1, 1), date(2020, 1, 2))).run()
    assert [i.value for i in at.info] == ["No inspection matches these filters."]
    today = datetime.now(UTC).date()
    at.date_input(key="history_dates").set_value((today,)).run()
    assert "26 inspections · page 1 of 2" in [c.value for c in at.caption]


def split_of(photo: bytes) -> str:
    """The split the registry puts a photo in (from its sha256, docs/training-loop.md)."""
    bucket = int(hashlib.sha256(photo).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "val" if bucket < 85 else "test"


def add_bench_dataset(stack: Stack, name: str = "bench-data") -> None:
    """A detect dataset of three generated photos in two versions (v2 adds one); v1 already has a photo to
    train on and one to evaluate on, as a training run needs."""
    resp = stack.api.post("/api/v1/datasets", json={"name": name, "task": "detect", "class_names": CLASSES})
    assert resp.status_code == 201, resp.text
    rng = random.Random(21)
    photos: dict[str, tuple[bytes, str]] = {}
    while len(photos) < 3:
        img, placed = draw_scene(rng)
        photo, labels = jpeg(img), "\n".join(yolo_label_lines(placed, img.size))
        kind = "train" if split_of(photo) == "train" else "eval"
        if kind not in photos:
            photos[kind] = (photo, labels)
        elif {"train", "eval"} <= photos.keys():
            photos["extra"] = (photo, labels)
    for n, kind in enumerate(("train", "eval", "extra")):
        photo, labels = photos[kind]
        resp = stack.api.post(
            f"/api/v1/datasets/{name}/items", files={"file": (f"{n}.jpg", photo)}, data={"labels": labels}
        )
        assert resp.status_code == 201, resp.text
        if n >= 1:
            cut = stack.api.post(f"/api/v1/datasets/{name}/versions", json={"notes": f"cut {n}"})
            assert cut.status_code == 201, cut.text


def play_worker(stack: Stack, run: dict, onnx: Path, png: bytes) -> None:
    """Do what the training worker does for a run, through the registry's worker API: take it, report three
    epochs, register the new version, store a plot and finish with an evaluation against production v1."""
    with TrainingRunsClient(stack.registry_url, SERVICE_TOKEN, retries=0) as worker:
        assert worker.start(run["id"], "training@test", run["task_id"]) is not None
        for epoch in (1, 2, 3):
            report = EpochProgress(
                epoch=epoch,
                epochs=3,
                losses={"box_loss": 2.0 / epoch, "cls_loss": 1.5 / epoch},
                metrics={"mAP50": 0.2 * epoch, "mAP50-95": 0.1 * epoch},
                elapsed_s=10.0 * epoch,
                eta_s=10.0 * (3 - epoch),
                attempt=1,
            )
            assert not worker.progress(run["id"], report).stop
        version = worker.upload_model_version(
            run["model_name"],
            onnx,
            metrics={"mAP50": 0.6, "mAP50-95": 0.3},
            params={"epochs": 3},
            dataset_version_id=run["dataset_version_id"],
            training_run_id=run["id"],
            created_by=f"training:{run['id']}",
        )
        store = ObjectStore.from_settings(RegistrySettings())
        store.put_bytes(
            RegistrySettings().bucket("models"), f"runs/{run['id']}/pr.png", png, content_type="image/png"
        )
        per_class = {
            c: {"precision": 0.9, "recall": 0.8, "ap50": 0.7, "ap50_95": 0.4, "instances": 2} for c in CLASSES
        }
        evaluation = {
            "split": "test",
            "images": 3,
            "challenger": {
                "version": version["version"],
                "metrics": {"mAP50-95": 0.3},
                "per_class": per_class,
            },
            "champion": {"version": 1, "metrics": {"mAP50-95": 0.2}},
        }
        finish = RunFinish(
            status="succeeded",
            model_version=version["version"],
            evaluation=evaluation,
            artifacts={"pr_curve.png": f"runs/{run['id']}/pr.png"},
            metrics={"mAP50-95": 0.3},
            attempt=1,
        )
        assert worker.finish(run["id"], finish).status == "succeeded"


def upload_versions(stack: Stack, model: str, tmp_path: Path, count: int) -> Path:
    """`count` versions of `model` (the test detector with distinct bytes), v1 in production."""
    assert stack.api.post("/api/v1/models", json={"name": model, "task": "detect"}).status_code == 201
    for n in range(1, count + 1):
        onnx = variant(detect_model(), tmp_path / f"{model}-{n}.onnx", f"{model}-{n}")
        with open(onnx, "rb") as fh:
            resp = stack.api.post(
                f"/api/v1/models/{model}/versions",
                files={"file": ("m.onnx", fh)},
                data={"metrics": json.dumps({"mAP50": 0.5 + n / 10, "mAP50-95": 0.2 + n / 10})},
            )
        assert resp.status_code == 201, resp.text
    assert stack.api.put(f"/api/v1/models/{model}/aliases/production", json={"version": 1}).is_success
    return tmp_path / f"{model}-next.onnx"


def test_training_lists_datasets_and_runs_watches_one_and_cancels_another(monkeypatch, start_stack, tmp_path):
    stack = start_stack(inference=False)
    add_bench_dataset(stack)
    next_onnx = variant(detect_model(), upload_versions(stack, "bench-tools", tmp_path, 1), "trained")
    body = {
        "dataset": "bench-data",
        "dataset_version": 2,
        "model_name": "bench-tools",
        "architecture": "yolov8n.yaml",
    }
    queued = stack.api.post("/api/v1/training-runs", json={**body, "epochs": 5, "imgsz": 160})
    assert queued.status_code == 201, queued.text
    played = stack.api.post("/api/v1/training-runs", json={**body, "epochs": 3, "imgsz": 160})
    assert played.status_code == 201, played.text
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(png, format="PNG")
    play_worker(stack, played.json(), next_onnx, png.getvalue())

    at = open_page(monkeypatch, stack, "engineer", "3_Training.py")
    assert not at.error, [e.value for e in at.error]
    datasets, versions = at.dataframe[0].value, at.dataframe[1].value
    assert datasets.to_dict("records")[0] | {"created": None} == {
        "name": "bench-data",
        "task": "detect",
        "classes": "wrench, screwdriver, tape",
        "items": 3,
        "latest version": 2,
        "station": "",
        "created": None,
    }
    assert [m.value for m in at.metric][:1] == ["3"]
    assert versions[["version", "items", "added"]].to_dict("records") == [
        {"version": 2, "items": 3, "added": 1},
        {"version": 1, "items": 2, "added": 2},
    ]

    # Runs: the newest (the one played through) is watched first
    runs = table_with(at, "decision")
    assert list(runs["status"]) == ["succeeded", "queued"]
    assert at.selectbox(key="training_run").value == played.json()["id"]
    markdown_text = " ".join(markdown(at))
    assert "succeeded" in markdown_text
    epochs = table_with(at, "box_loss")
    assert list(epochs.index) == [1, 2, 3] and list(epochs["mAP50"]) == pytest.approx([0.2, 0.4, 0.6])
    assert len(at.get("vega_lite_chart")) >= 2  # losses, and mAP50 / mAP50-95
    side_by_side = table_with(at, "production (v1)")
    assert side_by_side.loc["mAP50-95"].to_dict() == {"this run (v2)": 0.3, "production (v1)": 0.2}
    per_class = table_with(at, "ap50")
    assert sorted(per_class.index) == sorted(CLASSES)
    assert any("staged" in i.value and "mAP50-95" in i.value for i in at.info)
    assert [img.captions for img in at.image] == [["pr_curve.png"]]

    # the queued run: nothing reported yet; cancelled after the confirmation
    at.selectbox(key="training_run").set_value(queued.json()["id"]).run()
    assert "No epoch reported yet." in [c.value for c in at.caption]
    assert button(at, "Cancel run").disabled
    at.checkbox(key=f"cancel-confirm-{queued.json()['id']}").check().run()
    button(at, "Cancel run").click().run()
    assert not at.error, [e.value for e in at.error]
    assert stack.api.get(f"/api/v1/training-runs/{queued.json()['id']}").json()["status"] == "cancelled"
    assert any("cancelled" in m for m in markdown(at))  # the page shows the run as it is now
    assert not [b for b in at.button if b.label == "Cancel run"]

    # a new run from the form
    at.selectbox(key="new_run_dataset").set_value("bench-data").run()
    assert at.selectbox(key="new_run_version-bench-data").value == 2
    at.text_input(key="new_run_model-bench-data").set_value("bench-next")
    [epochs_input] = [n for n in at.number_input if n.label == "Epochs"]
    epochs_input.set_value(7)
    button(at, "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any(s.value.startswith("Run ") and "queued" in s.value for s in at.success)
    started = stack.api.get("/api/v1/training-runs", params={"model": "bench-next"}).json()["items"]
    assert [(r["dataset_version"], r["epochs"], r["architecture"], r["status"]) for r in started] == [
        (2, 7, "yolov8n.yaml", "queued")
    ]


def test_models_compares_versions_and_promotes_one_after_confirmation(monkeypatch, start_stack, tmp_path):
    stack = start_stack(inference=False)
    upload_versions(stack, "bench", tmp_path, 2)

    at = open_page(monkeypatch, stack, "engineer", "4_Models.py")
    assert not at.error, [e.value for e in at.error]
    assert not at.warning
    versions = at.dataframe[1].value
    assert list(versions["version"]) == [2, 1] and list(versions["aliases"]) == ["", "production"]
    comparison = table_with(at, "best")
    assert comparison.loc["mAP50"].to_dict() == {
        "v1": pytest.approx(0.6),
        "v2": pytest.approx(0.7),
        "best": "v2",
    }

    assert at.selectbox(key="promote-version-bench").value == 2
    promote = button(at, "Promote v2 to production")
    assert promote.disabled  # no reason, not confirmed
    at.text_input(key="promote-reason-bench").set_value("v2 finds the screwdrivers under glare")
    at.checkbox(key="promote-confirm-bench").check().run()
    button(at, "Promote v2 to production").click().run()
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["bench@production is now v2 (was v1)."]
    aliases = {a["alias"]: a["version"] for a in stack.api.get("/api/v1/models/bench/aliases").json()}
    assert aliases == {"production": 2}
    history = table_with(at, "reason")
    assert history.iloc[0][["alias", "from", "to", "reason"]].to_dict() == {
        "alias": "production",
        "from": "v1",
        "to": "v2",
        "reason": "v2 finds the screwdrivers under glare",
    }
    assert "ui-engineer" in history.iloc[0]["by"]


def test_models_with_a_viewer_key_says_the_engineer_role_is_needed(monkeypatch, start_stack, tmp_path):
    stack = start_stack(inference=False)
    upload_versions(stack, "bench", tmp_path, 2)

    at = open_page(monkeypatch, stack, "viewer", "4_Models.py")
    assert any("need the engineer role; you are signed in as viewer" in i.value for i in at.info)
    assert not [b for b in at.button if b.label.startswith("Promote")]
    assert at.dataframe  # the viewer still sees the models and versions
    aliases = {a["alias"]: a["version"] for a in stack.api.get("/api/v1/models/bench/aliases").json()}
    assert aliases == {"production": 1}


@pytest.mark.parametrize(
    "page",
    [
        "0_Home.py",
        "1_Inspect.py",
        "2_History.py",
        "3_Training.py",
        "4_Models.py",
        "6_Datasets.py",
        "7_Stations.py",
        "8_Admin.py",
    ],
)
def test_every_page_is_in_the_app_and_says_when_the_gateway_is_unreachable(monkeypatch, page):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", dead)
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    st.cache_resource.clear()
    at = AppTest.from_file(str(HOME), default_timeout=30)
    # signed in as an admin a moment ago; the gateway has gone away since
    at.session_state[CREDENTIAL] = "lss_whatever"
    at.session_state[PERSON] = {"name": "ada", "display_name": "Ada", "role": "admin", "kind": "user"}
    at.run()
    at.switch_page(f"screens/{page}").run()  # in the admin's navigation
    assert not at.exception, at.exception
    [error] = at.error
    assert "the gateway is unreachable" in error.value and dead in error.value
