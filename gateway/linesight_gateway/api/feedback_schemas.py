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


class FeedbackOut(FeedbackIn):
    inspection_id: str
    revision: int
    updated_at: datetime
    history: list[FeedbackRevisionOut] = Field(description="Every version of this feedback, oldest first")
