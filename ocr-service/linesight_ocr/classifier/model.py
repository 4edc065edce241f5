"""The token classifier: a scikit-learn pipeline (features → one-hot → gradient-boosted trees) trained on
reviewed label reads, saved with joblib, loaded by the service to rank code candidates.

A joblib file is a pickle: loading it runs code. The service loads only the file its own setting
(`LINESIGHT_OCR_TOKEN_MODEL`) names, and that file must come from this module's `train` command on the
platform's own export — never a model file from elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction import DictVectorizer
from sklearn.pipeline import Pipeline

from linesight_ocr.classifier.features import CLASSES, class_of, read_features, words_from_tokens
from linesight_ocr.domain.extraction import TokenScores
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import VendorProfile

FORMAT = "linesight-token-classifier/1"


class TokenModelInvalid(ValueError):
    """The file is not a token model this version of the service wrote."""


def iter_export(path: Path) -> Iterator[dict[str, Any]]:
    """Reads of an export file (JSON Lines, docs/labels.md), the last line per `read_id` kept: a read
    corrected again appears again in a later export."""
    latest: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                read = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON: {exc.msg}") from exc
            if not isinstance(read, dict) or not isinstance(read.get("tokens"), list):
                raise ValueError(f"{path}:{n}: a read needs a 'tokens' list")
            latest[str(read.get("read_id", n))] = read
    yield from latest.values()


def read_rows(
    read: Mapping[str, Any], profiles: Mapping[str, VendorProfile]
) -> tuple[list[Word], list[dict[str, Any]], list[str]]:
    """The words of an exported read, their features and their classes."""
    tokens = [t for t in read["tokens"] if str(t.get("text", "")).strip()]
    words = words_from_tokens(tokens)
    vendor = profiles.get(str(read.get("vendor"))) if read.get("vendor") else None
    by_key = {(w.box, w.text): w for w in words}
    labels = {
        (
            (int(t["box"]["x1"]), int(t["box"]["y1"]), int(t["box"]["x2"]), int(t["box"]["y2"])),
            str(t["text"]),
        ): class_of(str(t.get("label", "other")))
        for t in tokens
    }
    classes = [labels.get((w.box, w.text), "other") for w in by_key.values()]
    return list(by_key.values()), read_features(list(by_key.values()), vendor), classes


@dataclass
class TokenModel:
    pipeline: Pipeline
    trained_reads: int
    sklearn_version: str

    @classmethod
    def train(cls, reads: Iterable[Mapping[str, Any]], profiles: Mapping[str, VendorProfile]) -> TokenModel:
        features: list[dict[str, Any]] = []
        classes: list[str] = []
        count = 0
        for read in reads:
            # Each read also without its key tokens: labels whose keys were not read still have codes,
            # and the shape and place of a value must tell them then.
            keyless = {**read, "tokens": [t for t in read["tokens"] if t.get("label") != "key"]}
            for variant in (read, keyless):
                _, f, c = read_rows(variant, profiles)
                features.extend(f)
                classes.extend(c)
            count += 1
        if len(set(classes)) < 2:
            raise ValueError("the export holds fewer than two token classes: nothing to learn")
        pipeline = Pipeline(
            [
                ("vectorise", DictVectorizer(sparse=False)),
                ("classify", HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=0)),
            ]
        )
        pipeline.fit(features, classes)
        return cls(pipeline, count, sklearn.__version__)

    def scores(self, words: list[Word], vendor: VendorProfile | None) -> TokenScores:
        """Per word (by id), the probability of each code field."""
        if not words:
            return {}
        proba = self.pipeline.predict_proba(read_features(words, vendor))
        classes = list(self.pipeline.classes_)
        return {
            id(w): {c: float(p[classes.index(c)]) for c in CLASSES if c in classes}
            for w, p in zip(words, proba, strict=True)
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT,
            "pipeline": self.pipeline,
            "trained_reads": self.trained_reads,
            "sklearn_version": self.sklearn_version,
        }
        joblib.dump(payload, path)

    @classmethod
    def load(cls, path: Path) -> TokenModel:
        """Only for a file this platform's `train` command wrote (a pickle runs code when loaded)."""
        payload = joblib.load(path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise TokenModelInvalid(
                f"{path} is not a token model written by 'linesight_ocr.classifier train'"
            )
        return cls(payload["pipeline"], int(payload["trained_reads"]), str(payload["sklearn_version"]))
