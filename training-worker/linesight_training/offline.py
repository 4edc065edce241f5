"""Ultralytics without the internet: no online checks, no telemetry ('sync'), no third-party experiment
trackers, no package auto-install, no font downloads, checkpoints loaded without running arbitrary pickled
code, and its settings, datasets, weights and runs under folders this worker owns.

Ultralytics reads YOLO_CONFIG_DIR, YOLO_OFFLINE, YOLO_AUTOINSTALL and ULTRALYTICS_SAFE_LOAD when
`ultralytics.utils` is first imported, so `configure_ultralytics` must run before anything else imports
Ultralytics; the worker calls it at start, before the pool processes are forked, and they inherit the
result."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

# Integrations that would send training metrics to outside services when their package is installed.
TRACKERS = ("clearml", "comet", "dvc", "mlflow", "raytune", "wandb")
# The fonts Ultralytics' check_font looks for in its config folder before it downloads them: Arial.ttf for
# ASCII class names, Arial.Unicode.ttf for the others (dataset checks ask for one on every train and val).
FONTS = ("Arial.ttf", "Arial.Unicode.ttf")


def configure_ultralytics(config_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Set the environment and Ultralytics' persistent settings; return the settings now in force."""
    if "ultralytics" in sys.modules and os.environ.get("YOLO_CONFIG_DIR") != str(config_dir):
        raise RuntimeError("Ultralytics was imported before its offline configuration was applied")
    config_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("datasets", "weights", "runs"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    # A missing package is an error to fix in the image, never a `pip install` at run time (which a checkpoint
    # naming a module it needs would otherwise trigger).
    os.environ["YOLO_AUTOINSTALL"] = "false"
    # Checkpoints are unpickled with weights_only=True against Ultralytics' allow-list of model classes: a
    # .pt that names anything else (os.system, exec, ...) is refused instead of run. Fine-tuning weights and
    # champion models may trace back to an uploaded .pt.
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
    # The Ultralytics Platform callbacks upload a run's metrics when they find an API key.
    os.environ.pop("ULTRALYTICS_API_KEY", None)

    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    SETTINGS.update(
        sync=False,
        api_key="",
        datasets_dir=str(work_dir / "datasets"),
        weights_dir=str(work_dir / "weights"),
        runs_dir=str(work_dir / "runs"),
        tensorboard=False,  # local only, but nobody reads its event files here
        **dict.fromkeys(TRACKERS, False),
    )
    install_fonts(USER_CONFIG_DIR)
    return dict(SETTINGS)


def require_safe_loading() -> None:
    """Refuse to go on when Ultralytics would unpickle a .pt with plain torch.load (weights_only=False):
    it was imported before `configure_ultralytics`, or torch is too old for restricted loading."""
    import torch
    from ultralytics.nn import tasks

    if not (tasks.SAFE_LOAD and hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint")):
        raise RuntimeError(
            "Ultralytics would unpickle .pt files without weights_only=True; "
            "call configure_ultralytics before anything imports Ultralytics"
        )


def install_fonts(user_config_dir: Path) -> list[Path]:
    """Put a font under each name check_font asks for, so it never downloads one: matplotlib's own DejaVu
    Sans (Latin, Greek and Cyrillic; other scripts draw as boxes in plot labels). Returns the font files."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    user_config_dir.mkdir(parents=True, exist_ok=True)
    installed = []
    for name in FONTS:
        target = user_config_dir / name
        if not target.is_file():
            partial = target.with_name(f".{name}.{os.getpid()}.part")
            shutil.copyfile(source, partial)
            partial.replace(target)  # atomic: a pool process never sees half a font
        installed.append(target)
    return installed
