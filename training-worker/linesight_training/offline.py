"""Ultralytics without the internet: no online checks, no telemetry ('sync'), no third-party experiment
trackers, and its settings, datasets, weights and runs under folders this worker owns.

Ultralytics reads YOLO_CONFIG_DIR and YOLO_OFFLINE when `ultralytics.utils` is first imported, so
`configure_ultralytics` must run before anything else imports Ultralytics; the worker calls it at start,
before the pool processes are forked, and they inherit the result."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Integrations that would send training metrics to outside services when their package is installed.
TRACKERS = ("clearml", "comet", "dvc", "mlflow", "raytune", "wandb")


def configure_ultralytics(config_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Set the environment and Ultralytics' persistent settings; return the settings now in force."""
    if "ultralytics" in sys.modules and os.environ.get("YOLO_CONFIG_DIR") != str(config_dir):
        raise RuntimeError("Ultralytics was imported before its offline configuration was applied")
    config_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("datasets", "weights", "runs"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)

    from ultralytics.utils import SETTINGS

    SETTINGS.update(
        sync=False,
        datasets_dir=str(work_dir / "datasets"),
        weights_dir=str(work_dir / "weights"),
        runs_dir=str(work_dir / "runs"),
        **dict.fromkeys(TRACKERS, False),
    )
    return dict(SETTINGS)
