"""Label reading accuracy and speed, Tesseract alone, RapidOCR alone and both combined, side by side on the
same generated labels in the same run: recall and precision per code type, the share of reads sent to
review, the precision of auto-approved codes, p50 read time, and the recognizers alone (is the true value
present verbatim in each recognizer's raw text: recognition apart from extraction).

    .venv/bin/python bench/ocr.py --set held-out --count 100 [--seed 1] [--modes tesseract,rapidocr,both]

`--set held-out` (default, the headline figures) and `--set tuning` are linesight_ocr.synthetic_hard's two
disjoint sets (fonts, layouts, vendor name lines, random streams; apt-get install fonts-ocr-b
fonts-urw-base35 fonts-liberation fonts-freefont-ttf). `--set corpus` is the service's own generated corpus
(DejaVu fonts; `--fonts held-out`: Liberation and FreeSans). Speed: p50 of each mode's whole read against
one bare pass of each recognizer (Tesseract in process, RapidOCR detection+classification+recognition);
the target is p50 of `both` <= 1.5x the bare pass of the stronger recognizer.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from linesight_core.label_codes import gtin_valid
from linesight_ocr.domain import engine, line_reads, rapid
from linesight_ocr.domain.read_label import ReadOptions, read_label
from linesight_ocr.domain.reader_pool import ReaderPool
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.synthetic import FONTS, HELD_OUT_FONTS, corpus_label
from linesight_ocr.synthetic_hard import FONT_PACKAGES, hard_corpus, missing_fonts

TYPES = ("serial", "part_number", "mac", "ean13")
# mode: (recognizers, ReadOptions.tesseract_lines): `both` reads RapidOCR's line crops with Tesseract
# where the two differ; `both-lines` instead of Tesseract's page pass; `both-page` never
MODES = {
    "tesseract": (("tesseract",), "off"),
    "rapidocr": (("rapidocr",), "off"),
    "both": (("tesseract", "rapidocr"), "look"),
    "both-lines": (("tesseract", "rapidocr"), "only"),
    "both-page": (("tesseract", "rapidocr"), "off"),
}
RECOGNIZERS = ("tesseract", "tesseract-lines", "rapidocr")


def labels(args: argparse.Namespace) -> list[tuple[object, object]]:
    if args.set == "corpus":
        fonts = FONTS if args.fonts == "corpus" else HELD_OUT_FONTS
        rng = random.Random(args.seed)
        return [corpus_label(rng, fonts)[:2] for _ in range(args.count)]
    return [(h.spec, h.image) for h in hard_corpus(args.set, args.count, args.seed)]


class Tally:
    def __init__(self) -> None:
        self.tp, self.fp, self.fn = Counter(), Counter(), Counter()
        self.reviewed = self.approved_total = self.approved_right = self.approved_reads_missing = 0
        self.seconds: list[float] = []
        self.reasons: Counter[str] = Counter()

    def add(self, spec, read, seconds: float) -> None:
        self.seconds.append(seconds)
        self.reviewed += read.needs_review
        self.reasons.update(read.review_reasons)
        found: dict[str, set[str]] = {}
        for code in read.codes:
            if code.type not in TYPES:
                continue
            found.setdefault(code.type, set()).add(code.value)
            # an EAN is right when its value is, and valid exactly when its check digit is
            right = code.value == spec.expected[code.type] and (
                code.type != "ean13" or code.valid == gtin_valid(spec.ean13)
            )
            if not read.needs_review:
                self.approved_total += 1
                self.approved_right += right
        for kind in TYPES:
            values = found.get(kind, set())
            hit = spec.expected[kind] in values
            self.tp[kind] += hit
            self.fn[kind] += not hit
            self.fp[kind] += len(values - {spec.expected[kind]})
            if not read.needs_review and not hit:
                self.approved_reads_missing += 1

    def recall(self, kind: str) -> float:
        return self.tp[kind] / max(self.tp[kind] + self.fn[kind], 1)

    def precision(self, kind: str) -> float:
        return self.tp[kind] / max(self.tp[kind] + self.fp[kind], 1)


def bare_passes(image, raw_hits: dict[str, Counter], spec, times: dict[str, list[float]]) -> None:
    """One plain pass of each recognizer: its time, and whether each true value is in its text."""
    start = time.perf_counter()
    with engine.pool().engine("eng", engine.PSM.AUTO) as api:
        engine.recognise(api, image, 60)
        text = engine.text(api)
    times["tesseract"].append(time.perf_counter() - start)
    eng = rapid.engine()
    arr = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()
    start = time.perf_counter()
    with eng.deadline(math.inf):
        lines = rapid._lines(eng, arr)
    times["rapidocr"].append(time.perf_counter() - start)
    start = time.perf_counter()
    spans = line_reads.read_lines(lines, ["eng"], lambda: 60.0)
    times["tesseract-lines"].append(time.perf_counter() - start)
    texts = {
        "tesseract": text,
        "tesseract-lines": "\n".join(" ".join(s[0] for s in line.spans) for line in spans),
        "rapidocr": "\n".join(line.text for line in lines),
    }
    for name, raw in texts.items():
        squeezed = raw.replace(" ", "")
        for kind in TYPES:
            raw_hits[name][kind] += spec.expected[kind] in raw or spec.expected[kind] in squeezed


def main() -> None:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # each recognizer on one core, as in a reader
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("held-out", "tuning", "corpus"), default="held-out")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="tesseract,rapidocr,both")
    parser.add_argument("--fonts", choices=("corpus", "held-out"), default="corpus", help="with --set corpus")
    parser.add_argument("--token-model", type=Path, help="rank Tesseract's candidates with this classifier")
    parser.add_argument(
        "--via-readers",
        action="store_true",
        help="also read with both through a reader process (hand-off cost)",
    )
    parser.add_argument(
        "--show", type=int, default=0, help="print the first N wrong or reviewed reads of the last mode"
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in modes if m not in MODES]:
        parser.error(f"unknown modes {unknown}; choose from {', '.join(MODES)}")
    if args.set != "corpus" and (missing := missing_fonts(args.set)):
        parser.error(f"fonts not installed: {', '.join(missing)} (apt-get install {FONT_PACKAGES})")
    scorer = None
    if args.token_model:
        from linesight_ocr.classifier.model import TokenModel

        scorer = TokenModel.load(args.token_model).scores
    profiles = load_profiles()
    base = ReadOptions(languages=["eng"], tesseract_timeout=60, deskew=False, review_below=0.8)
    tallies = {m: Tally() for m in modes}
    raw_hits: dict[str, Counter] = {name: Counter() for name in RECOGNIZERS}
    bare: dict[str, list[float]] = {name: [] for name in RECOGNIZERS}
    pooled: list[float] = []
    readers = ReaderPool(1) if args.via_readers else None
    if readers is not None:
        readers.warm()
    rapid.check()  # load the engine before the clock runs
    shown = 0
    corpus = labels(args)
    for spec, image in corpus:
        bare_passes(image, raw_hits, spec, bare)
        for mode in modes:
            recognizers, lines = MODES[mode]
            options = replace(base, recognizers=recognizers, tesseract_lines=lines)
            start = time.perf_counter()
            read, _ = read_label(image, options, profiles, token_scorer=scorer)
            tallies[mode].add(spec, read, time.perf_counter() - start)
            if mode == modes[-1] and shown < args.show:
                wrong = {c.type: c.value for c in read.codes if c.type in TYPES} != spec.expected
                if wrong or read.needs_review:
                    shown += 1
                    print("---", spec.expected, read.review_reasons)
                    for c in read.codes:
                        print("   ", c.type, c.value, c.evidence, c.disagreement or "", c.source)
        if readers is not None:
            start = time.perf_counter()
            readers.read(image, replace(base, recognizers=MODES["both"][0]), None, 0.0)
            pooled.append(time.perf_counter() - start)
    n = len(corpus)
    print(f"labels: {n} ({args.set} set, seed {args.seed})")
    print(f"{'':<28}" + "".join(f"{m:>12}" for m in modes))
    for kind in TYPES:
        print(f"{'recall ' + kind:<28}" + "".join(f"{tallies[m].recall(kind):>12.3f}" for m in modes))
    for kind in TYPES:
        print(f"{'precision ' + kind:<28}" + "".join(f"{tallies[m].precision(kind):>12.3f}" for m in modes))
    row = "".join(f"{tallies[m].reviewed / n:>12.1%}" for m in modes)
    print(f"{'sent to review':<28}" + row)
    row = "".join(f"{tallies[m].approved_total:>12}" for m in modes)
    print(f"{'auto-approved codes':<28}" + row)
    row = "".join(f"{tallies[m].approved_right / max(tallies[m].approved_total, 1):>12.3f}" for m in modes)
    print(f"{'auto-approved precision':<28}" + row)
    row = "".join(f"{tallies[m].approved_reads_missing:>12}" for m in modes)
    print(f"{'approved, code missing':<28}" + row)
    row = "".join(f"{statistics.median(tallies[m].seconds) * 1000:>10.0f}ms" for m in modes)
    print(f"{'p50 read':<28}" + row)
    print("recognizer alone (true value verbatim in its raw text; p50 of one bare pass):")
    for name in RECOGNIZERS:
        hits = " ".join(f"{k} {raw_hits[name][k] / n:.3f}" for k in TYPES)
        print(f"  {name:<15} {hits}  p50 {statistics.median(bare[name]) * 1000:.0f} ms")
    print("  (tesseract-lines: Tesseract on RapidOCR's line crops; its time comes on top of RapidOCR's)")
    stronger = max(("tesseract", "rapidocr"), key=lambda r: (sum(raw_hits[r].values()), r))
    if "both" in modes:
        p50_both = statistics.median(tallies["both"].seconds)
        p50_strong = statistics.median(bare[stronger])
        print(
            f"p50 both {p50_both * 1000:.0f} ms = {p50_both / p50_strong:.2f}x one bare {stronger} pass "
            f"(the stronger recognizer alone; target <= 1.5x)"
        )
        print("review reasons (both):", dict(tallies["both"].reasons.most_common()))
    if readers is not None:
        readers.close()
        print(f"p50 both through a reader process {statistics.median(pooled) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
