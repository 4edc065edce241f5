"""Unusual-photo check: the false-flag rate on a tool-bench station's normal photos and the detection
rate of unusual ones (dark, blurred, shifted view, another scene), through the domain function.

Each station keeps a rolling baseline of its last accepted photos, as the gateway does; the figures are
taken on held-out scene seeds (thresholds were set on tests/support/unusual_photos.TUNING_STATIONS).

    .venv/bin/python bench/unusual.py [--tuning] [--photos 100]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linesight_core.photo_stats import photo_stats, view
from linesight_gateway.domain.unusual import BASELINE_SIZE, reasons, signals
from tests.support import unusual_photos as photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=100, help="normal photos per station")
    parser.add_argument("--tuning", action="store_true", help="use the tuning stations instead")
    args = parser.parse_args()
    stations = photos.TUNING_STATIONS if args.tuning else photos.HELD_OUT_STATIONS
    normal_total = normal_flagged = 0
    caught: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    why: Counter[str] = Counter()
    for station in stations:
        ref = view(photos.reference(station))
        history: list[dict[str, float]] = []
        for n in range(args.photos):
            stats = photo_stats(photos.normal(station, n), ref)
            found = reasons(stats, [], history=history[-BASELINE_SIZE:])
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
                caught[kind] += bool(reasons(stats, [], history=history[-BASELINE_SIZE:]))
        bus = photo_stats(photos.elsewhere(), ref)
        tried["elsewhere"] += 1
        caught["elsewhere"] += bool(reasons(bus, [], history=history[-BASELINE_SIZE:]))
    print(f"stations {min(stations)}..{max(stations)}, {args.photos} normal photos each")
    print(f"false flags: {normal_flagged}/{normal_total} = {normal_flagged / normal_total:.2%}  {dict(why)}")
    for kind in tried:
        print(f"detected {kind}: {caught[kind]}/{tried[kind]} = {caught[kind] / tried[kind]:.0%}")
    total_caught, total_tried = sum(caught.values()), sum(tried.values())
    print(f"detected unusual overall: {total_caught}/{total_tried} = {total_caught / total_tried:.1%}")


if __name__ == "__main__":
    main()
