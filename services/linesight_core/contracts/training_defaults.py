"""The training settings a train run gets when it leaves one out: the registry's request model
(`TrainingRunCreate`) defaults to these, and the worker falls back to them for a run that carries none,
so both sides of the broker train a run the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class RunSettings(Protocol):
    """What a run row carries of its training settings (`TrainingRunOut`); None: not given."""

    @property
    def epochs(self) -> int | None: ...
    @property
    def imgsz(self) -> int | None: ...
    @property
    def batch(self) -> int | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def patience(self) -> int | None: ...


@dataclass(frozen=True)
class TrainingDefaults:
    epochs: int = 100
    imgsz: int = 640
    batch: int = 16
    seed: int = 0
    patience: int = 50  # epochs without improvement before stopping; 0: never

    def fill(self, run: RunSettings) -> dict[str, int]:
        """The run's training settings, each one the run does not carry taken from these defaults."""
        return {
            "epochs": run.epochs or self.epochs,
            "imgsz": run.imgsz or self.imgsz,
            "batch": run.batch or self.batch,
            "seed": run.seed if run.seed is not None else self.seed,
            "patience": run.patience if run.patience is not None else self.patience,
        }


TRAINING_DEFAULTS = TrainingDefaults()
