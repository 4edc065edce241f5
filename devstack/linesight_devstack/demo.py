"""The first run for a new user, through the gateway like any client: a synthetic workstation dataset,
a station, the import, a dataset version, a detector trained on it (with its progress), the evaluation,
the promotion, an inspection answered by the new model, and the operator's correction flowing back
into a new dataset version. Needs no network: the data is drawn here and the model starts from a YAML.

`make demo` starts the local stack for it (or uses the one `make dev` runs) and prints every step."""

from __future__ import annotations

import io
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from linesight_devstack.synthetic import CLASSES, draw_scene, write_detect_zip

Echo = Callable[[str], None]
# The validation figure shown per epoch: the first the run reports (detect, segment masks, classify).
PROGRESS_METRICS = ("mAP50", "mask_mAP50", "box_mAP50", "accuracy")


class DemoError(RuntimeError):
    pass


@dataclass
class DemoConfig:
    name: str = "demo-bench"
    images: int = 160
    image_size: tuple[int, int] = (320, 240)
    epochs: int = 25
    imgsz: int = 320
    batch: int = 16
    seed: int = 0
    training_timeout_s: float = 1800.0
    # The station retrains by itself on the version its feedback makes (the demo does not wait for it).
    auto_train: bool = False


@dataclass
class DemoResult:
    dataset_version: int = 0
    run_id: str = ""
    epochs_reported: int = 0
    model_version: int = 0
    evaluation: dict[str, Any] = field(default_factory=dict)
    staged: bool = False
    inspection: dict[str, Any] = field(default_factory=dict)
    feedback_item: str = ""
    feedback_corrected: bool = False
    next_dataset_version: dict[str, Any] = field(default_factory=dict)
    station_training_state: dict[str, Any] = field(default_factory=dict)


class Demo:
    TASK = "detect"
    CLASSES: tuple[str, ...] = tuple(CLASSES)
    ARCHITECTURE = "yolov8n.yaml"
    WHAT = "bench photos"
    STEPS: ClassVar[dict[str, str]] = {
        "import": "Import a synthetic workstation dataset",
        "train": "Train a detector (Celery worker, Ultralytics, offline)",
        "station": "A station that uses it",
        "inspect": "Inspect a photo (the tape is missing)",
        "feedback": "Operator feedback becomes training data",
    }

    def __init__(self, gateway_url: str, api_key: str, config: DemoConfig, echo: Echo = print) -> None:
        self.http = httpx.Client(base_url=gateway_url, headers={"X-API-Key": api_key}, timeout=120.0)
        self.config = config
        self.echo = echo

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        resp = self.http.request(method, path, **kwargs)
        if resp.status_code not in ok:
            raise DemoError(f"{method} {path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else resp

    # --- the steps --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Model, dataset and station, created when missing, so the demo can be run again."""
        name, task = self.config.name, self.TASK
        if self.http.get(f"/api/v1/models/{name}").status_code == 404:
            self.call("POST", "/api/v1/models", json={"name": name, "task": task, "description": self.WHAT})
            self.echo(f"  model {name!r} created ({task})")
        if self.http.get(f"/api/v1/datasets/{name}").status_code == 404:
            self.call(
                "POST",
                "/api/v1/datasets",
                json={"name": name, "task": task, "class_names": list(self.CLASSES), "station": name},
            )
            self.echo(f"  dataset {name!r} created with classes {', '.join(self.CLASSES)}")

    def write_archive(self, path: Path) -> Path:
        """The YOLO zip of the demo's photos."""
        cfg = self.config
        return write_detect_zip(path, cfg.images, seed=cfg.seed, size=cfg.image_size)

    def import_data(self) -> int:
        cfg = self.config
        with tempfile.TemporaryDirectory() as tmp:
            archive = self.write_archive(Path(tmp) / "demo.zip")
            size_kb = archive.stat().st_size // 1024
            with archive.open("rb") as fh:
                report = self.call(
                    "POST",
                    f"/api/v1/datasets/{cfg.name}/imports",
                    files={"file": (archive.name, fh, "application/zip")},
                    data={"format": "yolo"},
                )
        self.echo(
            f"  imported a YOLO {self.TASK} zip of {cfg.images} {self.WHAT} ({size_kb} KiB): "
            f"{report['added']} added, {report['replaced']} replaced, {report['skipped']} skipped"
        )
        stats = self.call("GET", f"/api/v1/datasets/{cfg.name}/stats")
        self.echo(
            f"  splits {stats['images_per_split']}; instances {stats['instances_per_class']}; "
            f"images without labels {stats['images_without_labels']}"
        )
        return int(report["added"])

    def cut_version(self, notes: str) -> dict[str, Any]:
        resp = self.http.post(f"/api/v1/datasets/{self.config.name}/versions", json={"notes": notes})
        if resp.status_code == 409:  # nothing changed since the latest: use it
            latest = self.call("GET", f"/api/v1/datasets/{self.config.name}/versions", params={"limit": 1})
            version: dict[str, Any] = latest["items"][0]
            self.echo(f"  dataset unchanged; using version {version['version']}")
            return version
        if resp.status_code != 201:
            raise DemoError(f"cutting a version answered {resp.status_code}: {resp.text[:500]}")
        version = resp.json()
        diff = version["diff"]
        self.echo(
            f"  dataset version {version['version']}: {version['item_count']} images "
            f"{version['split_counts']}, +{diff['added']} -{diff['removed']} ~{diff['relabelled']} "
            f"against {diff['against'] or 'nothing'}"
        )
        return version

    def train(self, dataset_version: int) -> dict[str, Any]:
        cfg = self.config
        run = self.call(
            "POST",
            "/api/v1/training-runs",
            json={
                "dataset": cfg.name,
                "dataset_version": dataset_version,
                "model_name": cfg.name,
                "architecture": self.ARCHITECTURE,
                "epochs": cfg.epochs,
                "imgsz": cfg.imgsz,
                "batch": cfg.batch,
                "seed": cfg.seed,
                "patience": cfg.epochs,
                "notes": f"first {self.TASK} model of the demo",
            },
        )
        self.echo(
            f"  training run {run['id']} queued: {self.ARCHITECTURE.removesuffix('.yaml')} from scratch, "
            f"{cfg.epochs} epochs at {cfg.imgsz} px"
        )
        return self.watch(run["id"])

    def watch(self, run_id: str) -> dict[str, Any]:
        """Print every epoch as the worker reports it, until the run ends."""
        deadline = time.monotonic() + self.config.training_timeout_s
        seen = 0
        announced = False
        while True:
            run = self.call("GET", f"/api/v1/training-runs/{run_id}")
            if run["status"] != "queued" and not announced and run.get("worker"):
                announced = True
                self.echo(f"  running on {run['worker']}")
            for progress in self.call(
                "GET", f"/api/v1/training-runs/{run_id}/epochs", params={"after": seen}
            ):
                seen = max(seen, progress["epoch"])
                m = progress.get("metrics") or {}
                losses = " ".join(
                    f"{k}={v:.3f}" for k, v in (progress.get("losses") or {}).items() if v is not None
                )
                # A segment run reports box_ and mask_ metrics; a classify run accuracy.
                shown = next((k for k in PROGRESS_METRICS if m.get(k) is not None), "mAP50")
                self.echo(
                    f"  epoch {progress['epoch']}/{progress['epochs']}  {losses}  "
                    f"{shown}={m.get(shown) or 0:.3f}  elapsed {progress['elapsed_s']:.0f}s  "
                    f"eta {progress.get('eta_s') or 0:.0f}s"
                )
            if run["status"] in ("succeeded", "failed", "cancelled"):
                if run["status"] != "succeeded":
                    raise DemoError(f"training run {run_id} ended {run['status']}: {run['error']}")
                return run
            if time.monotonic() > deadline:
                raise DemoError(
                    f"training run {run_id} did not finish in {self.config.training_timeout_s:.0f} s"
                )
            time.sleep(1.0)

    def report(self, run: dict[str, Any]) -> None:
        ev = run["evaluation"]
        new = ev["challenger"]["metrics"]
        self.echo(
            f"  model version {run['model_version']} on the {ev['split']} split ({ev['images']} images): "
            + ", ".join(f"{k} {v:.3f}" for k, v in new.items() if isinstance(v, int | float))
        )
        for cls, values in sorted(ev["challenger"].get("per_class", {}).items()):
            # A segment run's classes carry box_ and mask_ figures: the masks are what its station judges.
            p = "mask_" if "mask_ap50" in values else ""
            self.echo(
                f"    {cls:12s} {p}precision {values.get(p + 'precision', 0):.3f}  "
                f"{p}recall {values.get(p + 'recall', 0):.3f}  {p}AP50 {values.get(p + 'ap50', 0):.3f}"
                + (f"  Dice {values['dice']:.3f}" if "dice" in values else "")
            )
        champion = ev.get("champion")
        if champion:
            self.echo(f"  production (v{champion['version']}) on the same split: {champion['metrics']}")
        self.echo(f"  decision: {run['decision']}")
        self.echo(f"  plots: {', '.join(k for k in run['artifacts'] if k.endswith('.png'))}")

    def promote(self, version: int) -> None:
        self.call(
            "PUT",
            f"/api/v1/models/{self.config.name}/aliases/production",
            json={"version": version, "reason": "demo: first trained model"},
        )
        self.echo(f"  production → version {version}")

    def station(self) -> dict[str, Any]:
        name = self.config.name
        existing = self.call("GET", "/api/v1/stations", params={"q": name})
        for s in existing["items"]:
            if s["name"] == name:
                return dict(s)
        station = self.call(
            "POST",
            "/api/v1/stations",
            json={
                "name": name,
                "mode": "detect",
                "model_name": name,
                "description": "Demo bench: a wrench, a screwdriver and a roll of tape",
                "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
                "training": {
                    "dataset": name,
                    "retrain_after": 1,
                    "auto_train": self.config.auto_train,
                    "epochs": self.config.epochs,
                    "imgsz": self.config.imgsz,
                    "batch": self.config.batch,
                },
            },
        )
        self.echo(
            f"  station {name!r}: expects {', '.join(CLASSES)}; a new dataset version after each correction"
        )
        return dict(station)

    def inspect_photo(self, station: dict[str, Any], img: Any, version: int) -> dict[str, Any]:
        """The inspection of `img` (a PIL image, sent as a JPEG), asked again until inference answers with
        the promoted `version` (it loads it on first use) or a minute has passed."""
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=92)
        deadline = time.monotonic() + 60
        while True:
            result: dict[str, Any] = self.call(
                "POST",
                "/api/v1/inspections",
                data={"station_id": station["id"]},
                files={"image": ("photo.jpg", buf.getvalue(), "image/jpeg")},
                ok=(200, 201, 202),
            )
            if (result.get("model") or {}).get("version") == version or time.monotonic() > deadline:
                return result
            time.sleep(1.0)

    def inspect(self, station: dict[str, Any], version: int) -> tuple[dict[str, Any], list[Any]]:
        """A fresh photo with the tape missing; waits until inference serves the promoted version."""
        rng = random.Random(self.config.seed + 10_000)  # noqa: S311 - a reproducible picture
        img, placed = draw_scene(rng, size=self.config.image_size, present=[0, 1])
        result = self.inspect_photo(station, img, version)
        missing = ", ".join(
            f"{m['label']} ({m['found']}/{m['expected']})" for m in result.get("missing") or []
        )
        self.echo(
            f"  inspection {result['id']}: {result.get('verdict')} ({result.get('confidence_status')}, "
            f"confidence {result.get('confidence')}) by {result['model']['name']} v{result['model']['version']}"
            + (f"; missing {missing}" if missing else "")
        )
        return result, placed

    def correct(self, inspection: dict[str, Any], placed: list[Any]) -> dict[str, Any]:
        boxes = [
            {"label": CLASSES[p.cls], "x1": p.box[0], "y1": p.box[1], "x2": p.box[2], "y2": p.box[3]}
            for p in placed
        ]
        correct = inspection.get("verdict") == "NOK" and {
            m["label"] for m in inspection.get("missing") or []
        } == {"tape"}
        body: dict[str, Any] = {"use_for_training": True, "notes": "demo feedback"}
        if correct:
            body["correct"] = True
        else:
            body.update(correct=False, corrected_verdict="NOK", corrected_boxes=boxes)
        feedback = self.call("POST", f"/api/v1/inspections/{inspection['id']}/feedback", json=body)
        self.echo(
            "  operator: "
            + ("confirms the answer" if correct else f"corrects it with {len(boxes)} boxes")
            + ", use for training"
        )
        return dict(feedback)

    def wait_for_feedback_version(
        self, inspection_id: str, after: int, timeout: float = 90.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            feedback = self.call("GET", f"/api/v1/inspections/{inspection_id}/feedback")
            link = feedback.get("dataset") or {}
            versions = self.call("GET", f"/api/v1/datasets/{self.config.name}/versions", params={"limit": 1})
            latest = versions["items"][0] if versions["items"] else None
            if link.get("error"):
                raise DemoError(f"the feedback did not reach the dataset: {link['error']}")
            if link.get("synced") and latest and latest["version"] > after:
                self.echo(
                    f"  the feedback is dataset item {link['item_id']}; the station's policy cut "
                    f"version {latest['version']} (+{latest['diff']['added']} ~{latest['diff']['relabelled']})"
                )
                state = self._station_state()
                if state.get("last_run_id"):
                    self.echo(f"  and started training run {state['last_run_id']} on it")
                elif state.get("last_run_error"):
                    self.echo(f"  no training run on it: {state['last_run_error']}")
                return {"item_id": link["item_id"], "version": latest, "state": state}
            time.sleep(1.0)
        raise DemoError("the feedback did not become a new dataset version in time")

    def _station_state(self) -> dict[str, Any]:
        for s in self.call("GET", "/api/v1/stations", params={"q": self.config.name})["items"]:
            if s["name"] == self.config.name:
                return dict(s["training_state"])
        return {}

    def run(self) -> DemoResult:
        result = DemoResult()
        step = _Steps(self.echo)
        step("Model, dataset")
        self.prepare()
        step(self.STEPS["import"])
        self.import_data()
        step("Freeze it as a dataset version")
        result.dataset_version = self.cut_version(f"demo: synthetic {self.WHAT}")["version"]
        step(self.STEPS["train"])
        run = self.train(result.dataset_version)
        result.run_id, result.model_version = run["id"], run["model_version"]
        result.epochs_reported = run["epochs_done"]
        result.evaluation, result.staged = run["evaluation"], run["staged"]
        step("Evaluation report")
        self.report(run)
        step("Promote it to production")
        self.promote(run["model_version"])
        step(self.STEPS["station"])
        station = self.station()
        step(self.STEPS["inspect"])
        inspection, placed = self.inspect(station, run["model_version"])
        result.inspection = inspection
        step(self.STEPS["feedback"])
        result.feedback_corrected = not self.correct(inspection, placed)["correct"]
        loop = self.wait_for_feedback_version(inspection["id"], result.dataset_version)
        result.feedback_item, result.next_dataset_version = loop["item_id"], loop["version"]
        result.station_training_state = loop["state"]
        step("Done")
        return result


class _Steps:
    def __init__(self, echo: Echo) -> None:
        self.echo, self.n, self.started = echo, 0, time.monotonic()

    def __call__(self, title: str) -> None:
        self.n += 1
        self.echo(f"\n[{self.n}] {title}  (+{time.monotonic() - self.started:.0f}s)")
