"""What a station's training policy asks the registry to train: the station mode's own model unless the
policy names one (a detect YAML for a segment or classify dataset is refused by the registry)."""

from __future__ import annotations

from linesight_gateway.db.models import Station
from linesight_gateway.domain.dataset_sync import run_request


def station(mode: str) -> Station:
    return Station(name=f"{mode}-bench", mode=mode, model_name=f"{mode}-model")


def test_a_policy_without_an_architecture_trains_the_modes_own_model() -> None:
    for mode, yaml in (
        ("detect", "yolov8n.yaml"),
        ("segment", "yolov8n-seg.yaml"),
        ("classify", "yolov8n-cls.yaml"),
    ):
        for policy in ({}, {"architecture": None}, {"architecture": ""}):
            body = run_request(station(mode), {"auto_train": True, **policy}, "d", 3, None)
            assert body["architecture"] == yaml, (mode, policy)
            assert body["model_name"] == f"{mode}-model" and body["dataset_version"] == 3


def test_a_chosen_architecture_and_settings_are_kept() -> None:
    policy = {
        "architecture": "yolo11n-seg.yaml",
        "epochs": 7,
        "imgsz": 640,
        "batch": 4,
        "selection_metric": "dice",
    }
    body = run_request(station("segment"), policy, "d", 1, {"name": "ana", "key_id": "k1"})
    assert (body["architecture"], body["epochs"], body["imgsz"], body["batch"]) == (
        "yolo11n-seg.yaml",
        7,
        640,
        4,
    )
    assert body["selection_metric"] == "dice"
    assert "on feedback by ana (k1)" in body["notes"]
