"""Shadow mode benchmark: what a station's shadow version costs its live inspections.

Starts its own local stack (gateway, registry, inference and their infrastructure) in a temporary folder,
uploads the test detector as production (v1) and a copy of it as staging (v2), creates a station, and
drives `POST /api/v1/inspections` through the gateway with `--live-clients` clients, each pausing
`--think-ms` between requests (a line has gaps), in interleaved rounds of two configurations:

  shadow off    the station without a shadow alias;
  shadow on     the station's `shadow_alias` is staging: every inspection is answered again by v2 in the
                background (the gateway's shadow queue, `priority=replay` on the inference service).

Between configurations the station is changed (PATCH) and the shadow queue left to drain, so that one
configuration's shadow work does not fall into the other's. It prints each round's live p50/p95, the
shadow answers recorded meanwhile (agree, disagree, failed, dropped: from the gateway's metrics), and,
every round's requests pooled, the ratios of live p50/p95 with shadow on against off.

Target (issue 15): shadow on changes live p50 by at most 10 % (p50 ratio <= 1.10).

    .venv/bin/python bench/shadow.py [--seconds 8] [--rounds 3] [--live-clients 2] [--think-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import create_station, inspection_request, load_version
from bench.inference import _client, make_photos
from linesight_devstack import Stack, free_port_base
from tests.support.services import variant
from tests.support.yolo_models import detect_model

OFF, ON = "shadow off", "shadow on"
OUTCOMES = ("agree", "disagree", "failed", "dropped")


@dataclass
class Round:
    label: str
    live: list[float] = field(default_factory=list)
    errors: list[bytes] = field(default_factory=list)
    shadow: dict[str, float] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        ordered = sorted(self.live)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per configuration and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--live-clients", type=int, default=2)
    p.add_argument("--think-ms", type=float, default=100.0, help="pause of a live client between requests")
    p.add_argument("--size", default="640x480", help="photo size WxH")
    p.add_argument("--photos", type=int, default=8)
    return p.parse_args()


def shadow_counts(gw: httpx.Client) -> tuple[dict[str, float], float]:
    """The shadow answers counted so far (all stations: there is one) and the queue's depth."""
    counts = dict.fromkeys(OUTCOMES, 0.0)
    depth = 0.0
    for line in gw.get("/metrics").text.splitlines():
        if line.startswith("linesight_gateway_shadow_answers_total{"):
            series, value = line.rsplit(" ", 1)
            outcome = series.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] += float(value)
        elif line.startswith("linesight_gateway_shadow_queue_depth "):
            depth = float(line.rsplit(" ", 1)[1])
    return counts, depth


def drain(gw: httpx.Client, timeout: float = 120.0) -> None:
    """Wait until no shadow job waits or runs: the answers counted stop growing and the queue is empty."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        counts, depth = shadow_counts(gw)
        if depth == 0 and counts == last:
            return
        last = counts
        time.sleep(0.5)
    print("  (the shadow queue did not drain in time)")


def measure(port: int, requests: list[bytes], args: argparse.Namespace, label: str) -> Round:
    result = Round(label)

    async def run() -> None:
        until = time.perf_counter() + args.seconds
        await asyncio.gather(
            *(
                _client(port, requests, k * 3, until, result.live, result.errors, args.think_ms / 1000)
                for k in range(args.live_clients)
            )
        )

    asyncio.run(run())
    return result


def main() -> int:
    args = parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="linesight-bench-shadow-"))
    work.chmod(0o711)  # Postgres (run as `postgres` when we are root) must reach its folder inside
    model = detect_model()
    candidate = variant(model, work / "candidate.onnx", "shadow")
    photos = make_photos(args.photos, args.size)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINESIGHT_")}
    stack = Stack(
        work, free_port_base(), only=["gateway"], durable=False, environ=environ, prometheus_source=None
    )
    rounds: dict[str, list[Round]] = {OFF: [], ON: []}
    try:
        stack.start()
        api_key = stack.env["LINESIGHT_ADMIN_API_KEY"]
        gw = httpx.Client(base_url=stack.urls["gateway"], headers={"X-API-Key": api_key}, timeout=120)
        gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}).raise_for_status()
        for path in (model, candidate):
            with open(path, "rb") as fh:
                gw.post("/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}).raise_for_status()
        for alias, version in (("production", 1), ("staging", 2)):
            gw.put(f"/api/v1/models/bench/aliases/{alias}", json={"version": version}).raise_for_status()
        sid = create_station(gw)
        for alias in ("production", "staging"):  # both versions loaded before anything is measured
            load_version(stack.urls["inference"], stack.env["LINESIGHT_SERVICE_TOKEN"], photos[0], alias)
        port = urlsplit(stack.urls["gateway"]).port
        assert port is not None
        requests = [inspection_request(sid, ph, api_key) for ph in photos]
        configs = ((OFF, None), (ON, "staging"))

        def configure(alias: str | None) -> None:
            gw.patch(f"/api/v1/stations/{sid}", json={"shadow_alias": alias}).raise_for_status()
            drain(gw)

        print(
            f"YOLOv8n detect at 160 (production v1, staging v2 a copy), {len(photos)} JPEG photos "
            f"{args.size}; {args.live_clients} live clients pausing {args.think_ms:g} ms; {args.rounds} "
            f"rounds of {args.seconds:g} s per configuration, interleaved; {os.cpu_count()} CPUs"
        )
        warm = argparse.Namespace(**{**vars(args), "seconds": 2.0})
        for _, alias in configs:  # warm-up, not counted
            configure(alias)
            measure(port, requests, warm, "warm-up")
        for n in range(args.rounds):
            print(f"\nround {n + 1}")
            for label, alias in configs:
                configure(alias)
                before, _ = shadow_counts(gw)
                r = measure(port, requests, args, label)
                drain(gw)
                after, _ = shadow_counts(gw)
                r.shadow = {k: after[k] - before[k] for k in OUTCOMES}
                rounds[label].append(r)
                if r.errors:
                    print(f"  {label}: {len(r.errors)} failed live requests, first: {r.errors[0][:200]!r}")
                shadow = " ".join(f"{k} {v:g}" for k, v in r.shadow.items())
                print(
                    f"  {label:<11} live p50 {r.pct(0.5):7.1f} ms  p95 {r.pct(0.95):7.1f} ms  "
                    f"({len(r.live)} live, {len(r.errors)} failed)  shadow answers: {shadow}"
                )
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    pooled = {label: _pooled(rs) for label, rs in rounds.items() if rs}
    if len(pooled) < 2:
        return 1
    off, on = pooled[OFF], pooled[ON]
    print(f"\nall {args.rounds} rounds pooled")
    for r in (off, on):
        shadow = " ".join(f"{k} {v:g}" for k, v in r.shadow.items())
        print(
            f"  {r.label:<11} live p50 {r.pct(0.5):7.1f} ms  p95 {r.pct(0.95):7.1f} ms  ({len(r.live)} live, "
            f"{len(r.errors)} failed)  shadow answers: {shadow}"
        )
    p50, p95 = on.pct(0.5) / off.pct(0.5), on.pct(0.95) / off.pct(0.95)
    recorded = on.shadow["agree"] + on.shadow["disagree"]
    print(
        f"\nshadow on / off: live p50 ratio {p50:.3f}, p95 ratio {p95:.3f}; {recorded:g} of {len(on.live)} "
        f"live inspections got a shadow answer; target: p50 ratio <= 1.10 -> {'met' if p50 <= 1.10 else 'NOT met'}"
    )
    return 0


def _pooled(rs: list[Round]) -> Round:
    """Every round's samples together: interleaved rounds share the machine's noise."""
    return Round(
        rs[0].label,
        [x for r in rs for x in r.live],
        [e for r in rs for e in r.errors],
        {k: sum(r.shadow.get(k, 0.0) for r in rs) for k in OUTCOMES},
    )


if __name__ == "__main__":
    sys.exit(main())
