"""A station with verified history, made through the gateway's public API: a detect model whose production
version is the trained test detector with its labels mixed up (it calls the screwdriver tape and the tape
a screwdriver), a station expecting a wrench and the tape, and benches inspected there whose answers
operators confirmed or corrected. A candidate that finds nothing (`blind_version`) replays worse."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.onnx_models import with_metadata, yolo_onnx
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

EXPECTED = {"wrench": 1, "tape": 1}  # the screwdriver is not judged at this station
NAMES = "{" + ", ".join(f"{i}: '{c}'" for i, c in enumerate(CLASSES)) + "}"
MIXED_UP = "{0: 'wrench', 1: 'tape', 2: 'screwdriver'}"
# (tools on the bench) → truth: OK only with a wrench and the tape
BENCHES = [[0, 1, 2], [0, 1, 2], [0, 1], [0, 2], [2], [], [0]]
# What a replay of the blind candidate against the mixed-up production reports on BENCHES: it answers
# NOK everywhere (right on the four NOK benches); production gets the two benches with only one of the
# screwdriver and the tape wrong.
BLIND_ACCURACY, PRODUCTION_ACCURACY = 4 / 7, 5 / 7


@dataclass
class History:
    model: str
    station_id: str
    station: str
    inspections: list[dict]


def upload(api: httpx.Client, model: str, path: Path) -> int:
    with open(path, "rb") as fh:
        resp = api.post(f"/api/v1/models/{model}/versions", files={"file": ("m.onnx", fh)})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["version"])


def verified_station(
    api: httpx.Client, tmp_path: Path, model: str, station: str, **fields: object
) -> History:
    """`api` calls as an admin; `fields` go into the new station's body (a shadow alias, say)."""
    assert api.post("/api/v1/models", json={"name": model, "task": "detect"}).status_code == 201
    assert (
        upload(api, model, with_metadata(detect_model(), tmp_path / f"{model}-mixed.onnx", names=MIXED_UP))
        == 1
    )
    assert api.put(f"/api/v1/models/{model}/aliases/production", json={"version": 1}).status_code == 200
    made = api.post(
        "/api/v1/stations",
        json={
            "name": station,
            "mode": "detect",
            "model_name": model,
            "expected_items": [{"label": k, "min_count": v} for k, v in EXPECTED.items()],
            **fields,
        },
    )
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    rng = random.Random(31)
    inspections = []
    for present in BENCHES:
        img, _ = draw_scene(rng, present=present)
        resp = api.post(
            "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", jpeg(img))}
        )
        assert resp.status_code == 201 and resp.json()["status"] == "completed", resp.text
        answer = resp.json()
        give_feedback(api, answer, present)
        inspections.append(answer)
    return History(model, sid, station, inspections)


def give_feedback(api: httpx.Client, answer: dict, present: list[int]) -> None:
    """The operator's feedback on an answer for a bench with `present` tools: confirmed when right,
    corrected to the truth otherwise."""
    truth_counts = {c: int(i in present) for i, c in enumerate(CLASSES)}
    truth = "OK" if all(truth_counts[k] >= v for k, v in EXPECTED.items()) else "NOK"
    counts = {c: answer["counts"].get(c, 0) for c in CLASSES}
    body = (
        {"correct": True}
        if (answer["verdict"], counts) == (truth, truth_counts)
        else {"correct": False, "corrected_verdict": truth, "corrected_counts": truth_counts}
    )
    fed = api.post(f"/api/v1/inspections/{answer['id']}/feedback", json=body)
    assert fed.status_code == 201, fed.text


def blind_version(api: httpx.Client, tmp_path: Path, model: str) -> int:
    """A new version of `model` that finds nothing in any photo."""
    blind = yolo_onnx(tmp_path / f"{model}-blind.onnx", names=NAMES, classes=len(CLASSES), weight=0.0)
    return upload(api, model, blind)
