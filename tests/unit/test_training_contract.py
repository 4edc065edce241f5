"""The registry and the training worker share one queue name and one set of training defaults: a run
the registry queues is consumed from the queue the worker listens on, and a run row that carries no
settings is trained with the defaults a new request gets (100 epochs), not the worker's own (it had 30)."""

import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from linesight_core.contracts.training import TRAIN_TASK, TRAINING_QUEUE, TrainingRunCreate, TrainingRunOut
from linesight_core.contracts.training_defaults import TRAINING_DEFAULTS
from linesight_registry.domain.queue import TrainingQueue
from linesight_training import execute_run, trainer
from linesight_training.main import create_celery_app
from linesight_training.settings import TrainingSettings

SETTINGS = ("epochs", "imgsz", "batch", "seed", "patience")


def test_the_worker_consumes_the_queue_the_registry_sends_to(monkeypatch):
    worker = create_celery_app(TrainingSettings(log_format="console"))
    assert worker.conf.task_default_queue == TRAINING_QUEUE

    sent = {}
    queue = TrainingQueue("memory://")
    monkeypatch.setattr(queue.app, "send_task", lambda task, **kw: sent.update(kw, task=task))
    queue.send(TRAIN_TASK, uuid.uuid4(), "task-1", 60)
    assert sent["queue"] == TRAINING_QUEUE == worker.conf.task_default_queue


def test_request_defaults_are_the_contract_defaults():
    body = TrainingRunCreate(dataset="bench", dataset_version=1, model_name="bench", architecture="yolov8n")
    assert {name: getattr(body, name) for name in SETTINGS} == {
        "epochs": 100,
        "imgsz": 640,
        "batch": 16,
        "seed": 0,
        "patience": 50,
    }
    assert {name: getattr(TRAINING_DEFAULTS, name) for name in SETTINGS} == {
        name: getattr(body, name) for name in SETTINGS
    }
    spec = trainer.TrainSpec(task="detect", data=Path("d"), workdir=Path("w"))
    assert {name: getattr(spec, name) for name in SETTINGS} == {
        name: getattr(body, name) for name in SETTINGS
    }


class _Captured(Exception):
    pass


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"epochs": 100, "imgsz": 640, "batch": 16, "seed": 0, "patience": 50}),
        (
            {"epochs": 3, "imgsz": 320, "batch": 4, "seed": 7, "patience": 0},
            {"epochs": 3, "imgsz": 320, "batch": 4, "seed": 7, "patience": 0},
        ),
    ],
)
def test_the_worker_trains_a_run_without_settings_with_the_contract_defaults(
    monkeypatch, tmp_path, given, expected
):
    captured = {}

    def fake_train(spec, on_epoch=None):
        captured["spec"] = spec
        raise _Captured

    monkeypatch.setattr(trainer, "train", fake_train)
    settings = dict.fromkeys(SETTINGS) | given
    run = TrainingRunOut.model_construct(
        task="detect", architecture=None, base_weights_key=None, model_name="bench", attempt=1, **settings
    )

    @contextmanager
    def phase(name):
        yield

    ctx = SimpleNamespace(
        run=run,
        workdir=tmp_path,
        settings=SimpleNamespace(training_device="cpu", dataloader_workers=0),
        phase=phase,
        fetch_dataset=lambda: tmp_path / "data.yaml",
    )
    with pytest.raises(_Captured):
        execute_run._train(ctx, SimpleNamespace(gone=False, stop_requested=False))
    assert {name: getattr(captured["spec"], name) for name in SETTINGS} == expected
