"""Replay priority benchmark: how much a replay running on the inference service slows live inspections.

One registry and one inference process (`python -m linesight_inference`, its default settings unless
`--service-env`), the cached test detector in production (v1) and a copy of it as the candidate (v2).
Live clients send inspections' photos to production, each pausing `--think-ms` between requests (a line
has gaps); in interleaved rounds, three configurations are measured:

  live only                    the live clients alone;
  live + replay (priority)     plus `--replay-clients` closed-loop clients replaying photos through v2 and
                               v1 with `priority=replay`, as the gateway's replay runner does;
  live + replay (as live)      the same replay load sent without the priority (what it would cost if
                               replays were ordinary requests), for reference.

It prints live p50/p95 and the replay images/s of each configuration (every round's requests pooled)
and the ratios of live p50/p95 against "live only". Run from the repository root, loopback only:

    .venv/bin/python bench/replay.py [--seconds 6] [--rounds 3] [--live-clients 2] [--replay-clients 4]

Postgres, Redis and an S3 store as bench/inference.py finds or starts them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("bench_inference", Path(__file__).with_name("inference.py"))
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_inference"] = bench  # its dataclasses look their module up
_spec.loader.exec_module(bench)

MODEL = "bench-tools"


@dataclass
class Round:
    label: str
    live: list[float] = field(default_factory=list)
    replay_images: int = 0
    seconds: float = 0.0
    errors: list[bytes] = field(default_factory=list)

    def pct(self, q: float) -> float:
        ordered = sorted(self.live)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _measure(
    port: int, live: list[bytes], replay: list[bytes] | None, args: argparse.Namespace, label: str
) -> Round:
    result = Round(label)
    replayed: list[float] = []
    until = time.perf_counter() + args.seconds
    jobs = [
        bench._client(port, live, k * 7, until, result.live, result.errors, args.think_ms / 1000)
        for k in range(args.live_clients)
    ]
    if replay is not None:
        jobs += [
            bench._client(port, replay, k * 5, until, replayed, result.errors)
            for k in range(args.replay_clients)
        ]
    t0 = time.perf_counter()
    await asyncio.gather(*jobs)
    result.seconds = time.perf_counter() - t0
    result.replay_images = len(replayed)
    return result


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="measured seconds per configuration and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--live-clients", type=int, default=2)
    p.add_argument("--think-ms", type=float, default=100.0, help="pause of a live client between requests")
    p.add_argument("--replay-clients", type=int, default=4)
    p.add_argument("--size", default="640x480", help="photo size WxH")
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE")
    return p.parse_args()


@contextmanager
def services(infra: dict[str, str], work: Path, versions: list[Path], extra: dict[str, str]) -> Iterator[int]:
    """A registry and an inference process; the versions uploaded, the first in production. Yields the
    inference port."""
    from tests.support.services import RegistryAdmin, ServiceProcess

    db_url, db_name = bench.fresh_database(infra["LINESIGHT_DATABASE_URL"])
    common = {
        **infra,
        "LINESIGHT_S3_BUCKET_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "LINESIGHT_SERVICE_TOKEN": bench.TOKEN,
        "LINESIGHT_LOG_LEVEL": "WARNING",
    }
    registry = inference = None
    try:
        registry = ServiceProcess(
            "linesight_registry", {**common, "LINESIGHT_DATABASE_URL": db_url}, work / "registry.log"
        )
        registry.wait_ready()
        inference = ServiceProcess(
            "linesight_inference",
            {**common, "LINESIGHT_REGISTRY_URL": registry.url, "LINESIGHT_MODEL_CACHE_DIR": str(work / "m")}
            | extra,
            work / "inference.log",
        )
        inference.wait_ready()
        admin = RegistryAdmin(registry.url, bench.TOKEN)
        admin.create_model(MODEL, "detect")
        for path in versions:
            admin.upload(MODEL, path)
        admin.move(MODEL, "production", 1)
        admin.close()
        yield inference.port
    finally:
        for proc in (inference, registry):
            if proc is not None:
                proc.stop()
        bench.drop_database(infra["LINESIGHT_DATABASE_URL"], db_name)


def main() -> int:
    args = parse_args()
    from tests.support.services import variant
    from tests.support.yolo_models import detect_model

    work = Path(tempfile.mkdtemp(prefix="linesight-bench-replay-"))
    work.chmod(0o711)
    model = detect_model()
    candidate = variant(model, work / "candidate.onnx", "replay")
    photos = bench.make_photos(args.photos, args.size)
    extra = dict(kv.split("=", 1) for kv in args.service_env)
    live = [bench.raw_request(f"/v1/predict?model={MODEL}", ph) for ph in photos]
    replay = [
        bench.raw_request(f"/v1/predict?model={MODEL}&version={v}&priority={{p}}", ph)
        for ph in photos
        for v in (2, 1)
    ]
    as_priority = [r.replace(b"{p}", b"replay") for r in replay]
    as_live = [r.replace(b"{p}", b"live") for r in replay]
    configs = [
        ("live only", None),
        ("live + replay (priority)", as_priority),
        ("live + replay (as live)", as_live),
    ]
    print(
        f"YOLOv8n detect at 160, {len(photos)} JPEG photos {args.size}; {args.live_clients} live clients "
        f"pausing {args.think_ms:g} ms, {args.replay_clients} replay clients; {args.rounds} rounds of "
        f"{args.seconds:g} s per configuration, interleaved; settings: {extra or 'defaults'}"
    )
    rounds: dict[str, list[Round]] = {}
    with ExitStack() as stack:
        infra = stack.enter_context(bench.infrastructure(work))
        port = stack.enter_context(services(infra, work, [model, candidate], extra))
        warm = argparse.Namespace(**{**vars(args), "seconds": 1.5})
        for label, requests in configs:  # warm-up: both versions loaded
            asyncio.run(_measure(port, live, requests, warm, label))
        for n in range(args.rounds):
            print(f"\nround {n + 1}")
            for label, requests in configs:
                r = asyncio.run(_measure(port, live, requests, args, label))
                rounds.setdefault(label, []).append(r)
                if r.errors:
                    print(f"  {label}: {len(r.errors)} failed requests, first: {r.errors[0]!r}")
                print(
                    f"  {label:<28} live p50 {r.pct(0.5):7.1f} ms  p95 {r.pct(0.95):7.1f} ms  "
                    f"({len(r.live)} live)  replay {r.replay_images / r.seconds:6.1f} img/s"
                )
    med = {label: _pooled(rs) for label, rs in rounds.items()}
    base = med["live only"]
    print(f"\nall {args.rounds} rounds pooled")
    for label, r in med.items():
        print(
            f"  {label:<28} live p50 {r.pct(0.5):7.1f} ms  p95 {r.pct(0.95):7.1f} ms  "
            f"replay {r.replay_images / r.seconds:6.1f} img/s  "
            f"p50 ratio {r.pct(0.5) / base.pct(0.5):5.2f}  p95 ratio {r.pct(0.95) / base.pct(0.95):5.2f}"
        )
    print(f"\nlogs in {work}")
    return 0


def _pooled(rs: list[Round]) -> Round:
    """Every round's samples together: interleaved rounds share the machine's noise, and a p95 of one
    5-second round rests on a handful of requests."""
    return Round(
        rs[0].label,
        [x for r in rs for x in r.live],
        sum(r.replay_images for r in rs),
        sum(r.seconds for r in rs),
    )


if __name__ == "__main__":
    sys.exit(main())
