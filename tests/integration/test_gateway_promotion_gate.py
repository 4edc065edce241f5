"""The promotion gate on a real registry, inference service, Postgres, Redis and S3 store: a station's
verified history (five inspections the operators confirmed) judges each move of `production`. A version
that says NOK everywhere replays worse and is refused with 409 and the figures; an engineer may not
override, an admin may, with a reason the audit log keeps with the figures; a version as good as
production passes; a training run's auto-promotion on the gated model only stages, and the gateway
promotes the staged version once its replay passes (and not when it fails); bad input is a clear 4xx."""

import random
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from linesight_core.clients.training import TrainingRunsClient
from linesight_core.contracts.training import RunFinish
from linesight_core.db import session_scope
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.db.models import Dataset, DatasetVersion
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.integration.test_gateway_inspections import env  # noqa: F401 - a fixture
from tests.support.onnx_models import with_metadata, yolo_onnx
from tests.support.servers import private_broker, serve
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
ADMIN = {"X-API-Key": ADMIN_KEY}
NAMES = "{" + ", ".join(f"{i}: '{c}'" for i, c in enumerate(CLASSES)) + "}"
GATE_TYPE = "https://linesight.dev/problems/promotion-gate"


@pytest.fixture
def stack(env, fresh_service_env, redis_url):  # noqa: F811 - env is the inspections tests' fixture
    monkeypatch = env
    monkeypatch.setenv("LINESIGHT_INFERENCE_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("LINESIGHT_REPLAY_POLL_SECONDS", "0.2")
    monkeypatch.setenv("LINESIGHT_CELERY_BROKER_URL", private_broker(redis_url, "promotion-gate"))
    registry_app = create_registry(RegistrySettings())
    with serve(registry_app) as registry_url:
        monkeypatch.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            monkeypatch.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                yield gw, registry_app, registry_url


def variant(src, tmp_path, tag: str):
    """The same weights, other bytes: a new version with the same answers."""
    return with_metadata(src, tmp_path / f"variant-{tag}.onnx", linesight_test_variant=tag)


def upload(gw, name: str, path) -> int:
    with open(path, "rb") as fh:
        resp = gw.post(f"/api/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]


def key(gw, role: str) -> dict[str, str]:
    resp = gw.post("/api/v1/api-keys", json={"name": role, "role": role}, headers=ADMIN)
    return {"X-API-Key": resp.json()["key"]}


def replay(gw, sid: str, version: int, headers) -> dict:
    resp = gw.post(
        f"/api/v1/stations/{sid}/replays",
        json={"model": "gp", "version": version, "last_n": 100},
        headers=headers,
    )
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 120
    while True:
        job = gw.get(f"/api/v1/stations/{sid}/replays/{resp.json()['id']}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "completed", job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def production(gw) -> int:
    return gw.get("/api/v1/models/gp", headers=ADMIN).json()["aliases"]["production"]


def promote(gw, version: int, headers, **extra) -> httpx.Response:
    return gw.put("/api/v1/models/gp/aliases/production", json={"version": version, **extra}, headers=headers)


def audit_events(gw, action: str) -> list[dict]:
    return gw.get("/api/v1/audit", params={"action": action}, headers=ADMIN).json()["items"]


def test_the_gate_judges_promotions_by_the_replay_of_verified_history(stack, tmp_path):
    gw, registry_app, registry_url = stack
    engineer, operator = key(gw, "engineer"), key(gw, "operator")
    good = detect_model()
    gw.post("/api/v1/models", json={"name": "gp", "task": "detect"}, headers=ADMIN)
    assert upload(gw, "gp", good) == 1
    blind = yolo_onnx(tmp_path / "blind.onnx", names=NAMES, classes=len(CLASSES), weight=0.0)
    assert upload(gw, "gp", blind) == 2  # finds nothing: NOK everywhere
    assert upload(gw, "gp", variant(good, tmp_path, "3")) == 3  # the production answers, other bytes
    assert promote(gw, 1, ADMIN).status_code == 200  # no gate yet
    station = gw.post(
        "/api/v1/stations",
        json={
            "name": "gp-bench",
            "mode": "detect",
            "model_name": "gp",
            "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
        },
        headers=ADMIN,
    )
    assert station.status_code == 201, station.text
    sid = station.json()["id"]
    gw.post("/api/v1/models", json={"name": "gp-cls", "task": "classify"}, headers=ADMIN)
    upload(gw, "gp-cls", yolo_onnx(tmp_path / "cls.onnx", task="classify"))
    gw.put("/api/v1/models/gp-cls/aliases/production", json={"version": 1}, headers=ADMIN)
    cls_station = gw.post(
        "/api/v1/stations",
        json={"name": "gp-paint", "mode": "classify", "model_name": "gp-cls", "ok_classes": ["ok"]},
        headers=ADMIN,
    )
    assert cls_station.status_code == 201, cls_station.text

    # Verified history: five benches (the first five of the replay tests' scenes, which the production
    # model counts right), each confirmed by an operator. Truth: OK, NOK, OK, NOK, NOK.
    rng = random.Random(11)
    for present in ([0, 1, 2], [0, 1], [0, 1, 2], [2], []):
        img, _ = draw_scene(rng, present=present)
        resp = gw.post(
            "/api/v1/inspections",
            data={"station_id": sid},
            files={"image": ("a.jpg", jpeg(img))},
            headers=ADMIN,
        )
        assert resp.status_code == 201 and resp.json()["status"] == "completed", resp.text
        fed = gw.post(
            f"/api/v1/inspections/{resp.json()['id']}/feedback", json={"correct": True}, headers=ADMIN
        )
        assert fed.status_code == 201, fed.text

    # Bad input: a clear 4xx each; an engineer may not set gates.
    gate = f"/api/v1/stations/{sid}/promotion-gate"
    bad = [
        (f"/api/v1/stations/{uuid.uuid4()}/promotion-gate", {"min_verified": 5}, 404, "no station"),
        (gate, {"min_verified": -1}, 422, "min_verified"),
        (gate, {"min_verified": 0}, 422, "min_verified"),
        ("/api/v1/models/nope/promotion-gate", {"min_verified": 5}, 404, "nope"),
        (
            "/api/v1/models/gp/promotion-gate",
            {"stations": [cls_station.json()["id"]]},
            422,
            "but gp is a detect model",
        ),
        ("/api/v1/models/gp/promotion-gate", {"stations": [str(uuid.uuid4())]}, 404, "no station"),
    ]
    for path, body, status, words in bad:
        resp = gw.put(path, json=body, headers=ADMIN)
        assert resp.status_code == status, (path, body, resp.text)
        assert words in resp.text, resp.text
    assert gw.put(gate, json={"min_verified": 5}, headers=engineer).status_code == 403
    assert gw.get("/api/v1/models/gp", headers=ADMIN).json()["promotion_gated"] is False

    resp = gw.put(gate, json={"min_verified": 5}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json()["gated"] is True
    assert resp.json()["judged_by"] == [{"station_id": sid, "station": "gp-bench", "min_verified": 5}]
    assert gw.get("/api/v1/models/gp", headers=ADMIN).json()["promotion_gated"] is True
    assert gw.get("/api/v1/models/gp/promotion-gate", headers=operator).json()["gated"] is True

    # No replay yet: refused, and an unknown version is 404, not a refusal.
    refused = promote(gw, 2, engineer)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == GATE_TYPE and refused.json()["failed_rules"] == ["no_replay"]
    assert "version 2 has no completed replay" in refused.json()["detail"]
    assert promote(gw, 9, engineer).status_code == 404

    # The blind version replays worse: refused with the figures, and production stays.
    worse = replay(gw, sid, 2, engineer)["result"]
    assert worse["candidate"]["verdict_accuracy"] == pytest.approx(3 / 5)
    assert worse["production"]["verdict_accuracy"] == 1.0
    refused = promote(gw, 2, engineer, reason="looks fine")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["failed_rules"] == ["verdict_accuracy"]
    [check] = problem["gate"]["stations"]
    assert check["station"] == "gp-bench" and check["verified"] == 5 and check["min_verified"] == 5
    assert check["candidate"]["verdict_accuracy"] == pytest.approx(0.6)
    assert check["production"]["verdict_accuracy"] == 1.0
    assert check["candidate"]["nok_recall"] == check["production"]["nok_recall"] == 1.0
    assert "verdict accuracy 0.6 is below production v1's 1" in problem["detail"]
    assert production(gw) == 1

    # Override: an engineer may not; an admin may, and the audit log keeps the reason and the figures.
    assert promote(gw, 2, engineer, override_reason="I know better").status_code == 403
    assert production(gw) == 1
    assert promote(gw, 2, ADMIN, override_reason="x").status_code == 422  # a reason, not a token
    moved = promote(gw, 2, ADMIN, reason="trial", override_reason="camera moved; history is unfair")
    assert moved.status_code == 200 and production(gw) == 2, moved.text
    [event] = audit_events(gw, "model.promotion_gate_override")
    assert (
        event["object_id"] == "gp"
        and event["details"]["override_reason"] == "camera moved; history is unfair"
    )
    assert event["details"]["gate"]["failed_rules"] == ["verdict_accuracy"]
    assert event["details"]["gate"]["stations"][0]["candidate"]["verdict_accuracy"] == pytest.approx(0.6)
    history = gw.get("/api/v1/models/gp/alias-history", params={"alias": "production"}, headers=ADMIN).json()
    assert "promotion gate overridden: camera moved" in history["items"][0]["reason"]
    # A rollback is a move of production too: version 1 was never replayed against version 2.
    back = promote(gw, 1, engineer)
    assert back.status_code == 409 and back.json()["failed_rules"] == ["no_replay"], back.text
    assert promote(gw, 1, ADMIN, override_reason="roll back the trial").status_code == 200

    # A version as good as production passes, once enough verified inspections were replayed.
    assert gw.put(gate, json={"min_verified": 6}, headers=ADMIN).status_code == 200
    same = replay(gw, sid, 3, engineer)["result"]
    assert same["candidate"]["verdict_accuracy"] == same["production"]["verdict_accuracy"] == 1.0
    few = promote(gw, 3, engineer)
    assert few.status_code == 409 and few.json()["failed_rules"] == ["too_few_verified"], few.text
    assert "replayed 5 verified inspections; the gate asks for at least 6" in few.json()["detail"]
    assert gw.put(gate, json={"min_verified": 5}, headers=ADMIN).status_code == 200
    passed = promote(gw, 3, engineer, reason="replay at gp-bench as good as v1")
    assert passed.status_code == 200 and production(gw) == 3, passed.text
    assert audit_events(gw, "model.alias_move")[0]["details"]["gate"]["passed"] is True

    # Auto-promotion from training on the gated model: the run only stages its version; the gateway
    # promotes it when its replay passes the gate, and leaves it staged when the replay fails.
    with session_scope(registry_app.state.session_factory) as session:
        dataset = Dataset(name="gp-data", task="detect", class_names=list(CLASSES))
        session.add(dataset)
        session.flush()
        session.add(
            DatasetVersion(
                dataset_id=dataset.id,
                version=1,
                task="detect",
                class_names=list(CLASSES),
                manifest_key="manifests/gp-data/1.json",
                manifest_sha256="0" * 64,
                item_count=12,
                split_counts={"train": 8, "val": 2, "test": 2},
                class_counts={},
                diff={"against": None, "added": [], "removed": [], "relabelled": []},
            )
        )
    with (
        httpx.Client(base_url=registry_url, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}) as internal,
        TrainingRunsClient(registry_url, SERVICE_TOKEN, retries=1) as worker,
    ):

        def train(path, tag: str) -> dict:
            """A run asking for auto-promotion, played through as the worker would; better than v3 on
            its test split."""
            created = internal.post(
                "/v1/training-runs",
                json={
                    "dataset": "gp-data",
                    "dataset_version": 1,
                    "model_name": "gp",
                    "architecture": "yolov8n.yaml",
                    "auto_promote": True,
                },
            )
            assert created.status_code == 201, created.text
            run = created.json()
            started = worker.start(run["id"], f"training@{tag}", run["task_id"])
            assert started is not None
            version = worker.upload_model_version(
                "gp",
                path,
                metrics={"mAP50-95": 0.9},
                params={"epochs": 1},
                dataset_version_id=run["dataset_version_id"],
                training_run_id=run["id"],
                created_by=f"training:{run['id']}",
            )
            champion = {"version": 3, "metrics": {"mAP50-95": 0.5}}
            evaluation = {"split": "test", "challenger": {"metrics": {"mAP50-95": 0.9}}, "champion": champion}
            return worker.finish(
                run["id"],
                RunFinish(
                    status="succeeded",
                    model_version=version["version"],
                    evaluation=evaluation,
                    metrics={"mAP50-95": 0.9},
                    attempt=started.attempt,
                ),
            ).model_dump(mode="json")

        held = train(variant(blind, tmp_path, "4"), "a")
        assert (held["model_version"], held["staged"], held["promoted"]) == (4, True, False)
        assert "promotion gate" in held["decision"]
        assert gw.get("/api/v1/models/gp", headers=ADMIN).json()["aliases"] == {"production": 3, "staging": 4}
        replay(gw, sid, 4, engineer)  # worse than v3: the gate keeps it staged

        ready = train(variant(good, tmp_path, "5"), "b")
        assert (ready["model_version"], ready["staged"], ready["promoted"]) == (5, True, False)
        assert production(gw) == 3
        replay(gw, sid, 5, engineer)
    deadline = time.monotonic() + 30
    while production(gw) != 5:
        assert time.monotonic() < deadline, "the passing replay did not promote the staged version"
        time.sleep(0.2)
    # One automatic promotion, 3 → 5: version 4's failing replay (run before, by the same runner) moved
    # nothing.
    [event] = audit_events(gw, "model.auto_promote")
    assert event["actor_name"] == "system" and event["details"]["training_run"] == ready["id"]
    assert event["details"]["gate"]["passed"] is True and event["details"]["from_version"] == 3
    moves = gw.get("/api/v1/models/gp/alias-history", params={"alias": "production"}, headers=ADMIN).json()
    assert moves["items"][0]["moved_by"] == "promotion-gate"
    assert (moves["items"][0]["from_version"], moves["items"][0]["to_version"]) == (3, 5)

    # Without the gate, production moves freely again, and training may promote by itself.
    assert gw.delete(gate, headers=engineer).status_code == 403
    assert gw.delete(gate, headers=ADMIN).status_code == 204
    assert gw.get("/api/v1/models/gp/promotion-gate", headers=ADMIN).json()["gated"] is False
    assert gw.get("/api/v1/models/gp", headers=ADMIN).json()["promotion_gated"] is False
    assert promote(gw, 2, engineer).status_code == 200
