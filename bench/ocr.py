"""Label reading accuracy and speed on a generated corpus: precision and recall per code type, the share
of labels routed to review, the precision of auto-approved codes, and p50 parse time against one bare
`tesseract` pass on the same images in the same run.

    .venv/bin/python bench/ocr.py --count 200 [--seed 1] [--fonts held-out]

`--fonts held-out` draws the same kind of labels in fonts the reader was never tuned on (Liberation Sans,
Sans Bold, Mono, Serif and FreeSans; apt-get install fonts-liberation fonts-freefont-ttf): how far the
figures on the DejaVu corpus carry over to other type.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from linesight_core.label_codes import gtin_valid
from linesight_ocr.domain import engine
from linesight_ocr.domain.label import ReadOptions, read_label
from linesight_ocr.domain.readers import ReaderPool
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.synthetic import FONTS, HELD_OUT_FONTS, corpus_label

TYPES = ("serial", "part_number", "mac", "ean13")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token-model", type=Path, help="rank candidates with this token classifier")
    parser.add_argument("--fonts", choices=("corpus", "held-out"), default="corpus")
    parser.add_argument(
        "--via-readers",
        action="store_true",
        help="also read every label through the service's reader process and report what that hand-off costs",
    )
    args = parser.parse_args()
    fonts = FONTS if args.fonts == "corpus" else HELD_OUT_FONTS
    missing = [f for f in fonts if args.fonts == "held-out" and not Path(f).is_file()]
    if missing:
        parser.error(
            f"fonts not installed: {', '.join(missing)} (apt-get install fonts-liberation fonts-freefont-ttf)"
        )
    scorer = None
    if args.token_model:
        from linesight_ocr.classifier.model import TokenModel

        scorer = TokenModel.load(args.token_model).scores
    rng = random.Random(args.seed)
    profiles = load_profiles()
    options = ReadOptions(languages=["eng"], tesseract_timeout=60, deskew=False, review_below=0.8)
    tp, fp, fn = Counter(), Counter(), Counter()
    approved_right = approved_total = reviewed = 0
    parse_s, bare_s, inproc_s, pooled_s = [], [], [], []
    readers = ReaderPool(1) if args.via_readers else None
    if readers is not None:
        readers.warm()
    single_thread = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.count):
            spec, image, _ = corpus_label(rng, fonts)
            path = Path(tmp) / f"{i}.png"
            image.save(path)
            start = time.perf_counter()
            subprocess.run(["tesseract", str(path), "-"], capture_output=True, check=True, env=single_thread)
            bare_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            with engine.pool().engine("eng", engine.PSM.AUTO) as api:
                engine.recognise(api, image, 60)
                api.GetUTF8Text()
            inproc_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            read, _ = read_label(image, options, profiles, token_scorer=scorer)
            parse_s.append(time.perf_counter() - start)
            if readers is not None:
                start = time.perf_counter()
                readers.read(image, options, None, 0.0)
                pooled_s.append(time.perf_counter() - start)
            reviewed += read.needs_review
            found: dict[str, set[str]] = {}
            for code in read.codes:
                if code.type in TYPES:
                    found.setdefault(code.type, set()).add(code.value)
                    # an EAN is right when its value is, and valid exactly when its check digit is
                    right = code.value == spec.expected[code.type] and (
                        code.type != "ean13" or code.valid == gtin_valid(spec.ean13)
                    )
                    if not read.needs_review:
                        approved_total += 1
                        approved_right += right
            for kind in TYPES:
                values = found.get(kind, set())
                hit = spec.expected[kind] in values
                tp[kind] += hit
                fn[kind] += not hit
                fp[kind] += len(values - {spec.expected[kind]})
    print(f"labels: {args.count} (seed {args.seed}, {args.fonts} fonts)")
    print(f"{'type':<12} {'precision':>9} {'recall':>7}")
    for kind in TYPES:
        precision = tp[kind] / max(tp[kind] + fp[kind], 1)
        recall = tp[kind] / max(tp[kind] + fn[kind], 1)
        print(f"{kind:<12} {precision:>9.3f} {recall:>7.3f}")
    print(f"routed to review: {reviewed / args.count:.1%}")
    print(f"auto-approved codes: {approved_total}, precision {approved_right / max(approved_total, 1):.3f}")
    p50_parse, p50_bare = statistics.median(parse_s), statistics.median(bare_s)
    p50_inproc = statistics.median(inproc_s)
    print(
        f"p50 parse {p50_parse * 1000:.0f} ms, p50 bare `tesseract` command {p50_bare * 1000:.0f} ms, "
        f"ratio {p50_parse / p50_bare:.2f}x (target <= 1.5x)"
    )
    print(
        f"p50 bare pass in process {p50_inproc * 1000:.0f} ms, ratio {p50_parse / p50_inproc:.2f}x "
        "(orientation detection, barcodes, second reads and extraction on top of one plain read)"
    )
    if readers is not None:
        readers.close()
        p50_pooled = statistics.median(pooled_s)
        print(
            f"p50 through a reader process {p50_pooled * 1000:.0f} ms: the hand-off adds "
            f"{(p50_pooled - p50_parse) * 1000:.1f} ms to the read in this process"
        )


if __name__ == "__main__":
    main()
