"""The promotion gate starts its own replays, on a served gateway, registry and inference service: a training
run asking for auto-promotion of a gated model only stages its version; the gateway replays that version
at the gated station by itself (no engineer), once; a worse version stays staged, a better one is
promoted by the replay runner, both audited as the gate's doing."""

import io
import time

import pytest
from PIL import Image

from tests.integration.test_ui_pages import add_bench_dataset, play_worker, start_stack  # noqa: F401
from tests.support.onnx_models import yolo_onnx
from tests.support.services import variant
from tests.support.synthetic import CLASSES
from tests.support.verified_history import NAMES, verified_station
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def gate_replays(stack, sid: str, version: int, count: int = 1) -> list[dict]:
    """The replays of `version` at the station, once `count` of them have finished."""
    deadline = time.monotonic() + 90
    while True:
        jobs = stack.api.get(f"/api/v1/models/held/versions/{version}/replays").json()["items"]
        done = [j for j in jobs if j["station_id"] == sid and j["status"] not in ("queued", "running")]
        if len(done) >= count:
            return jobs
        assert time.monotonic() < deadline, jobs
        time.sleep(0.3)


def train(stack, onnx) -> dict:
    """A run of `held` asking for auto-promotion, played through as the worker would: better than v1 on
    its test split, so the registry would promote it, were the model not gated."""
    body = {
        "dataset": "bench-data",
        "dataset_version": 2,
        "model_name": "held",
        "architecture": "yolov8n.yaml",
        "auto_promote": True,
    }
    created = stack.api.post("/api/v1/training-runs", json=body)
    assert created.status_code == 201, created.text
    play_worker(stack, created.json(), onnx, png())
    run = stack.api.get(f"/api/v1/training-runs/{created.json()['id']}").json()
    assert (run["status"], run["staged"], run["promoted"]) == ("succeeded", True, False), run
    return run


def test_a_version_staged_by_the_gate_is_replayed_by_the_gateway_and_promoted_if_it_passes(
    monkeypatch,
    start_stack,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    monkeypatch.setenv("LINESIGHT_REPLAY_POLL_SECONDS", "0.2")
    monkeypatch.setenv("LINESIGHT_PROMOTION_GATE_REPLAY_INTERVAL_SECONDS", "0.3")
    stack = start_stack()
    history = verified_station(stack.api, tmp_path, "held", "held-1")
    sid = history.station_id
    assert stack.api.put(f"/api/v1/stations/{sid}/promotion-gate", json={"min_verified": 7}).is_success
    add_bench_dataset(stack)

    # A worse version (finds nothing): the gateway replays it by itself; the gate keeps it staged.
    blind = yolo_onnx(tmp_path / "blind.onnx", names=NAMES, classes=len(CLASSES), weight=0.0)
    worse = train(stack, blind)
    assert worse["model_version"] == 2 and "promotion gate" in worse["decision"]
    [job] = gate_replays(stack, sid, 2)
    assert (job["status"], job["created_by"], job["selection"]["training_run"]) == (
        "completed",
        "promotion-gate",
        worse["id"],
    )
    assert job["result"]["replayed"] == 7
    time.sleep(1.5)  # several rounds of the loop: it does not replay the same version again
    assert len(gate_replays(stack, sid, 2)) == 1
    model = stack.api.get("/api/v1/models/held").json()
    assert model["aliases"] == {"production": 1, "staging": 2}

    # A better version (the detector with its labels right): replayed by the gateway, then promoted.
    better = train(stack, variant(detect_model(), tmp_path / "good.onnx", "held-good"))
    assert better["model_version"] == 3
    gate_replays(stack, sid, 3)
    deadline = time.monotonic() + 30
    while stack.api.get("/api/v1/models/held").json()["aliases"]["production"] != 3:
        assert time.monotonic() < deadline, "the passing replay did not promote the staged version"
        time.sleep(0.3)
    started = stack.api.get("/api/v1/audit", params={"action": "replay.create"}).json()["items"]
    assert sorted(e["details"]["version"] for e in started if e["actor_name"] == "system") == [2, 3]
    [promoted] = stack.api.get("/api/v1/audit", params={"action": "model.auto_promote"}).json()["items"]
    assert promoted["details"]["training_run"] == better["id"] and promoted["details"]["from_version"] == 1
