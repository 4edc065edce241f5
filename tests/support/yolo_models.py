"""Small YOLO models made here, offline: trained on synthetic photos and exported to ONNX with the
metadata Ultralytics writes. Cached across test sessions (training takes one to four minutes on two cores)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.segment_data import write_segment_dataset
from tests.support.synthetic import write_classify_dataset, write_detect_dataset

RECIPE_VERSION = "3"
CACHE = Path(
    os.environ.get("LINESIGHT_TEST_MODEL_CACHE", Path.home() / ".cache" / "linesight" / "test-models")
)


def _offline_ultralytics(workdir: Path) -> None:
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(workdir / "ultralytics-config"))
    from ultralytics import settings

    settings.update({"sync": False, "runs_dir": str(workdir / "runs"), "datasets_dir": str(workdir)})


def _key(*parts: object) -> str:
    return hashlib.sha256(repr((RECIPE_VERSION, *parts)).encode()).hexdigest()[:16]


def _build(
    kind: str,
    cfg: str,
    epochs: int,
    imgsz: int,
    dynamic: bool,
    cfg_text: str | None = None,
    n_train: int = 96,
    **train: object,
) -> Path:
    """`cfg_text`: the model yaml itself, written as `cfg` into the work folder (a custom scale);
    `train`: Ultralytics train settings over the defaults below. Both go into the cache key."""
    # classify's key as before
    extra = [cfg_text, n_train, sorted(train.items())] if cfg_text or train else []
    key = _key(kind, cfg, epochs, imgsz, dynamic, *extra)
    target = CACHE / f"{kind}-{key}.onnx"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with _building(target):
        if target.exists():  # another test process (pytest-xdist worker) built it while this one waited
            return target
        return _train_and_export(target, kind, cfg, epochs, imgsz, dynamic, cfg_text, n_train, **train)


@contextlib.contextmanager
def _building(target: Path) -> Iterator[None]:
    """One process at a time builds a model: the others wait for it instead of training it too."""
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _train_and_export(
    target: Path,
    kind: str,
    cfg: str,
    epochs: int,
    imgsz: int,
    dynamic: bool,
    cfg_text: str | None,
    n_train: int,
    **train: object,
) -> Path:
    with tempfile.TemporaryDirectory(prefix=f"linesight-{kind}-") as tmp:
        work = Path(tmp)
        _offline_ultralytics(work)
        from ultralytics import YOLO

        if kind == "detect":
            data = write_detect_dataset(work / "data", n_train=96, n_val=16)
        elif kind == "segment":
            data = write_segment_dataset(work / "data", n_train=n_train, n_val=16)
        else:
            data = write_classify_dataset(work / "data")
        if cfg_text is not None:
            (work / cfg).write_text(cfg_text)
            cfg = str(work / cfg)
        model = YOLO(cfg)
        settings = {
            "batch": 16,
            "workers": 0,
            "seed": 0,
            "deterministic": True,
            "plots": False,
            "val": True,
            "verbose": False,
            "amp": False,
            "mosaic": 0.0,
            "warmup_epochs": 1,
            **train,
        }
        model.train(
            data=str(data),
            epochs=epochs,
            imgsz=imgsz,
            project=str(work / "runs"),
            name="t",
            exist_ok=True,
            **settings,
        )
        best = Path(model.trainer.best)
        exported = YOLO(str(best)).export(format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=True)
        pt_target = target.with_suffix(".pt")
        shutil.copy(best, pt_target)
        tmp_target = target.with_suffix(".onnx.tmp")
        shutil.copy(exported, tmp_target)
        tmp_target.replace(target)  # atomic: a half-written model is never picked up
    return target


def detect_model(epochs: int = 30, imgsz: int = 160, dynamic: bool = True) -> Path:
    """A YOLOv8n trained on 96 bench photos. The recipe of segment_model below: an optimizer step every
    batch of 8 (Ultralytics' default accumulates to 64 photos a step), AdamW at lr 0.002 and validation
    only after the last epoch. 30 epochs of it build in 221 s on this machine under load, where the
    earlier recipe (batch 16, a step per 64 photos, 60 epochs, validated every epoch) took 365 s; both
    count the tools of all 40 benches of seeds 10000-10039 and all 80 of seeds 50000-50079 right
    (not seeds the training photos use). With the default step, 30 epochs had counted only 65 % right."""
    return _build(
        "detect",
        "yolov8n.yaml",
        epochs,
        imgsz,
        dynamic,
        val=False,
        batch=8,
        nbs=8,
        optimizer="AdamW",
        lr0=0.002,
    )


def classify_model(epochs: int = 10, imgsz: int = 96, dynamic: bool = True) -> Path:
    return _build("classify", "yolov8n-cls.yaml", epochs, imgsz, dynamic)


def _narrow_seg_yaml(width: float) -> str:
    """Ultralytics' YOLOv8-seg with its `n` scale narrowed to `width` (0.25 is the real YOLOv8n-seg)."""
    import yaml
    from ultralytics.utils import ROOT, YAML

    cfg = YAML.load(ROOT / "cfg" / "models" / "v8" / "yolov8-seg.yaml")
    cfg["scales"] = {"n": [0.33, width, 1024]}
    return yaml.safe_dump(cfg, sort_keys=False)


def segment_model(epochs: int = 40, imgsz: int = 160, dynamic: bool = True) -> Path:
    """A YOLOv8n-seg at half the width (0.125: about a quarter of the compute) trained on bright cracks and
    spots (tests/support/segment_data.py), under a minute on two cores. What makes it cheap and still
    good enough (mask mAP50 ~0.93 on its 16 validation plates; the parity tests compare ~30 confident
    instances): 48 photos, an optimizer step every batch of 8 (`nbs=8`; Ultralytics' default nbs=64
    accumulates eight batches per step), AdamW at lr 0.003, and validation only after the last epoch.
    The first recipe (full width, 96 photos, batch 16, a step per 64 photos) took five minutes here."""
    return _build(
        "segment",
        "yolov8n-seg-narrow.yaml",
        epochs,
        imgsz,
        dynamic,
        cfg_text=_narrow_seg_yaml(0.125),
        n_train=48,
        val=False,
        batch=8,
        nbs=8,
        optimizer="AdamW",
        lr0=0.003,
    )


def pt_for(onnx_path: Path) -> Path:
    """The PyTorch weights the ONNX file was exported from (for parity tests against Ultralytics)."""
    return onnx_path.with_suffix(".pt")
