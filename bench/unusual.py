"""Unusual-photo check: the false-flag rate on a tool-bench station's normal photos and the detection
rate of unusual ones (dark, blurred, shifted view, another scene), through the domain function.

Each station keeps a rolling baseline of its last accepted photos, as the gateway does; the figures are
taken on held-out scene seeds (thresholds were set on tests/support/unusual_photos.TUNING_STATIONS).

    .venv/bin/python bench/unusual.py [--tuning] [--photos 100] [--training]

`--training` also compares with the photos the station's model was trained on (60 other normal photos of
the station, as the registry's training-photos answer gives them), and adds "dim": a station whose lamp
gives half its light for good, with a history of such photos, which only that comparison catches.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import ImageEnhance

from linesight_core.photo_stats import photo_stats, view
from linesight_gateway.domain.unusual import BASELINE_SIZE, baseline, reasons, signals
from tests.support import unusual_photos as photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=100, help="normal photos per station")
    parser.add_argument("--tuning", action="store_true", help="use the tuning stations instead")
    parser.add_argument("--training", action="store_true", help="compare with training photos too")
    args = parser.parse_args()
    stations = photos.TUNING_STATIONS if args.tuning else photos.HELD_OUT_STATIONS
    normal_total = normal_flagged = 0
    caught: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    why: Counter[str] = Counter()
    for station in stations:
        ref = view(photos.reference(station))
        training = (
            baseline([signals(photo_stats(photos.normal(station, 5000 + n)), []) for n in range(60)])
            if args.training
            else None
        )
        history: list[dict[str, float]] = []
        for n in range(args.photos):
            stats = photo_stats(photos.normal(station, n), ref)
            found = reasons(stats, [], history=history[-BASELINE_SIZE:], training=training)
            normal_total += 1
            if found:
                normal_flagged += 1
                why.update(found)
            else:
                history.append(signals(stats, []))
        for kind in ("dark", "blurred", "shifted"):
            for n in range(1000, 1005):
                stats = photo_stats(getattr(photos, kind)(station, n), ref)
                tried[kind] += 1
                caught[kind] += bool(reasons(stats, [], history=history[-BASELINE_SIZE:], training=training))
        bus = photo_stats(photos.elsewhere(), ref)
        tried["elsewhere"] += 1
        caught["elsewhere"] += bool(reasons(bus, [], history=history[-BASELINE_SIZE:], training=training))
        if training is not None:
            dim = [
                photo_stats(ImageEnhance.Brightness(photos.normal(station, 6000 + n)).enhance(0.5), ref)
                for n in range(BASELINE_SIZE + 5)
            ]
            dim_history = [signals(st, []) for st in dim[:BASELINE_SIZE]]
            for st in dim[BASELINE_SIZE:]:
                tried["dim"] += 1
                caught["dim"] += bool(reasons(st, [], history=dim_history, training=training))
    print(f"stations {min(stations)}..{max(stations)}, {args.photos} normal photos each")
    print(f"false flags: {normal_flagged}/{normal_total} = {normal_flagged / normal_total:.2%}  {dict(why)}")
    for kind in tried:
        print(f"detected {kind}: {caught[kind]}/{tried[kind]} = {caught[kind] / tried[kind]:.0%}")
    total_caught, total_tried = sum(caught.values()), sum(tried.values())
    print(f"detected unusual overall: {total_caught}/{total_tried} = {total_caught / total_tried:.1%}")


if __name__ == "__main__":
    main()
