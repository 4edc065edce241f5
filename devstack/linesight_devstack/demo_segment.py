"""`make demo TASK=segment`: the same first run for a defect station. Synthetic plates with thin cracks and
scratches (linesight_devstack.surfaces), a segment dataset, a YOLOv8n-seg trained on it, its mask mAP and
Dice, the promotion, a segment station with defect limits in millimetres, an inspection of a plate with a
crack over the limit (NOK, the rule named), and the operator's mask correction becoming a dataset item."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

from linesight_devstack.demo import Demo, DemoConfig, DemoError
from linesight_devstack.surfaces import DEFECT_CLASSES, Defect, draw_surface, write_segment_zip

# The demo's camera sees a 32 x 24 mm patch at 320 x 240: 0.1 mm per pixel.
MM_PER_PIXEL = 0.1
CRACK_LIMIT_MM = 5.0
SCRATCH_LIMIT_MM = 18.0
# Defects within 3 % of the photo's edge are the fixture's shadow, not the part.
ROI = [[0.03, 0.03], [0.97, 0.03], [0.97, 0.97], [0.03, 0.97]]


def segment_config(**overrides: Any) -> DemoConfig:
    values: dict[str, Any] = {"name": "demo-plates", "images": 200, "epochs": 40, "batch": 16}
    values.update(overrides)
    return DemoConfig(**values)


class SegmentDemo(Demo):
    TASK = "segment"
    CLASSES = tuple(DEFECT_CLASSES)
    ARCHITECTURE = "yolov8n-seg.yaml"
    WHAT = "plates"
    STEPS: ClassVar[dict[str, str]] = {
        "import": "Import synthetic plates (cracks, scratches, clean plates)",
        "train": "Train a segment model (Celery worker, Ultralytics, offline)",
        "station": "A defect station that uses it",
        "inspect": "Inspect a plate with a long crack",
        "feedback": "The operator's mask correction becomes training data",
    }

    def write_archive(self, path: Path) -> Path:
        cfg = self.config
        return write_segment_zip(path, cfg.images, seed=cfg.seed, size=cfg.image_size)

    def station(self) -> dict[str, Any]:
        name = self.config.name
        for s in self.call("GET", "/api/v1/stations", params={"q": name})["items"]:
            if s["name"] == name:
                return dict(s)
        station = self.call(
            "POST",
            "/api/v1/stations",
            json={
                "name": name,
                "mode": "segment",
                "model_name": name,
                "description": "Demo plates: no crack over 5 mm, no scratch over 18 mm",
                "defect_rules": [
                    {"label": "crack", "max_length": CRACK_LIMIT_MM, "unit": "mm"},
                    {"label": "scratch", "max_length": SCRATCH_LIMIT_MM, "unit": "mm"},
                ],
                "mm_per_pixel": MM_PER_PIXEL,
                "roi": ROI,
                "training": {
                    "dataset": name,
                    "retrain_after": 1,
                    "auto_train": self.config.auto_train,
                    "epochs": self.config.epochs,
                    "imgsz": self.config.imgsz,
                    "batch": self.config.batch,
                },
            },
        )
        self.echo(
            f"  station {name!r}: NOK when a crack is longer than {CRACK_LIMIT_MM:g} mm or a scratch longer "
            f"than {SCRATCH_LIMIT_MM:g} mm ({MM_PER_PIXEL} mm per pixel), inside the plate's region"
        )
        return dict(station)

    def inspect(self, station: dict[str, Any], version: int) -> tuple[dict[str, Any], list[Any]]:
        """A fresh plate with one crack well over the limit; waits until inference serves `version`."""
        img, defects = crack_plate(self.config.seed + 10_000, self.config.image_size)
        result = self.inspect_photo(station, img, version)
        truth = defects[0].length_px * MM_PER_PIXEL
        rules = "; ".join(r["text"] for r in result.get("failed_rules") or []) or "no rule failed"
        self.echo(
            f"  inspection {result['id']} of a plate with a {truth:.1f} mm crack: {result.get('verdict')} "
            f"({result.get('confidence_status')}, confidence {result.get('confidence')}) by "
            f"{result['model']['name']} v{result['model']['version']}: {rules}"
        )
        return result, defects

    def correct(self, inspection: dict[str, Any], placed: list[Any]) -> dict[str, Any]:
        """The operator redraws the masks: the true outline of every defect (in the photo's pixels)."""
        w, h = self.config.image_size
        instances = [
            {"label": d.label, "polygon": [[round(x * w, 2), round(y * h, 2)] for x, y in d.polygon]}
            for d in placed
        ]
        found = len(inspection.get("defects") or [])
        body = {
            "correct": False,
            "corrected_verdict": "NOK",
            "instances": instances,
            "use_for_training": True,
            "notes": "demo: masks redrawn",
        }
        feedback = self.call("POST", f"/api/v1/inspections/{inspection['id']}/feedback", json=body)
        self.echo(
            f"  operator: the model found {found} defect(s); redraws {len(instances)} mask(s), use for training"
        )
        return dict(feedback)

    def report(self, run: dict[str, Any]) -> None:
        super().report(run)
        m = run["evaluation"]["challenger"]["metrics"]
        self.echo(
            f"  masks: mAP50 {m.get('mask_mAP50', 0):.3f}, mAP50-95 {m.get('mask_mAP50-95', 0):.3f}, "
            f"pixel IoU {m.get('pixel_iou', 0):.3f}, Dice {m.get('dice', 0):.3f}"
        )


def crack_plate(
    seed: int, size: tuple[int, int] = (320, 240), min_length_px: float = 90.0
) -> tuple[Any, list[Defect]]:
    """The first plate from `seed` on with exactly one defect, a crack at least `min_length_px` long."""
    for attempt in range(500):
        img, defects = draw_surface(random.Random(seed + attempt), size, defects=1)  # noqa: S311
        if defects and defects[0].label == "crack" and defects[0].length_px >= min_length_px:
            return img, defects
    raise DemoError("no long crack drawn in 500 tries")
