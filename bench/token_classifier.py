"""The token classifier against the rule-based extractor on the same held-out reads: precision and
recall per code type of the codes extracted from each read's tokens, both ways.

Reads come from an export (`--train`, `--test`: JSON Lines as docs/labels.md describes) or, without
them, from generated labels read by the service (`--train-count` with seed 7, `--test-count` with
seed 8; the benchmark corpus of bench/ocr.py uses seed 1).

    .venv/bin/python bench/token_classifier.py [--train reads.jsonl --test heldout.jsonl] [--model-out m.joblib]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from linesight_ocr.classifier.evaluation import compare, generate_reads, report
from linesight_ocr.classifier.model import TokenModel, iter_export
from linesight_ocr.domain.read_label import ReadOptions
from linesight_ocr.domain.vendors import load_profiles


def _generated(path: Path, count: int, seed: int) -> Path:
    profiles = load_profiles()
    options = ReadOptions(languages=["eng"], tesseract_timeout=60, deskew=False, review_below=0.8)
    with path.open("w", encoding="utf-8") as out:
        for read in generate_reads(count, seed, profiles, options):
            out.write(json.dumps(read) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--train-count", type=int, default=300)
    parser.add_argument("--test-count", type=int, default=200)
    parser.add_argument("--model-out", type=Path, help="keep the trained model here")
    parser.add_argument(
        "--drop-keys",
        action="store_true",
        help="also measure with the key tokens (`S/N:`, `MAC`, ...) taken out of the held-out reads, as if "
        "their keys were unreadable",
    )
    args = parser.parse_args()
    profiles = load_profiles()
    with tempfile.TemporaryDirectory() as tmp:
        train = args.train or _generated(Path(tmp) / "train.jsonl", args.train_count, 7)
        test = args.test or _generated(Path(tmp) / "test.jsonl", args.test_count, 8)
        start = time.perf_counter()
        model = TokenModel.train(iter_export(train), profiles)
        print(f"trained on {model.trained_reads} reads in {time.perf_counter() - start:.1f} s")
        if args.model_out:
            model.save(args.model_out)
        for line in report(*compare(iter_export(test), model, profiles)):
            print(line)
        if args.drop_keys:
            keyless = (
                {**read, "tokens": [t for t in read["tokens"] if t.get("label") != "key"]}
                for read in iter_export(test)
            )
            print("without key tokens:")
            for line in report(*compare(keyless, model, profiles)):
                print(line)


if __name__ == "__main__":
    main()
