"""What the platform adds to a training run: the same Ultralytics training (same data, architecture,
epochs, image size, batch, seed) once through the platform (registry → Celery → training worker, with a
report per epoch, a heartbeat, evaluation, ONNX export and registration) and once called directly in a
fresh Python process, in the same run of this script. Target: overhead <= 10 %.

Prints three figures:
  - training: the worker's own training time (the run's `train_seconds`) against the direct `train()`
  - submit → trained: from POST /v1/training-runs to the last epoch reported, against the direct train()
  - end to end: from POST to `succeeded` (evaluation, ONNX export, upload, registration included) against
    the direct train() + val() + export(format="onnx") a script would do to get the same deployable file

Starts its own local stack (registry, training worker and their infrastructure) in a temporary folder.

    .venv/bin/python bench/training.py [--images 96] [--epochs 20] [--imgsz 160] [--batch 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linesight_devstack import Stack, free_port_base
from linesight_devstack.synthetic import CLASSES, write_detect_zip

DIRECT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    work = Path(sys.argv[1])
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(work / "ultralytics")
    from ultralytics.utils import SETTINGS
    SETTINGS.update(sync=False, runs_dir=str(work / "runs"), datasets_dir=str(work), weights_dir=str(work))
    from ultralytics import YOLO
    args = json.loads(sys.argv[2])
    t0 = time.perf_counter()
    model = YOLO("yolov8n.yaml")
    model.train(data=args["data"], epochs=args["epochs"], imgsz=args["imgsz"], batch=args["batch"],
                seed=args["seed"], deterministic=True, workers=0, device="cpu", plots=False, amp=False,
                patience=0, project=str(work / "runs"), name="direct", exist_ok=True, verbose=False)
    t1 = time.perf_counter()
    best = YOLO(str(work / "runs" / "direct" / "weights" / "best.pt"))
    best.val(data=args["data"], split="val", imgsz=args["imgsz"], batch=1, plots=True, device="cpu",
             project=str(work / "runs"), name="direct-val", exist_ok=True, verbose=False)
    best.export(format="onnx", imgsz=args["imgsz"], dynamic=True, simplify=True)
    t2 = time.perf_counter()
    print(json.dumps({"train_s": t1 - t0, "all_s": t2 - t0}))
    """
)


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each side")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="linesight-bench-train-"))
    data_dir.chmod(0o711)
    archive = write_detect_zip(data_dir / "bench.zip", args.images, seed=args.seed)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINESIGHT_")}
    stack = Stack(
        data_dir / "stack",
        free_port_base(),
        only=["registry", "training-worker"],
        durable=False,
        environ=environ,
        prometheus_source=None,
    )
    try:
        stack.start()
        token = {"Authorization": f"Bearer {stack.env['LINESIGHT_SERVICE_TOKEN']}"}
        reg = httpx.Client(base_url=stack.urls["registry"], headers=token, timeout=120)
        body = {"name": "bench-train", "task": "detect", "class_names": CLASSES}
        reg.post("/v1/datasets", json=body).raise_for_status()
        with archive.open("rb") as fh:
            reg.post(
                "/v1/datasets/bench-train/imports", files={"file": ("b.zip", fh)}, data={"format": "yolo"}
            ).raise_for_status()
        version = reg.post("/v1/datasets/bench-train/versions", json={}).json()["version"]

        # The direct baseline trains on the very same files: the version's own export.
        export = data_dir / "export"
        with reg.stream("GET", f"/v1/datasets/bench-train/versions/{version}/export") as resp:
            resp.raise_for_status()
            with (data_dir / "export.zip").open("wb") as out:
                for chunk in resp.iter_bytes():
                    out.write(chunk)
        with zipfile.ZipFile(data_dir / "export.zip") as zf:
            zf.extractall(export)
        yaml_path = export / "data.yaml"
        lines = [ln for ln in yaml_path.read_text().splitlines() if not ln.startswith("path:")]
        yaml_path.write_text(f"path: {export}\n" + "\n".join(lines) + "\n")

        params = {"epochs": args.epochs, "imgsz": args.imgsz, "batch": args.batch, "seed": args.seed}
        print(f"dataset: {args.images} images, version {version}; {params}", flush=True)

        def through_platform() -> dict[str, float]:
            t0 = time.time()
            run = reg.post(
                "/v1/training-runs",
                json={
                    "dataset": "bench-train",
                    "dataset_version": version,
                    "model_name": "bench-train",
                    "architecture": "yolov8n.yaml",
                    "patience": 0,
                    **params,
                },
            )
            run.raise_for_status()
            run_id = run.json()["id"]
            while True:
                current = reg.get(f"/v1/training-runs/{run_id}").json()
                if current["status"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.25)
            t_done = time.time()
            if current["status"] != "succeeded":
                sys.exit(f"the platform run ended {current['status']}: {current['error']}")
            epochs = reg.get(f"/v1/training-runs/{run_id}/epochs").json()
            version_out = reg.get(f"/v1/models/bench-train/versions/{current['model_version']}").json()
            print(
                f"  platform run {run_id}: {len(epochs)} epochs reported, model version "
                f"{current['model_version']}, mAP50 {current['metrics'].get('mAP50', float('nan')):.3f}; "
                f"phases (s) {current['evaluation'].get('timings_s')}",
                flush=True,
            )
            return {
                "train_s": float(version_out["params"]["train_seconds"]),
                "trained_s": parse_ts(epochs[-1]["at"]) - t0,
                "all_s": t_done - t0,
            }

        def directly(n: int) -> dict[str, float]:
            work = data_dir / f"direct-{n}"
            work.mkdir()
            out = subprocess.run(
                [sys.executable, "-c", DIRECT, str(work), json.dumps({"data": str(yaml_path), **params})],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                sys.exit(f"direct training failed:\n{out.stderr[-3000:]}")
            result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  direct run {n}: {result}", flush=True)
            return result

        # Alternating, so both sides see the same changes in the machine's load; medians reported.
        platform, direct = [], []
        for n in range(args.repeat):
            platform.append(through_platform())
            direct.append(directly(n))

        def median(runs: list[dict[str, float]], key: str) -> float:
            return statistics.median(r[key] for r in runs)

        def row(name: str, p: float, d: float) -> None:
            print(
                f"{name:<22} platform {p:8.1f} s   direct {d:8.1f} s   overhead {100 * (p / d - 1):+6.1f} %"
            )

        print(f"\nmedians of {args.repeat} alternating runs each:")
        row("training", median(platform, "train_s"), median(direct, "train_s"))
        row("submit → trained", median(platform, "trained_s"), median(direct, "train_s"))
        row("end to end", median(platform, "all_s"), median(direct, "all_s"))
        print("target: overhead <= 10 %")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
