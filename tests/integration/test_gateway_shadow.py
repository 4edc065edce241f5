"""Shadow mode on a real registry, inference service, Postgres and S3 store: a station names `challenger`
(a version that finds nothing; a user alias, since `staging` cannot be removed) as its shadow alias;
every live inspection keeps the production answer and is answered in the background by that version
too, which engineers see next to the live answer, counted and scored per station against the operators'
feedback. Then the alias is taken away in the middle of a stream of inspections: no live inspection
fails, the shadow failures are recorded. And the 4xx of a bad shadow alias."""

import random
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.integration.test_gateway_inspections import env  # noqa: F401 - a fixture
from tests.support.onnx_models import yolo_onnx
from tests.support.servers import serve
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
ADMIN = {"X-API-Key": ADMIN_KEY}
NAMES = "{" + ", ".join(f"{i}: '{c}'" for i, c in enumerate(CLASSES)) + "}"
ALL = {"wrench": 1, "screwdriver": 1, "tape": 1}


@pytest.fixture
def stack(env, fresh_service_env):  # noqa: F811 - env is the inspections tests' fixture
    monkeypatch = env
    monkeypatch.setenv("LINESIGHT_INFERENCE_TIMEOUT_SECONDS", "60")  # the first inspection loads the model
    monkeypatch.setenv("LINESIGHT_SHADOW_CONCURRENCY", "1")  # answers in the order of the inspections
    monkeypatch.setenv("LINESIGHT_RELOAD_CHECK_SECONDS", "0.5")
    with serve(create_registry(RegistrySettings())) as registry_url:
        monkeypatch.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            monkeypatch.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                yield gw, inference_url


def key(gw, role: str) -> dict[str, str]:
    resp = gw.post("/api/v1/api-keys", json={"name": role, "role": role}, headers=ADMIN)
    return {"X-API-Key": resp.json()["key"]}


def upload(gw, name: str, path) -> int:
    with open(path, "rb") as fh:
        resp = gw.post(f"/api/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]


def wait_shadow(gw, inspection_id: str, headers) -> dict:
    deadline = time.monotonic() + 60
    while True:
        shadow = gw.get(f"/api/v1/inspections/{inspection_id}", headers=headers).json()["shadow"]
        if shadow is not None:
            return shadow
        assert time.monotonic() < deadline, f"no shadow answer for {inspection_id}"
        time.sleep(0.1)


def shadow_metrics(gw, station: str) -> dict[tuple[str, ...], float]:
    """The station's shadow series: (name without the prefix, label values but the station's) → value."""
    found = {}
    for line in gw.get("/metrics").text.splitlines():
        if not line.startswith("linesight_gateway_shadow_") or "_created{" in line:
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.removeprefix("linesight_gateway_shadow_").partition("{")
        pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(",") if p)
        if pairs.pop("station", None) == f'"{station}"':
            found[(name, *(v.strip('"') for _, v in sorted(pairs.items())))] = float(value)
    return found


def test_shadow_answers_live_inspections_without_touching_them(stack, tmp_path):
    gw, inference_url = stack
    engineer, operator = key(gw, "engineer"), key(gw, "operator")
    gw.post("/api/v1/models", json={"name": "sh", "task": "detect"}, headers=ADMIN)
    assert upload(gw, "sh", detect_model()) == 1
    assert upload(gw, "sh", yolo_onnx(tmp_path / "blind.onnx", names=NAMES, classes=3, weight=0.0)) == 2
    assert upload(gw, "sh", yolo_onnx(tmp_path / "part.onnx", names="{0: 'part'}")) == 3
    for alias, version in (("production", 1), ("challenger", 2), ("parts", 3)):
        resp = gw.put(f"/api/v1/models/sh/aliases/{alias}", json={"version": version}, headers=ADMIN)
        assert resp.status_code == 200, resp.text
    station = {
        "name": "sh-bench",
        "mode": "detect",
        "model_name": "sh",
        "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
    }

    # A bad shadow alias: a 4xx that says why, and no station.
    bad = [
        ("nope", "has no version under alias 'nope'"),
        ("production", "is the alias station 'sh-bench' is served by"),
        ("parts", "has no class screwdriver, tape, wrench"),
        ("Not An Alias", "shadow_alias"),
    ]
    for alias, words in bad:
        resp = gw.post("/api/v1/stations", json=station | {"shadow_alias": alias}, headers=ADMIN)
        assert resp.status_code == 422 and words in resp.text, (alias, resp.text)
    assert gw.get("/api/v1/stations", headers=ADMIN).json()["total"] == 0

    resp = gw.post("/api/v1/stations", json=station | {"shadow_alias": "challenger"}, headers=ADMIN)
    assert resp.status_code == 201 and resp.json()["shadow_alias"] == "challenger", resp.text
    sid = resp.json()["id"]
    for change, words in (
        ({"shadow_alias": "nope"}, "no version under alias"),
        ({"model_alias": "challenger"}, ""),
    ):
        resp = gw.patch(f"/api/v1/stations/{sid}", json=change, headers=ADMIN)
        assert resp.status_code == 422 and words in resp.text, resp.text
    assert gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).json()["shadow_alias"] == "challenger"

    rng = random.Random(11)  # the scenes of the replay tests, which the test detector counts right
    scenes = {"A": [0, 1, 2], "B": [0, 1], "C": [0, 1, 2], "D": [2], "E": [], "F": [0, 1, 2]}
    photos = {k: jpeg(draw_scene(rng, present=p)[0]) for k, p in scenes.items()}

    def inspect(name: str) -> dict:
        resp = gw.post(
            "/api/v1/inspections",
            data={"station_id": sid},
            files={"image": ("p.jpg", photos[name])},
            headers=operator,
        )
        assert resp.status_code == 201 and resp.json()["status"] == "completed", resp.text
        assert resp.json()["shadow"] is None  # the live answer never waits for the shadow's
        return resp.json()

    live = {k: inspect(k) for k in "ABE"}
    batch = gw.post(
        "/api/v1/inspections/batch",
        data={"station_id": sid},
        files=[("images", ("c.jpg", photos["C"])), ("images", ("e.jpg", photos["E"]))],
        headers=operator,
    )
    assert batch.status_code == 200 and all(i["status"] == "completed" for i in batch.json()), batch.text
    live["C"], live["E2"] = batch.json()
    # Shadow mode off: no shadow answer; on again: answered (one worker: in order, so the one
    # inspected while off would have been answered first).
    assert (
        gw.patch(f"/api/v1/stations/{sid}", json={"shadow_alias": None}, headers=ADMIN).json()["shadow_alias"]
        is None
    )
    off = inspect("F")
    gw.patch(f"/api/v1/stations/{sid}", json={"shadow_alias": "challenger"}, headers=ADMIN)
    live["F"] = inspect("F")
    assert live["A"]["verdict"] == "OK" and live["A"]["counts"] == ALL
    assert live["E"]["verdict"] == "NOK" and not any(live["E"]["counts"].values())

    shadows = {k: wait_shadow(gw, i["id"], engineer) for k, i in live.items()}
    assert gw.get(f"/api/v1/inspections/{off['id']}", headers=engineer).json()["shadow"] is None
    for k, answer in shadows.items():
        # The blind version says NOK with nothing counted: it agrees only where the live answer did too.
        empty = live[k]["verdict"] == "NOK" and not any(live[k]["counts"].values())
        assert answer["outcome"] == ("agree" if empty else "disagree"), (k, answer)
        assert answer["version"] == 2 and answer["alias"] == "challenger" and answer["model"] == "sh"
        assert answer["verdict"] == "NOK" and answer["counts"] == {} and answer["error"] is None
        assert answer["latency_ms"] > 0
        # ... stored next to the live answer, which it did not change; operators see only the live one.
        seen = gw.get(f"/api/v1/inspections/{live[k]['id']}", headers=operator).json()
        assert seen["shadow"] is None
        assert (seen["verdict"], seen["counts"]) == (live[k]["verdict"], live[k]["counts"])
    listed = gw.get("/api/v1/inspections", params={"station_id": sid}, headers=engineer).json()["items"]
    assert {i["id"] for i in listed if i["shadow"]} == {i["id"] for i in live.values()}

    # The operators confirm A (complete), B (no tape) and E (empty): live is right on all three, the
    # blind shadow only on the two NOK ones.
    for k in "ABE":
        resp = gw.post(
            f"/api/v1/inspections/{live[k]['id']}/feedback", json={"correct": True}, headers=operator
        )
        assert resp.status_code == 201, resp.text
    assert gw.get(f"/api/v1/stations/{sid}/shadow", headers=operator).status_code == 403
    report = gw.get(f"/api/v1/stations/{sid}/shadow", headers=engineer).json()
    agree = sum(1 for s in shadows.values() if s["outcome"] == "agree")
    assert report["shadow_alias"] == "challenger" and report["live_alias"] == "production"
    assert (report["answered"], report["agree"], report["failed"]) == (6, agree, 0)
    assert report["agreement"] == pytest.approx(agree / 6)
    [v2] = report["versions"]
    assert v2["shadow_version"] == 2 and v2["live_versions"] == [1] and v2["verified"] == 3
    assert v2["live"]["verdict_accuracy"] == 1.0 and v2["live"]["nok_recall"] == 1.0
    assert v2["shadow"]["verdict_accuracy"] == pytest.approx(2 / 3)
    assert v2["shadow"]["nok_recall"] == 1.0 and v2["shadow"]["false_nok_rate"] == 1.0
    assert len(v2["disagreements"]) == 6 - agree
    counted = shadow_metrics(gw, "sh-bench")
    assert counted["answers_total", "agree"] == agree
    assert counted["answers_total", "disagree"] == 6 - agree
    assert counted["feedback_total", "right", "live"] == 3
    assert counted["feedback_total", "right", "shadow"] == 2
    assert counted["feedback_total", "wrong", "shadow"] == 1

    # Staging is taken away in the middle of a stream: the inspections sent just before keep their live
    # answers whatever their shadow does, and once the inference service no longer serves the alias every
    # shadow answer fails, recorded, while every live one is still the production answer.
    before = [inspect(k) for k in "ABCDEF"]
    assert gw.delete("/api/v1/models/sh/aliases/challenger", headers=engineer).status_code == 204
    deadline = time.monotonic() + 30
    while True:
        probe = httpx.post(
            f"{inference_url}/v1/predict",
            params={"model": "sh", "alias": "challenger"},
            content=photos["A"],
            headers={"Content-Type": "image/jpeg", "Authorization": f"Bearer {SERVICE_TOKEN}"},
        )
        if probe.status_code == 404:
            break
        assert time.monotonic() < deadline, probe.text
        time.sleep(0.2)
    after = [inspect(k) for k in "ABE"]
    for name, answer in zip("ABCDEFABE", before + after, strict=True):
        if name in live:  # the same photo's answer before challenger went: the production answer still
            assert (answer["verdict"], answer["counts"]) == (live[name]["verdict"], live[name]["counts"])
    for answer in before:
        shadow = wait_shadow(gw, answer["id"], engineer)
        assert shadow["outcome"] in ("failed", "agree", "disagree"), shadow
        assert shadow["version"] == (None if shadow["outcome"] == "failed" else 2)
    for answer in after:
        shadow = wait_shadow(gw, answer["id"], engineer)
        assert shadow["outcome"] == "failed" and shadow["version"] is None, shadow
        assert shadow["error"].startswith("404") and "challenger" in shadow["error"], shadow
    report = gw.get(f"/api/v1/stations/{sid}/shadow", headers=engineer).json()
    assert report["failed"] >= 3 and "challenger" in report["last_error"]
    assert report["inspections"] == 6 + 6 + 3
    counted = shadow_metrics(gw, "sh-bench")
    assert counted["answers_total", "failed"] == report["failed"]
    assert counted.get(("answers_total", "dropped"), 0) == 0
