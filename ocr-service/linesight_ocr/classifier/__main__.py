"""`python -m linesight_ocr.classifier`: train a token model from an export, evaluate it against the rules
on held-out reads, or generate labelled reads from synthetic labels (no gateway needed).

    python -m linesight_ocr.classifier generate --count 300 --seed 7 --out reads.jsonl
    python -m linesight_ocr.classifier train --export reads.jsonl --out model.joblib
    python -m linesight_ocr.classifier evaluate --model model.joblib --export heldout.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from linesight_ocr.classifier.evaluation import compare, generate_reads, report
from linesight_ocr.classifier.model import TokenModel, iter_export
from linesight_ocr.domain.read_label import ReadOptions
from linesight_ocr.domain.vendors import load_profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m linesight_ocr.classifier", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a token model from an export (JSON Lines)")
    train.add_argument("--export", type=Path, required=True)
    train.add_argument("--out", type=Path, required=True)
    evaluate = commands.add_parser("evaluate", help="rules against the model on held-out reads")
    evaluate.add_argument("--model", type=Path, required=True)
    evaluate.add_argument("--export", type=Path, required=True)
    generate = commands.add_parser("generate", help="labelled reads of generated labels, export format")
    generate.add_argument("--count", type=int, default=200)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    profiles = load_profiles()

    if args.command == "train":
        model = TokenModel.train(iter_export(args.export), profiles)
        model.save(args.out)
        print(f"trained on {model.trained_reads} reads → {args.out}")
    elif args.command == "evaluate":
        model = TokenModel.load(args.model)
        for line in report(*compare(iter_export(args.export), model, profiles)):
            print(line)
    else:
        options = ReadOptions(languages=["eng"], tesseract_timeout=60, deskew=False, review_below=0.8)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as out:
            for read in generate_reads(args.count, args.seed, profiles, options):
                out.write(json.dumps(read) + "\n")
        print(f"{args.count} labelled reads → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
