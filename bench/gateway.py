"""What the gateway adds to an inspection: `POST /api/v1/inspections` through the gateway against a direct
`POST /v1/predict` to the inference service, same photos, same model, same run.

Starts its own local stack (gateway, registry, inference and their infrastructure) in a temporary folder,
uploads the test detector (exported again at `--imgsz` when that is not 160), creates a station, then
drives both paths with the lean keep-alive load generator of bench/inference.py at each `--concurrency`,
in interleaved rounds (direct, then gateway, per concurrency and round), so that a burst of load from
another process hits both paths of one round. Each round's added latency is the gateway's p50 minus the
direct p50 of that round; the summary is the median over the rounds.

The direct call is what the gateway itself sends: the raw `image/jpeg` body on `/v1/predict`. The gateway
gets the multipart form a camera client sends. Photos are those of bench/inference.py (`--size` up to
4032x3024: larger than 1280 px, a bench scene upscaled and grained like a camera photo).

Targets: the gateway adds <= 15 ms at p50 on 640x480 photos and <= 25 ms on 12 MP photos.

    .venv/bin/python bench/gateway.py [--size 4032x3024] [--imgsz 640] [--concurrency 1,8] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inference import RunResult, drive, export_at, make_photos, median_run, print_table
from bench.service_profile import GATEWAY_STAGES, record, summarise, top_frames
from linesight_devstack import Stack, free_port_base
from tests.support.synthetic import CLASSES
from tests.support.yolo_models import detect_model, pt_for

BOUNDARY = "linesightgatewaybench"
DIRECT = "direct inference /v1/predict"
GATEWAY = "gateway /api/v1/inspections"


def request_bytes(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode() + body


def inspection_request(station_id: str, photo: bytes, api_key: str) -> bytes:
    """The multipart form a camera client posts to the gateway."""
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="station_id"\r\n\r\n{station_id}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    body += photo + f"\r\n--{BOUNDARY}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return request_bytes("/api/v1/inspections", {"Content-Type": content_type, "X-API-Key": api_key}, body)


def predict_request(photo: bytes, token: str) -> bytes:
    """The raw-body call the gateway makes to the inference service."""
    headers = {"Content-Type": "image/jpeg", "Authorization": f"Bearer {token}"}
    return request_bytes("/v1/predict?model=bench&conf=0.25", headers, photo)


def create_station(gw: httpx.Client) -> str:
    """The bench's detect station on model `bench`, expecting one of each test class; its id."""
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
    return station.json()["id"]


def load_version(inference_url: str, token: str, photo: bytes, alias: str) -> None:
    """Ask inference for `bench` under `alias` once, with a long timeout: the version is loaded then."""
    httpx.post(
        f"{inference_url}/v1/predict",
        params={"model": "bench", "alias": alias},
        content=photo,
        headers={"Content-Type": "image/jpeg", "Authorization": f"Bearer {token}"},
        timeout=120,
    ).raise_for_status()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per path and round")
    p.add_argument("--rounds", type=int, default=3, help="rounds; the summary is their median")
    p.add_argument("--concurrency", default="1,8")
    p.add_argument("--size", default="640x480", help="photo size WxH, up to 4032x3024")
    p.add_argument("--imgsz", type=int, default=160, choices=(160, 320, 640), help="detector input size")
    p.add_argument("--photos", type=int, default=8)
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample the gateway with py-spy during its last round's runs and print where its CPU goes",
    )
    return p.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    levels = [int(c) for c in args.concurrency.split(",")]
    data_dir = Path(tempfile.mkdtemp(prefix="linesight-bench-gw-"))
    data_dir.chmod(0o711)  # Postgres (run as `postgres` when we are root) must reach its folder inside
    model = detect_model()
    if args.imgsz != 160:
        model = export_at(pt_for(model), args.imgsz, data_dir)
    photos = make_photos(args.photos, args.size)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINESIGHT_")}
    stack = Stack(
        data_dir, free_port_base(), only=["gateway"], durable=False, environ=environ, prometheus_source=None
    )
    try:
        stack.start()
        env = stack.env
        api_key, token = env["LINESIGHT_ADMIN_API_KEY"], env["LINESIGHT_SERVICE_TOKEN"]
        gw = httpx.Client(base_url=stack.urls["gateway"], headers={"X-API-Key": api_key}, timeout=60)
        gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}).raise_for_status()
        with open(model, "rb") as fh:
            gw.post("/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}).raise_for_status()
        gw.put("/api/v1/models/bench/aliases/production", json={"version": 1}).raise_for_status()
        sid = create_station(gw)
        # The model is loaded on its first request: ask inference directly first (with a long timeout),
        # so that a loaded machine does not leave the gateway's first inspection pending (5 s limit).
        load_version(stack.urls["inference"], token, photos[0], "production")
        first = gw.post(
            "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", photos[0])}
        )
        assert first.status_code == 201, first.text

        pids = stack.pids()
        paths = [
            (DIRECT, "inference", [predict_request(ph, token) for ph in photos]),
            (GATEWAY, "gateway", [inspection_request(sid, ph, api_key) for ph in photos]),
        ]
        print(
            f"model {model.name} (YOLOv8n detect, imgsz {args.imgsz}), {len(photos)} JPEG photos {args.size} "
            f"(~{statistics.mean(map(len, photos)) / 1024:.0f} KiB), {os.cpu_count()} CPUs; {args.rounds} "
            f"rounds of {args.seconds:g} s per path and concurrency, interleaved; server cpu = that service's process (on gateway rows, other cpu includes the "
            "inference service, Postgres and the S3 store working for it)"
        )
        runs: dict[tuple[str, int], list[RunResult]] = {}
        added: dict[int, list[float]] = {c: [] for c in levels}
        for n in range(args.rounds):
            rows = []
            for c in levels:
                pair = []
                for label, service, requests in paths:
                    port = urlsplit(stack.urls[service]).port
                    pid = pids[service]
                    assert port is not None and pid is not None, f"{service} is not running"
                    profiling = args.profile and service == "gateway" and n == args.rounds - 1
                    with record(pid, data_dir / f"gateway-c{c}.txt") if profiling else nullcontext():
                        pair.append(drive(label, port, pid, requests, c, args.seconds))
                added[c].append(pair[1].pct(0.5) - pair[0].pct(0.5))
                rows += pair
            for r in rows:
                runs.setdefault((r.label, r.concurrency), []).append(r)
            print(f"\nround {n + 1}")
            print_table(rows)

        print(f"\nmedian of {args.rounds} rounds (by images/s)")
        print_table([median_run(rs) for rs in runs.values()])
        if args.profile:
            for c in levels:
                print(f"\nwhere the gateway's CPU went at c={c} (py-spy, last round, non-idle samples)")
                for stage, share in summarise(data_dir / f"gateway-c{c}.txt", GATEWAY_STAGES):
                    print(f"  {share * 100:5.1f} %  {stage}")
                print("  the functions the samples were in:")
                for frame, share in top_frames(data_dir / f"gateway-c{c}.txt"):
                    print(f"  {share * 100:5.1f} %  {frame}")
        last = gw.get("/api/v1/inspections", params={"limit": 1}).json()["items"][0]
        print(f"\nthe gateway's own timings of the last inspection (ms): {last['timings_ms']}")
        target = 15 if max(int(v) for v in args.size.split("x")) <= 1280 else 25
        for c in levels:
            per_round = " ".join(f"{a:.1f}" for a in added[c])
            print(
                f"c={c:<3} gateway adds {statistics.median(added[c]):.1f} ms at p50 (median of rounds: "
                f"{per_round}); target <= {target} ms at p50"
            )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
