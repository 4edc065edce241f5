"""The training worker's library with real Ultralytics on tiny synthetic datasets, offline: training with
per-epoch reports and cancellation, ONNX export with its metadata, evaluation (detect through Ultralytics'
validator, classify computed here and checked against Ultralytics' own figures), and the isolated
conversion of untrusted .pt uploads."""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from linesight_training.offline import FONTS
from tests.support.synthetic import write_detect_dataset

IMGSZ = 96
DETECT_LOSSES = {"box_loss", "cls_loss", "dfl_loss"}
DETECT_METRICS = {"precision", "recall", "mAP50", "mAP50-95"}


@pytest.fixture(scope="module")
def detect_data(tmp_path_factory) -> Path:
    """A detect dataset laid out like the registry's export: data.yaml with `path: .` and a test split."""
    root = tmp_path_factory.mktemp("detect-data")
    write_detect_dataset(root, n_train=24, n_val=8, seed=1)
    write_detect_dataset(root / "extra", n_train=6, n_val=0, seed=2)
    for kind in ("images", "labels"):
        shutil.move(root / "extra" / kind / "train", root / kind / "test")
    shutil.rmtree(root / "extra")
    data = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(["wrench", "screwdriver", "tape"]))
    data.write_text(f"path: .\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n{names}\n")
    return data


@pytest.fixture(scope="module")
def detect_run(ultralytics_dirs, detect_data, tmp_path_factory):
    from linesight_training.trainer import TrainSpec, train

    reports = []
    workdir = tmp_path_factory.mktemp("detect-run")
    spec = TrainSpec(task="detect", data=detect_data, workdir=workdir, epochs=2, imgsz=IMGSZ, batch=8)
    result = train(spec, on_epoch=lambda report: reports.append(report) and False)
    return result, reports


def test_ultralytics_is_configured_offline(ultralytics_dirs):
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    assert SETTINGS["sync"] is False
    assert SETTINGS["api_key"] == ""
    assert not any(
        SETTINGS[k] for k in ("clearml", "comet", "dvc", "mlflow", "raytune", "wandb", "tensorboard")
    )
    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["YOLO_AUTOINSTALL"] == "false"
    # check_font finds its fonts locally: it never goes to the internet for them
    from ultralytics.utils.checks import check_font

    for name in FONTS:
        assert (USER_CONFIG_DIR / name).stat().st_size > 100_000
        assert Path(check_font(name)) == USER_CONFIG_DIR / name


def test_train_detect_reports_every_epoch(detect_run):
    result, reports = detect_run
    assert [r.epoch for r in reports] == [1, 2]
    assert all(r.epochs == 2 for r in reports)
    for report in reports:
        assert set(report.losses) == DETECT_LOSSES
        assert all(math.isfinite(v) and v >= 0 for v in report.losses.values())
        assert set(report.metrics) == DETECT_METRICS
        assert all(0.0 <= v <= 1.0 for v in report.metrics.values())
    assert 0 < reports[0].elapsed_s < reports[1].elapsed_s
    assert reports[0].eta_s > 0 and reports[1].eta_s == 0
    assert result.best_pt.is_file() and result.last_pt.is_file()
    assert result.epochs_run == 2 and not result.stopped_early
    assert set(result.final_metrics) == DETECT_METRICS
    assert result.train_seconds >= reports[-1].elapsed_s


def test_cancel_stops_at_the_end_of_the_epoch(ultralytics_dirs, detect_data, tmp_path, monkeypatch):
    from linesight_training.trainer import Cancelled, TrainSpec, train

    monkeypatch.chdir(tmp_path)  # `path: .` in data.yaml means the dataset folder, not the working directory
    seen = []
    spec = TrainSpec(
        task="detect", data=detect_data, workdir=tmp_path / "run", epochs=3, imgsz=IMGSZ, batch=8
    )
    with pytest.raises(Cancelled) as cancelled:
        train(spec, on_epoch=lambda report: seen.append(report.epoch) or True)
    assert seen == [1]
    assert cancelled.value.epoch == 1
    assert cancelled.value.last_pt is not None and cancelled.value.last_pt.is_file()
    with (tmp_path / "run" / "train" / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 1  # one epoch ran, not three


def test_an_error_in_on_epoch_ends_the_run(ultralytics_dirs, detect_data, tmp_path):
    from linesight_training.trainer import TrainSpec, train

    def broken(report):
        raise ConnectionError("registry unreachable")

    spec = TrainSpec(task="detect", data=detect_data, workdir=tmp_path, epochs=2, imgsz=IMGSZ, batch=8)
    with pytest.raises(ConnectionError, match="registry unreachable"):
        train(spec, on_epoch=broken)


def test_fine_tune_from_weights(detect_run, detect_data, tmp_path):
    from linesight_training.trainer import TrainSpec, train

    base = detect_run[0].best_pt
    spec = TrainSpec(
        task="detect", data=detect_data, workdir=tmp_path, weights=base, epochs=1, imgsz=IMGSZ, batch=8
    )
    result = train(spec)
    assert result.epochs_run == 1 and result.best_pt.is_file() and result.best_pt != base
    assert set(result.final_metrics) == DETECT_METRICS


def test_fine_tune_refuses_weights_that_would_run_code(ultralytics_dirs, detect_data, tmp_path):
    import torch

    from linesight_training.trainer import TrainSpec, train

    marker = tmp_path / "payload-ran.json"
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(_report_where_it_ran(marker)), "train_args": {}}, evil)
    spec = TrainSpec(
        task="detect", data=detect_data, workdir=tmp_path / "run", weights=evil, epochs=1, imgsz=IMGSZ
    )
    with pytest.raises(ValueError, match="not a loadable Ultralytics checkpoint"):
        train(spec)
    assert not marker.exists()


def test_a_data_yaml_with_a_download_script_is_refused(ultralytics_dirs, detect_data, tmp_path):
    from linesight_training.trainer import TrainSpec, train

    evil = detect_data.with_name("evil.yaml")
    evil.write_text(detect_data.read_text() + f"download: open('{tmp_path / 'ran'}', 'w')\n")
    with pytest.raises(ValueError, match="download"):
        train(TrainSpec(task="detect", data=evil, workdir=tmp_path, epochs=1, imgsz=IMGSZ))
    assert not (tmp_path / "ran").exists()


def test_export_onnx_has_ultralytics_metadata(detect_run, tmp_path):
    import onnx
    import onnxruntime

    from linesight_training.export import export_onnx

    result, _ = detect_run
    path = export_onnx(result.best_pt, imgsz=IMGSZ, out_dir=tmp_path)
    assert path == tmp_path / "best.onnx"
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["task"] == "detect"
    assert eval(meta["names"]) == {0: "wrench", 1: "screwdriver", 2: "tape"}
    assert eval(meta["imgsz"]) == [IMGSZ, IMGSZ]
    assert int(meta["stride"]) == 32
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch, _, height, width = session.get_inputs()[0].shape
    assert all(isinstance(d, str) for d in (batch, height, width))  # dynamic
    out = session.run(None, {session.get_inputs()[0].name: np.zeros((2, 3, 64, 96), np.float32)})
    assert out[0].shape[:2] == (2, 4 + 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.onnx"]  # no leftovers


def _assert_png(path: Path) -> None:
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.verify()


def test_evaluate_detect_onnx_on_the_test_split(detect_run, detect_data, tmp_path):
    from linesight_training.evaluation import evaluate, pick_split
    from linesight_training.export import export_onnx

    result, _ = detect_run
    onnx_path = export_onnx(result.best_pt, imgsz=IMGSZ, out_dir=tmp_path / "model")
    assert pick_split("detect", detect_data) == "test"
    ev = evaluate(
        onnx_path, task="detect", data=detect_data, split="test", imgsz=IMGSZ, out_dir=tmp_path / "ev"
    )
    assert ev.split == "test" and ev.images == 6
    assert set(ev.metrics) == {"mAP50", "mAP50-95", "precision", "recall"}
    assert all(0.0 <= v <= 1.0 for v in ev.metrics.values())
    assert ev.labels == ["wrench", "screwdriver", "tape", "background"]
    assert np.asarray(ev.confusion_matrix).shape == (4, 4)
    # every labelled object of the split is in one row of the matrix (true class), detected or missed
    labels = [
        line.split()[0]
        for f in (detect_data.parent / "labels" / "test").glob("*.txt")
        for line in f.read_text().splitlines()
    ]
    assert np.asarray(ev.confusion_matrix)[:3].sum() == len(labels)
    for name, row in ev.per_class.items():
        assert name in ev.labels
        assert set(row) == {"precision", "recall", "ap50", "ap50_95", "instances"}
        assert row["instances"] == labels.count(str(ev.labels.index(name)))
    assert set(ev.plots) == {"confusion_matrix", "pr_curve"}
    for plot in ev.plots.values():
        assert plot.parent == tmp_path / "ev"
        _assert_png(plot)
    as_json = json.loads(json.dumps(ev.to_json()))
    assert as_json["plots"] == {"confusion_matrix": "confusion_matrix.png", "pr_curve": "pr_curve.png"}

    # the .pt it was exported from measures the same
    from_pt = evaluate(
        result.best_pt, task="detect", data=detect_data, split="test", imgsz=IMGSZ, out_dir=tmp_path / "pt"
    )
    for key, value in ev.metrics.items():
        assert from_pt.metrics[key] == pytest.approx(value, abs=0.02)


def test_evaluate_falls_back_to_val_without_a_test_split(detect_run, tmp_path):
    from linesight_training.evaluation import evaluate, pick_split

    data = write_detect_dataset(tmp_path / "data", n_train=2, n_val=4, seed=3)
    assert pick_split("detect", data) == "val"
    ev = evaluate(
        detect_run[0].best_pt, task="detect", data=data, split="test", imgsz=IMGSZ, out_dir=tmp_path / "ev"
    )
    assert ev.split == "val" and ev.images == 4


# Classify: a dataset a tiny model learns in a few seconds (one big coloured shape per image), so that
# the accuracy check below compares real, mixed predictions.
COLORS = {"blue": (40, 70, 210), "green": (40, 170, 60), "red": (210, 40, 40)}


def write_colour_dataset(root: Path, per_class: int = 16, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for split, n in (("train", per_class), ("val", 8), ("test", 6)):
        for name, color in COLORS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                grey = rng.randint(90, 170)
                img = Image.new("RGB", (96, 96), (grey, grey, grey))
                draw = ImageDraw.Draw(img)
                x, y = rng.randint(0, 80), rng.randint(0, 80)
                draw.ellipse(
                    (x, y, x + 14, y + 14), fill=rng.choice([c for c in COLORS.values() if c != color])
                )
                r = rng.randint(18, 34)
                cx, cy = rng.randint(r, 96 - r), rng.randint(r, 96 - r)
                fill = tuple(max(0, min(255, v + rng.randint(-30, 30))) for v in color)
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
                    (cx - r, cy - r, cx + r, cy + r), fill=fill
                )
                img.save(folder / f"{name}_{i:03d}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def classify_model(ultralytics_dirs, tmp_path_factory):
    """(dataset, best.pt, ONNX) of a classifier trained by Ultralytics with a nominal batch as small as the
    batch, so that its few steps are enough to learn something."""
    from ultralytics import YOLO

    from linesight_training.export import export_onnx

    base = tmp_path_factory.mktemp("classify")
    data = write_colour_dataset(base / "data")
    model = YOLO("yolov8n-cls.yaml")
    model.train(
        data=str(data), epochs=5, imgsz=64, batch=8, nbs=8, lr0=0.002, optimizer="AdamW", warmup_epochs=0,
        workers=0, seed=0, deterministic=True, plots=False, amp=False, verbose=False,
        project=str(base / "runs"), name="t", exist_ok=True,
    )  # fmt: skip
    best = Path(model.trainer.best)
    return data, best, export_onnx(best, imgsz=64, out_dir=base / "onnx")


def test_evaluate_classify_matches_ultralytics(classify_model, tmp_path):
    from ultralytics import YOLO

    from linesight_training.evaluation import classify_probabilities, evaluate

    data, pt, onnx_path = classify_model
    for model in (onnx_path, pt):
        ev = evaluate(
            model, task="classify", data=data, split="val", imgsz=64, out_dir=tmp_path / model.suffix[1:]
        )
        theirs = YOLO(str(model), task="classify").val(
            data=str(data),
            split="val",
            imgsz=64,
            batch=1,
            plots=False,
            project=str(tmp_path),
            name="val",
            exist_ok=True,
        )
        assert ev.split == "val" and ev.images == 24
        assert ev.metrics["accuracy"] == pytest.approx(theirs.top1, abs=1e-6)
        assert ev.metrics["top5_accuracy"] == pytest.approx(theirs.top5, abs=1e-6)  # k = 3 classes here
        predicted = np.asarray(ev.confusion_matrix).sum(0)
        assert (predicted > 0).sum() >= 2, (
            "the model must make mixed predictions for this check to mean something"
        )
        assert 0.0 <= ev.metrics["ece"] <= 1.0 and 0.0 <= ev.metrics["macro_f1"] <= 1.0
        assert ev.labels == ["blue", "green", "red"]
        assert {row["support"] for row in ev.per_class.values()} == {8}
        assert set(ev.plots) == {"confusion_matrix", "reliability_diagram"}
        for plot in ev.plots.values():
            _assert_png(plot)

    # image by image, the probabilities are the ones Ultralytics' predictor gives
    probs, truth, names = classify_probabilities(onnx_path, data, "val", 64, "cpu")
    files = sorted((data / "val").rglob("*.jpg"))
    predicted = YOLO(str(onnx_path), task="classify").predict(
        [str(f) for f in files], imgsz=64, verbose=False
    )
    by_file = {Path(r.path).name: r.probs.data.numpy() for r in predicted}
    ours = dict(zip([f.name for f in files], probs, strict=True))  # ImageFolder order: class, then name
    for name, p in ours.items():
        np.testing.assert_allclose(p, by_file[name], atol=1e-4)
    assert list(truth) == [names_index for names_index in range(3) for _ in range(8)]
    assert names == {0: "blue", 1: "green", 2: "red"}


def test_evaluate_classify_picks_the_test_split(classify_model, tmp_path):
    from linesight_training.evaluation import evaluate, pick_split

    data, _, onnx_path = classify_model
    assert pick_split("classify", data) == "test"
    ev = evaluate(onnx_path, task="classify", data=data, split="test", imgsz=64, out_dir=tmp_path)
    assert ev.split == "test" and ev.images == 18
    assert json.loads(json.dumps(ev.to_json()))["plots"]["reliability_diagram"] == "reliability_diagram.png"


# Conversion of uploaded .pt files


def test_convert_a_pt_made_by_train(detect_run, detect_data, tmp_path):
    """A legitimate checkpoint converts in the sandbox; the weights kept are the worker's rebuild of the
    clean checkpoint (same tensors), and fine-tuning starts from them under weights_only loading."""
    import torch
    from ultralytics import YOLO

    from linesight_training.convert import convert_pt_isolated
    from linesight_training.export import check_onnx
    from linesight_training.trainer import TrainSpec, train

    result, _ = detect_run
    converted = convert_pt_isolated(result.best_pt, out_dir=tmp_path / "out")
    assert converted.onnx == tmp_path / "out" / "best.onnx"
    assert converted.info == {"task": "detect", "names": ["wrench", "screwdriver", "tape"], "imgsz": IMGSZ}
    meta = check_onnx(converted.onnx)
    assert meta["task"] == "detect" and meta["imgsz"] == [IMGSZ, IMGSZ]
    original = YOLO(str(result.best_pt)).model.state_dict()
    rebuilt = YOLO(str(converted.weights)).model.state_dict()
    assert original.keys() == rebuilt.keys()
    assert all(torch.allclose(original[k].float(), rebuilt[k].float(), atol=1e-3) for k in original)
    tuned = train(
        TrainSpec(
            task="detect",
            data=detect_data,
            workdir=tmp_path / "tune",
            weights=converted.weights,
            epochs=1,
            imgsz=IMGSZ,
            batch=8,
        )
    )
    assert tuned.epochs_run == 1 and tuned.best_pt.is_file()


class Payload:
    """Unpickling it runs `code`, as a hostile upload would."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _report_where_it_ran(marker: Path) -> str:
    return (
        "import json, os, resource; "
        f"open({str(marker)!r}, 'w').write(json.dumps({{'cwd': os.getcwd(), 'pid': os.getpid(), "
        "'env': dict(os.environ), 'as': resource.getrlimit(resource.RLIMIT_AS)[0]}))"
    )


def test_a_malicious_pickle_is_refused_without_running(ultralytics_dirs, tmp_path):
    import torch

    from linesight_training.convert import ConversionFailed, convert_pt_isolated

    marker = tmp_path / "payload-ran.json"
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(_report_where_it_ran(marker)), "train_args": {}}, evil)
    with pytest.raises(ConversionFailed, match="not an Ultralytics model checkpoint"):
        convert_pt_isolated(evil, out_dir=tmp_path / "out")
    assert not marker.exists()  # refused by weights_only loading in the child: it never ran, here or there
    assert not (tmp_path / "out" / "evil.onnx").exists()


def test_a_file_that_is_not_a_model_is_refused(ultralytics_dirs, tmp_path):
    import torch

    from linesight_training.convert import ConversionFailed, convert_pt_isolated

    text = tmp_path / "notes.pt"
    text.write_text("these are not weights\n")
    with pytest.raises(ConversionFailed, match="not a PyTorch checkpoint"):
        convert_pt_isolated(text, out_dir=tmp_path / "out")

    tensors = tmp_path / "tensors.pt"
    torch.save({"weights": torch.zeros(3)}, tensors)
    with pytest.raises(ConversionFailed, match="not an Ultralytics model checkpoint"):
        convert_pt_isolated(tensors, out_dir=tmp_path / "out")


def test_conversion_limits_are_enforced(detect_run, tmp_path):
    from linesight_training.convert import ConversionFailed, ConvertLimits, convert_pt_isolated

    pt = detect_run[0].best_pt
    with pytest.raises(ConversionFailed, match="memory"):
        convert_pt_isolated(pt, out_dir=tmp_path, limits=ConvertLimits(memory_bytes=512 * 2**20))
    with pytest.raises(ConversionFailed, match="CPU time"):
        convert_pt_isolated(pt, out_dir=tmp_path, limits=ConvertLimits(cpu_seconds=1))
    with pytest.raises(ConversionFailed, match="longer than 1 s"):
        convert_pt_isolated(pt, out_dir=tmp_path, limits=ConvertLimits(wall_seconds=1))
    assert list(tmp_path.iterdir()) == []
