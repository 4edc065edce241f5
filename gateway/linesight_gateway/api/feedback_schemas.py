"""Bodies of the feedback API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CorrectedBox(BaseModel):
    label: str = Field(min_length=1, max_length=100)
    x1: float = Field(ge=0)
    y1: float = Field(ge=0)
    x2: float = Field(ge=0)
    y2: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CorrectedBox:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError("a box needs x2 > x1 and y2 > y1")
        return self


class CorrectedInstance(BaseModel):
    """Segment stations: one defect as it should be, its outline in pixels of the stored photo."""

    label: str = Field(min_length=1, max_length=100)
    polygon: list[tuple[float, float]] = Field(
        max_length=4096, description="[x, y] points in pixels of the photo: at least 3, not crossing"
    )


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"correct": True},
                {
                    "correct": False,
                    "corrected_verdict": "OK",
                    "corrected_counts": {"wrench": 1, "screwdriver": 2},
                    "notes": "screwdriver hidden under the cloth",
                    "use_for_training": True,
                },
            ]
        }
    )

    correct: bool = Field(description="Was the answer right?")
    corrected_verdict: Literal["OK", "NOK"] | None = None
    corrected_counts: dict[str, int] | None = Field(None, description="Detect stations: label → count")
    corrected_boxes: list[CorrectedBox] | None = Field(
        None, max_length=500, description="Detect stations: every object, in image pixels"
    )
    corrected_class: str | None = Field(
        None, max_length=100, description="Classify stations: the right class"
    )
    instances: list[CorrectedInstance] | None = Field(
        None,
        max_length=500,
        description="Segment stations: every defect instance as it should be (leave a false one out, "
        "add a missed one), with its polygon in image pixels; [] when the photo has none",
    )
    notes: str = Field("", max_length=4000)
    use_for_training: bool = Field(
        False, description="Add this photo with the corrected labels to the dataset"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackIn:
        if self.correct:
            if any(
                v is not None
                for v in (
                    self.corrected_verdict,
                    self.corrected_counts,
                    self.corrected_boxes,
                    self.corrected_class,
                    self.instances,
                )
            ):
                raise ValueError("a correct answer takes no corrections")
        elif self.corrected_verdict is None:
            raise ValueError("a wrong answer needs corrected_verdict")
        if self.corrected_counts and any(v < 0 for v in self.corrected_counts.values()):
            raise ValueError("counts cannot be negative")
        return self


class FeedbackRevisionOut(BaseModel):
    revision: int
    content: dict[str, Any]
    by_name: str
    at: datetime


class DatasetLink(BaseModel):
    """Where a feedback marked "use for training" stands in the station's dataset."""

    dataset: str | None = None
    item_id: str | None = None
    synced: bool = Field(description="The dataset holds this feedback's latest revision")
    error: str | None = Field(None, description="Why the last attempt did not add it")


class FeedbackOut(FeedbackIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "correct": False,
                    "corrected_verdict": "OK",
                    "corrected_counts": {"wrench": 1, "screwdriver": 2},
                    "notes": "screwdriver hidden under the cloth",
                    "use_for_training": True,
                    "inspection_id": "1f0c2a9e-4a51-4b8e-9d6a-3b5c0c1e2f10",
                    "revision": 2,
                    "updated_at": "2026-11-22T10:04:00Z",
                    "dataset": {
                        "dataset": "bench-tools",
                        "item_id": "2c6e8a0b-4d1f-4a37-8c59-6e0a2b4d6f81",
                        "synced": True,
                    },
                    "history": [
                        {
                            "revision": 1,
                            "content": {"correct": True, "notes": "", "use_for_training": False},
                            "by_name": "line 3 tablet",
                            "at": "2026-11-22T10:01:00Z",
                        },
                        {
                            "revision": 2,
                            "content": {
                                "correct": False,
                                "corrected_verdict": "OK",
                                "corrected_counts": {"wrench": 1, "screwdriver": 2},
                                "notes": "screwdriver hidden under the cloth",
                                "use_for_training": True,
                            },
                            "by_name": "line 3 tablet",
                            "at": "2026-11-22T10:04:00Z",
                        },
                    ],
                }
            ]
        }
    )

    inspection_id: str
    revision: int
    updated_at: datetime
    dataset: DatasetLink | None = Field(None, description="Set when the feedback is or was used for training")
    history: list[FeedbackRevisionOut] = Field(description="Every version of this feedback, oldest first")
