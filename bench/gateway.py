"""What the gateway adds to an inspection: p50/p99 of `POST /api/v1/inspections` through the gateway
against a direct `POST /v1/predict` to the inference service, same image, same model, same run.

Starts its own local stack (gateway, registry, inference and their infrastructure) in a temporary folder,
uploads the small test detector, creates a station, warms up, then times N sequential requests of each
kind, alternating them so that both see the same machine load. Target: gateway adds <= 15 ms at p50.

    .venv/bin/python bench/gateway.py [--requests 200]
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linesight_devstack import Stack, free_port_base
from tests.support.synthetic import CLASSES, draw_scene
from tests.support.yolo_models import detect_model


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    model = detect_model()
    data_dir = Path(tempfile.mkdtemp(prefix="linesight-bench-gw-"))
    data_dir.chmod(0o711)
    environ = {k: v for k, v in __import__("os").environ.items() if not k.startswith("LINESIGHT_")}
    stack = Stack(
        data_dir, free_port_base(), only=["gateway"], durable=False, environ=environ, prometheus_source=None
    )
    try:
        stack.start()
        env = stack.env
        admin = {"X-API-Key": env["LINESIGHT_ADMIN_API_KEY"]}
        token = {"Authorization": f"Bearer {env['LINESIGHT_SERVICE_TOKEN']}"}
        gw = httpx.Client(base_url=stack.urls["gateway"], headers=admin, timeout=30)
        inf = httpx.Client(base_url=stack.urls["inference"], headers=token, timeout=30)
        gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}).raise_for_status()
        with open(model, "rb") as fh:
            gw.post("/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}).raise_for_status()
        gw.put("/api/v1/models/bench/aliases/production", json={"version": 1}).raise_for_status()
        station = gw.post(
            "/api/v1/stations",
            json={
                "name": "bench-station",
                "mode": "detect",
                "model_name": "bench",
                "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
            },
        )
        station.raise_for_status()
        sid = station.json()["id"]
        img, _ = draw_scene(random.Random(1), size=(640, 480), present=[0, 1, 2])
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        photo = buf.getvalue()

        def via_gateway() -> float:
            t = time.perf_counter()
            r = gw.post("/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", photo)})
            elapsed = (time.perf_counter() - t) * 1000
            assert r.status_code == 201, r.text
            return elapsed

        def direct() -> float:
            t = time.perf_counter()
            r = inf.post(
                "/v1/predict", data={"model": "bench", "conf": "0.25"}, files={"image": ("p.jpg", photo)}
            )
            elapsed = (time.perf_counter() - t) * 1000
            assert r.status_code == 200, r.text
            return elapsed

        for _ in range(args.warmup):
            via_gateway()
            direct()
        g, d = [], []
        for _ in range(args.requests):
            g.append(via_gateway())
            d.append(direct())
        print(f"image 640x480 JPEG {len(photo)} bytes, {args.requests} sequential requests each, alternating")
        print(f"{'path':<28}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
        for name, values in (("direct inference /v1/predict", d), ("gateway /api/v1/inspections", g)):
            print(
                f"{name:<28}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}{statistics.mean(values):>10.2f}"
            )
        last = gw.get("/api/v1/inspections", params={"limit": 1}).json()["items"][0]
        print(f"the gateway's own timings of the last inspection (ms): {last['timings_ms']}")
        added = pct(g, 0.5) - pct(d, 0.5)
        print(
            f"gateway adds {added:.2f} ms at p50 ({pct(g, 0.99) - pct(d, 0.99):.2f} ms at p99); target <= 15 ms at p50"
        )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
