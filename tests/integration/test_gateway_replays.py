"""Replays of verified history on a real registry, inference service, Postgres and S3 store: a station's
inspections with feedback (some confirmed, some corrected) replayed through a version that finds nothing
and through production; the figures equal the ones worked out by hand from the feedback; a version that
cannot be loaded fails the job with the reason; cancel, resume after a restart, and the 4xx of bad input."""

import random
import time
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from linesight_core.storage import ObjectStore
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_gateway_inspections import env  # noqa: F401 - a fixture
from tests.support.onnx_models import yolo_onnx
from tests.support.servers import serve
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
ADMIN = {"X-API-Key": ADMIN_KEY}
NAMES = "{" + ", ".join(f"{i}: '{c}'" for i, c in enumerate(CLASSES)) + "}"
ALL = {"wrench": 1, "screwdriver": 1, "tape": 1}
NO_TAPE = {"wrench": 1, "screwdriver": 1, "tape": 0}


@pytest.fixture
def stack(env, fresh_service_env):  # noqa: F811 - env is the inspections tests' fixture
    monkeypatch = env
    # The first inspection loads the model; on a busy machine that can take longer than the default
    # wait, and a `pending` inspection has no answer to give feedback on.
    monkeypatch.setenv("LINESIGHT_INFERENCE_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("LINESIGHT_REPLAY_POLL_SECONDS", "0.2")
    monkeypatch.setenv("LINESIGHT_REPLAY_STALE_SECONDS", "1")
    with serve(create_registry(RegistrySettings())) as registry_url:
        monkeypatch.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        # This replica loads nothing above 320 px a side: a 640 px version stored in the registry is one
        # whose model cannot be loaded.
        with serve(create_inference(InferenceSettings(max_model_imgsz=320))) as inference_url:
            monkeypatch.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                yield gw, fresh_service_env["LINESIGHT_DATABASE_URL"]


def upload(gw, name: str, path) -> int:
    with open(path, "rb") as fh:
        resp = gw.post(f"/api/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]


def wait_job(gw, sid: str, job_id: str, headers, statuses=("completed", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = gw.get(f"/api/v1/stations/{sid}/replays/{job_id}", headers=headers).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_replay_reports_both_versions_against_the_operators_truth(stack, tmp_path):
    gw, database_url = stack
    engineer = {
        "X-API-Key": gw.post(
            "/api/v1/api-keys", json={"name": "eng", "role": "engineer"}, headers=ADMIN
        ).json()["key"]
    }
    operator = {
        "X-API-Key": gw.post(
            "/api/v1/api-keys", json={"name": "op", "role": "operator"}, headers=ADMIN
        ).json()["key"]
    }
    gw.post("/api/v1/models", json={"name": "rp", "task": "detect"}, headers=ADMIN)
    assert upload(gw, "rp", detect_model()) == 1
    blind = yolo_onnx(tmp_path / "blind.onnx", names=NAMES, classes=len(CLASSES), weight=0.0)
    assert upload(gw, "rp", blind) == 2
    too_big = yolo_onnx(
        tmp_path / "big.onnx", names=NAMES, classes=len(CLASSES), weight=0.0, imgsz="[640, 640]"
    )
    assert upload(gw, "rp", too_big) == 3
    assert upload(gw, "rp", yolo_onnx(tmp_path / "part.onnx", names="{0: 'part'}")) == 4
    gw.put("/api/v1/models/rp/aliases/production", json={"version": 1}, headers=ADMIN)
    gw.post("/api/v1/models", json={"name": "rp-cls", "task": "classify"}, headers=ADMIN)
    upload(gw, "rp-cls", yolo_onnx(tmp_path / "cls.onnx", task="classify"))

    def station(name: str) -> str:
        resp = gw.post(
            "/api/v1/stations",
            json={
                "name": name,
                "mode": "detect",
                "model_name": "rp",
                "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
            },
            headers=ADMIN,
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    sid, empty_sid = station("rp-bench"), station("rp-quiet")

    # Scenes, what the production model says about them, and the operators' feedback.
    rng = random.Random(11)
    scenes = {"A": [0, 1, 2], "B": [0, 1], "C": [0, 1, 2], "D": [2], "E": [], "F": [0, 1, 2]}
    ids, stored = {}, {}
    for key, present in scenes.items():
        img, _ = draw_scene(rng, present=present)
        resp = gw.post(
            "/api/v1/inspections",
            data={"station_id": sid},
            files={"image": ("a.jpg", jpeg(img))},
            headers=ADMIN,
        )
        assert resp.status_code == 201 and resp.json()["status"] == "completed", resp.text
        ids[key] = resp.json()["id"]
        stored[key] = (resp.json()["verdict"], {c: resp.json()["counts"].get(c, 0) for c in CLASSES})
    # The production model counts these benches right (the figures below are worked out from that).
    assert stored["A"] == ("OK", ALL) and stored["C"] == ("OK", ALL)
    assert stored["B"] == ("NOK", NO_TAPE)
    assert stored["D"] == ("NOK", {"wrench": 0, "screwdriver": 0, "tape": 1})
    assert stored["E"] == ("NOK", {"wrench": 0, "screwdriver": 0, "tape": 0})

    feedback = {
        "A": {"correct": True},
        "B": {"correct": True},
        "E": {"correct": True},
        # The operator says the tape is not there after all, and that D's bench was complete.
        "C": {"correct": False, "corrected_verdict": "NOK", "corrected_counts": NO_TAPE},
        "D": {"correct": False, "corrected_verdict": "OK", "corrected_counts": ALL},
    }  # F has no feedback: it is not verified history
    for key, body in feedback.items():
        resp = gw.post(f"/api/v1/inspections/{ids[key]}/feedback", json=body, headers=ADMIN)
        assert resp.status_code == 201, resp.text

    replays = f"/api/v1/stations/{sid}/replays"
    # Bad input: each a 4xx that says why.
    bad = [
        ({"model": "rp-cls", "version": 1, "last_n": 10}, 422, "classify model"),
        ({"model": "rp", "version": 4, "last_n": 10}, 422, "has no class screwdriver, tape, wrench"),
        ({"model": "rp", "version": 9, "last_n": 10}, 404, ""),
        ({"model": "nope", "version": 1, "last_n": 10}, 404, ""),
        ({"model": "rp", "version": 2}, 422, "last_n"),
        ({"model": "rp", "version": 2, "last_n": 5, "since": "2026-01-01T00:00:00Z"}, 422, "not both"),
        ({"model": "rp", "version": 2, "since": "2099-01-01T00:00:00Z"}, 409, "time window"),
    ]
    for body, status, words in bad:
        resp = gw.post(replays, json=body, headers=engineer)
        assert resp.status_code == status, (body, resp.text)
        assert words in resp.text, resp.text
    resp = gw.post(
        f"/api/v1/stations/{empty_sid}/replays",
        json={"model": "rp", "version": 2, "last_n": 5},
        headers=engineer,
    )
    assert resp.status_code == 409 and "no verified inspections" in resp.json()["detail"]
    assert (
        gw.post(replays, json={"model": "rp", "version": 2, "last_n": 5}, headers=operator).status_code == 403
    )

    resp = gw.post(replays, json={"model": "rp", "version": 2, "last_n": 100}, headers=engineer)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["status"] == "queued" and job["progress"] == {"done": 0, "total": 5}
    assert job["production"] == {"model_name": "rp", "version": 1, "alias": "production"}
    job = wait_job(gw, sid, job["id"], engineer)
    assert job["status"] == "completed", job
    assert job["progress"] == {"done": 5, "total": 5}
    result = job["result"]
    assert result["replayed"] == 5 and result["skipped"] == 0

    # Truth: A OK (all), B NOK (no tape), C NOK (no tape), D OK (all), E NOK (nothing).
    # Production answers as stored: A OK, B NOK, C OK, D NOK (tape only), E NOK (nothing).
    production = result["production"]
    assert production["verified"] == 5
    assert production["verdict_accuracy"] == pytest.approx(3 / 5)  # A, B, E
    assert production["nok_recall"] == pytest.approx(2 / 3)  # B, E of B, C, E
    assert production["false_nok_rate"] == pytest.approx(1 / 2)  # D of A, D
    assert production["counting_accuracy"] == pytest.approx({"screwdriver": 0.8, "tape": 0.8, "wrench": 0.8})
    assert production["all_counts_accuracy"] == pytest.approx(3 / 5)
    # The blind version says NOK with nothing counted, everywhere.
    candidate = result["candidate"]
    assert candidate["verdict_accuracy"] == pytest.approx(3 / 5)  # B, C, E
    assert candidate["nok_recall"] == 1.0 and candidate["false_nok_rate"] == 1.0
    assert candidate["counting_accuracy"] == pytest.approx({"screwdriver": 0.2, "tape": 0.6, "wrench": 0.2})
    assert candidate["all_counts_accuracy"] == pytest.approx(1 / 5)  # E
    # They disagree everywhere but on the empty bench E; each disagreement carries both answers.
    disagreements = {d["inspection_id"]: d for d in result["disagreements"]}
    assert set(disagreements) == {ids[k] for k in "ABCD"} and result["disagreement_count"] == 4
    a = disagreements[ids["A"]]
    assert a["production"]["verdict"] == "OK" and a["candidate"] == {
        "verdict": "NOK",
        "confidence": 1.0,
        "counts": {},
        "boxes": [],
    }
    # each answer keeps the boxes it counted, to be drawn on the photo: production found the three tools
    assert sorted(b["label"] for b in a["production"]["boxes"]) == sorted(ALL)
    assert all(b["x2"] > b["x1"] and b["y2"] > b["y1"] for b in a["production"]["boxes"])
    assert a["truth"] == {"verdict": "OK", "counts": ALL}

    # Found through the version.
    found = gw.get("/api/v1/models/rp/versions/2/replays", headers=engineer).json()
    assert [j["id"] for j in found["items"]] == [job["id"]] and found["items"][0]["result"] == result
    assert gw.get("/api/v1/models/rp/versions/1/replays", headers=engineer).json()["total"] == 0
    assert gw.get(replays, headers=engineer).json()["items"][0]["id"] == job["id"]

    # A version this inference replica cannot load: the job fails and says why.
    resp = gw.post(replays, json={"model": "rp", "version": 3, "last_n": 100}, headers=engineer)
    assert resp.status_code == 202, resp.text
    failed = wait_job(gw, sid, resp.json()["id"], engineer)
    assert failed["status"] == "failed" and "rp version 3 cannot be loaded" in failed["error"], failed

    # A finished job cannot be cancelled.
    assert gw.post(f"{replays}/{job['id']}/cancel", headers=engineer).status_code == 409

    engine = sa.create_engine(database_url)

    def copy_job(**values) -> str:
        """A copy of the finished job, as a gateway that was stopped in the middle of it left it."""
        new_id = str(uuid.uuid4())
        with engine.begin() as conn:
            cols = conn.scalars(
                sa.text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'gateway' "
                    "AND table_name = 'replay_jobs' AND column_name <> 'id'"
                )
            ).all()
            names = ", ".join(cols)
            conn.execute(
                sa.text(
                    f"INSERT INTO gateway.replay_jobs (id, {names}) SELECT :new, {names} "
                    "FROM gateway.replay_jobs WHERE id = :id"
                ),
                {"new": new_id, "id": job["id"]},
            )
            sets = ", ".join(f"{k} = {v}" for k, v in values.items())
            conn.execute(sa.text(f"UPDATE gateway.replay_jobs SET {sets} WHERE id = :new"), {"new": new_id})
        return new_id

    # Resume: a job left running with two answers kept, by a gateway gone quiet, is taken over and
    # finished with the same figures.
    resumed = copy_job(
        status="'running'",
        done="2",
        result="NULL",
        finished_at="NULL",
        heartbeat_at="now() - interval '1 hour'",
        attempts="1",
        items="jsonb_path_query_array(items, '$[0 to 1]')",
    )
    again = wait_job(gw, sid, resumed, engineer)
    assert again["status"] == "completed" and again["result"] == result, again

    # Cancel: asked while the job runs elsewhere (fresh heartbeat), honoured by whoever runs it next.
    running = copy_job(
        status="'running'",
        done="0",
        result="NULL",
        finished_at="NULL",
        heartbeat_at="now() + interval '1 hour'",
        attempts="1",
        items="'[]'::jsonb",
    )
    resp = gw.post(f"{replays}/{running}/cancel", headers=engineer)
    assert resp.status_code == 202 and resp.json()["cancel_requested"] is True
    assert resp.json()["status"] == "running"
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gateway.replay_jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": running},
        )
    cancelled = wait_job(gw, sid, running, engineer)
    assert cancelled["status"] == "cancelled" and cancelled["progress"]["done"] == 0

    # A job its gateways kept dropping (three interruptions) fails and says so.
    dropped = copy_job(
        status="'running'",
        done="0",
        result="NULL",
        finished_at="NULL",
        heartbeat_at="now() - interval '1 hour'",
        attempts="3",
        items="'[]'::jsonb",
    )
    gave_up = wait_job(gw, sid, dropped, engineer)
    assert gave_up["status"] == "failed" and "interrupted 3 times" in gave_up["error"], gave_up

    # A photo gone from storage is skipped, not a failure of the job.
    with engine.connect() as conn:
        key = conn.scalar(
            sa.text("SELECT image_key FROM gateway.inspections WHERE id = :id"), {"id": ids["A"]}
        )
    settings = GatewaySettings()
    ObjectStore.from_settings(settings).delete(settings.bucket("images"), key)
    # (and a time window selects the same five verified inspections)
    window = {"model": "rp", "version": 2, "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    resp = gw.post(replays, json=window, headers=engineer)
    assert resp.status_code == 202 and resp.json()["progress"]["total"] == 5, resp.text
    assert resp.json()["selection"]["since"].startswith("2000-01-01")
    partial = wait_job(gw, sid, resp.json()["id"], engineer)
    assert partial["status"] == "completed", partial
    assert partial["result"]["replayed"] == 4 and partial["result"]["skipped"] == 1
    [skipped] = partial["result"]["skipped_items"]
    assert skipped["inspection_id"] == ids["A"] and "missing from object storage" in skipped["reason"]
    engine.dispose()

    # Counted: three completed (the first, the resumed, this one), two failed, one cancelled; the skip.
    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in gw.get("/metrics").text.splitlines()
        if line.startswith("linesight_gateway_replay_")
    }
    assert metrics['linesight_gateway_replay_jobs_total{outcome="completed"}'] >= 3
    assert metrics['linesight_gateway_replay_jobs_total{outcome="failed"}'] >= 2
    assert metrics['linesight_gateway_replay_jobs_total{outcome="cancelled"}'] >= 1
    assert metrics['linesight_gateway_replay_inspections_total{outcome="skipped"}'] >= 1
