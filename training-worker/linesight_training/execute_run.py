"""One training or conversion run, end to end, inside a Celery pool process: take the run from the
registry, fetch the dataset version, train with a report per epoch and a heartbeat beside it, evaluate
the new model and the current production model on the same split, upload the artifacts, register the
version with its lineage and finish the run. The registry decides staging and promotion.

Every way out finishes the run (succeeded, failed or cancelled) unless the registry took it away (the
sweeper failed it, or a newer attempt owns it): then the run is left as the registry has it."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.training import TrainingRunsClient
from linesight_core.contracts.training import (
    DEFAULT_ARCHITECTURE,
    WEIGHTS_ARTIFACT,
    EpochProgress,
    RunFinish,
    TrainingRunOut,
)
from linesight_core.contracts.training_defaults import TRAINING_DEFAULTS
from linesight_core.storage import ObjectStore
from linesight_training.settings import TrainingSettings

log = logging.getLogger("linesight_training.execute_run")


class RunGone(Exception):
    """The registry no longer lets this attempt work on the run."""


@dataclass
class Outcome:
    status: str  # succeeded | failed | cancelled | dropped | gone
    detail: str = ""
    model_version: int | None = None


class Heartbeat:
    """Tells the registry every `interval` seconds that the run is alive; remembers whether it was asked
    to stop (cancel, or the run was taken away)."""

    def __init__(self, client: TrainingRunsClient, run_id: str, attempt: int, interval: float) -> None:
        self.client, self.run_id, self.attempt, self.interval = client, run_id, attempt, interval
        self.stop_requested = False
        self.gone = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=self.interval + 5)

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            try:
                control = self.client.heartbeat(self.run_id, self.attempt)
            except UpstreamError as exc:
                log.warning("heartbeat not accepted", extra={"run_id": self.run_id, "error": str(exc)})
                continue
            if control.stop:
                self.stop_requested = True
                self.gone = control.status != "running"


class RunContext:
    def __init__(self, settings: TrainingSettings, client: TrainingRunsClient, run: TrainingRunOut) -> None:
        self.settings = settings
        self.client = client
        self.run = run
        self.run_id = str(run.id)
        self.workdir = settings.training_work_dir / "runs" / self.run_id / f"attempt-{run.attempt}"
        self.store = ObjectStore.from_settings(settings)
        self.models_bucket = settings.bucket("models")
        self.timings: dict[str, float] = {}  # seconds per phase, reported with the run

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - start, 2)

    def prepare_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)

    def fetch_dataset(self) -> Path:
        """The dataset version as Ultralytics wants it: data.yaml (detect, segment) or the split folders
        (classify)."""
        run = self.run
        assert run.dataset and run.dataset_version
        archive = self.client.download_dataset_export(
            run.dataset, run.dataset_version, self.workdir / "data.zip"
        )
        root = self.workdir / "data"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(root)  # the registry's own export, written by domain/export.py
        archive.unlink()
        if run.task in ("detect", "segment"):
            data_yaml = root / "data.yaml"
            # Absolute path, so Ultralytics does not look for the data under its datasets_dir.
            text = data_yaml.read_text()
            lines = [f"path: {root}" if line.startswith("path:") else line for line in text.splitlines()]
            if not any(line.startswith("path:") for line in lines):
                lines.insert(0, f"path: {root}")
            data_yaml.write_text("\n".join(lines) + "\n")
            return data_yaml
        return root

    def upload(self, name: str, path: Path) -> str:
        key = f"runs/{self.run_id}/{name}"
        with path.open("rb") as fh:
            self.store.put_stream(self.models_bucket, key, fh, content_type=_content_type(path))
        return key

    def finish(self, body: RunFinish) -> None:
        try:
            self.client.finish(self.run_id, body)
        except UpstreamError as exc:
            if exc.status == 409:
                raise RunGone(str(exc)) from None
            raise


def _content_type(path: Path) -> str:
    return {".png": "image/png", ".json": "application/json", ".onnx": "application/octet-stream"}.get(
        path.suffix, "application/octet-stream"
    )


def _device(settings: TrainingSettings) -> str:
    if settings.training_device != "auto":
        return settings.training_device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


# --- evaluation and registration (shared by training and conversion) -----------------------------------


def evaluate_and_register(
    ctx: RunContext,
    onnx_path: Path,
    *,
    data: Path | None,
    imgsz: int,
    params: dict[str, Any],
    extra_artifacts: dict[str, Path],
) -> RunFinish:
    from linesight_training.evaluation import evaluate, pick_split

    run = ctx.run
    device = _device(ctx.settings)
    artifacts: dict[str, str] = {name: ctx.upload(name, path) for name, path in extra_artifacts.items()}
    evaluation: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    if data is not None:
        split = pick_split(run.task, data)
        with ctx.phase("evaluate"):
            challenger = evaluate(
                onnx_path,
                task=run.task,
                data=data,
                split=split,
                imgsz=imgsz,
                out_dir=ctx.workdir / "eval-new",
                device=device,
            )
        for name, plot in challenger.plots.items():
            artifacts[f"{name}.png"] = ctx.upload(f"{name}.png", plot)
        metrics = dict(challenger.metrics)
        evaluation = {
            "split": challenger.split,
            "images": challenger.images,
            "challenger": challenger.to_json(),
        }
    with ctx.phase("register"):
        version = ctx.client.upload_model_version(
            run.model_name,
            onnx_path,
            metrics=metrics,
            params={**params, "timings_s": dict(ctx.timings)},
            dataset_version_id=run.dataset_version_id,
            training_run_id=run.id,
            created_by=f"training:{run.id}",
            notes=run.notes,
        )
    if data is not None:
        evaluation["challenger"]["version"] = version["version"]
        with ctx.phase("champion"):
            evaluation["champion"] = champion_evaluation(
                ctx, data, imgsz, evaluation["split"], version["version"]
            )
    evaluation["timings_s"] = dict(ctx.timings)
    return RunFinish(
        status="succeeded",
        model_version=version["version"],
        evaluation=evaluation,
        artifacts=artifacts,
        metrics=metrics,
        attempt=run.attempt,
    )


def champion_evaluation(ctx: RunContext, data: Path, imgsz: int, split: str, new_version: int) -> dict | None:
    """The production version measured on the same split with the same code, or None without one."""
    from linesight_training.evaluation import evaluate

    champion = ctx.client.resolve(ctx.run.model_name, "production")
    if champion is None or champion["version"] == new_version:
        return None
    path = ctx.client.download_artifact(
        ctx.run.model_name, champion["version"], ctx.workdir / "champion.onnx"
    )
    champion_imgsz = int((champion.get("imgsz") or [imgsz])[0])
    result = evaluate(
        path,
        task=ctx.run.task,
        data=data,
        split=split,
        imgsz=champion_imgsz,
        out_dir=ctx.workdir / "eval-champion",
        device=_device(ctx.settings),
    )
    out = result.to_json()
    out["version"] = champion["version"]
    return out


# --- the two kinds of run ---------------------------------------------------------------------------------


def _train(ctx: RunContext, heartbeat: Heartbeat) -> RunFinish:
    from linesight_training.export import export_onnx
    from linesight_training.trainer import Cancelled, TrainSpec, train

    run = ctx.run
    with ctx.phase("fetch"):
        data = ctx.fetch_dataset()
    weights = None
    if run.base_weights_key:
        weights = ctx.workdir / "base.pt"
        ctx.store.download_file(ctx.models_bucket, run.base_weights_key, str(weights))
    architecture = None if weights else _yaml_name(run.architecture, run.task)
    spec = TrainSpec(
        task=run.task,
        data=data,
        workdir=ctx.workdir / "train",
        architecture=architecture,
        weights=weights,
        **TRAINING_DEFAULTS.fill(run),  # a setting the run row lacks gets the default a request gets
        device=_device(ctx.settings),
        workers=ctx.settings.dataloader_workers,
    )

    from linesight_training.metrics import record_epoch, record_run_ended

    elapsed = [0.0]  # when the previous epoch ended, since training began

    def on_epoch(report: Any) -> bool:
        record_epoch(run.model_name, report.epoch, report.epochs, report.elapsed_s - elapsed[0], report.eta_s)
        elapsed[0] = report.elapsed_s
        control = ctx.client.progress(
            ctx.run_id,
            EpochProgress(
                epoch=report.epoch,
                epochs=report.epochs,
                losses=report.losses,
                metrics=report.metrics,
                elapsed_s=report.elapsed_s,
                eta_s=report.eta_s,
                attempt=run.attempt,
            ),
        )
        if control.stop and control.status != "running":
            heartbeat.gone = True
        return bool(control.stop or heartbeat.stop_requested)

    try:
        with ctx.phase("train"):
            result = train(spec, on_epoch)
    except Cancelled as exc:
        if heartbeat.gone:
            raise RunGone("the registry stopped this attempt") from None
        return RunFinish(status="cancelled", error=f"cancelled after epoch {exc.epoch}", attempt=run.attempt)
    finally:
        record_run_ended(run.model_name)
    with ctx.phase("export"):
        onnx_path = export_onnx(result.best_pt, imgsz=spec.imgsz, out_dir=ctx.workdir / "export")
    params = {
        "architecture": run.architecture,
        "base_model": run.base_model,
        "base_version": run.base_version,
        "epochs": spec.epochs,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "imgsz": spec.imgsz,
        "batch": spec.batch,
        "seed": spec.seed,
        "patience": spec.patience,
        "device": spec.device,
        "train_seconds": round(result.train_seconds, 1),
        "dataset": run.dataset,
        "dataset_version": run.dataset_version,
    }
    return evaluate_and_register(
        ctx,
        onnx_path,
        data=data,
        imgsz=spec.imgsz,
        params=params,
        extra_artifacts={WEIGHTS_ARTIFACT: result.best_pt},
    )


def _convert(ctx: RunContext, heartbeat: Heartbeat) -> RunFinish:
    from linesight_training.convert import ConvertLimits, convert_pt_isolated

    run = ctx.run
    settings = ctx.settings
    assert run.source_key
    if settings.converter == "service" and settings.converter_spool_dir is None:
        raise RuntimeError("LINESIGHT_CONVERTER=service needs LINESIGHT_CONVERTER_SPOOL_DIR")
    source = ctx.workdir / "upload.pt"
    ctx.store.download_file(ctx.models_bucket, run.source_key, str(source))
    limits = ConvertLimits(
        memory_bytes=settings.convert_memory_bytes,
        cpu_seconds=settings.convert_cpu_seconds,
        wall_seconds=settings.convert_wall_seconds,
    )
    converted = convert_pt_isolated(
        source,
        out_dir=ctx.workdir / "convert",
        imgsz=run.imgsz,
        limits=limits,
        spool=settings.converter_spool_dir if settings.converter == "service" else None,
    )
    info = converted.info
    if info.get("task") != run.task:
        raise ValueError(
            f"the checkpoint is a {info.get('task')} model; {run.model_name!r} is a {run.task} model"
        )
    data = ctx.fetch_dataset() if run.dataset and run.dataset_version else None
    params = {"source": "pt-upload", "source_sha256": run.source_key.rsplit("/", 1)[-1].split(".")[0], **info}
    size = info.get("imgsz") or run.imgsz or 640
    imgsz = int(size[0] if isinstance(size, list | tuple) else size)
    # The weights kept for fine-tuning are the worker's own rebuild, never the uploaded pickle.
    return evaluate_and_register(
        ctx,
        converted.onnx,
        data=data,
        imgsz=imgsz,
        params=params,
        extra_artifacts={WEIGHTS_ARTIFACT: converted.weights},
    )


def _yaml_name(architecture: str | None, task: str) -> str:
    name = architecture or DEFAULT_ARCHITECTURE[task]
    return name if name.endswith(".yaml") else f"{name}.yaml"


def execute(settings: TrainingSettings, run_id: str, *, worker: str, task_id: str) -> Outcome:
    """Run one queued run to its end. Never raises for a problem of the run itself: that is reported to
    the registry as a failed run. Raises only when the registry cannot be told (so Celery may retry)."""
    with TrainingRunsClient(settings.registry_url, settings.service_token.get_secret_value()) as client:
        run = client.start(run_id, worker=worker, task_id=task_id)
        if run is None:
            return Outcome("dropped", "the registry refused the run (finished, cancelled or taken)")
        ctx = RunContext(settings, client, run)
        ctx.prepare_workdir()
        started = time.monotonic()
        log.info("run started", extra={"run_id": run_id, "kind": run.kind, "attempt": run.attempt})
        with Heartbeat(client, run_id, run.attempt, settings.heartbeat_interval_seconds) as heartbeat:
            try:
                body = _train(ctx, heartbeat) if run.kind == "train" else _convert(ctx, heartbeat)
            except RunGone as exc:
                return Outcome("gone", str(exc))
            except Exception as exc:  # the run failed: say why, keep the worker alive
                if _is_time_limit(exc):
                    message = f"time limit of {run.time_limit_seconds} s exceeded"
                else:
                    log.exception("run failed", extra={"run_id": run_id})
                    message = f"{type(exc).__name__}: {exc}"
                body = RunFinish(status="failed", error=message[:8000], attempt=run.attempt)
        try:
            ctx.finish(body)
        except RunGone as exc:
            return Outcome("gone", str(exc))
        finally:
            if settings.keep_run_files is False:
                shutil.rmtree(ctx.workdir, ignore_errors=True)
        log.info(
            "run finished",
            extra={"run_id": run_id, "status": body.status, "seconds": round(time.monotonic() - started, 1)},
        )
        return Outcome(body.status, body.error, body.model_version)


def _is_time_limit(exc: BaseException) -> bool:
    from celery.exceptions import SoftTimeLimitExceeded

    return isinstance(exc, SoftTimeLimitExceeded)
