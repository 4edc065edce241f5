"""`python -m linesight_training`: the Celery worker with its health and metrics server, settings from
the environment."""

import shutil
import signal
from types import FrameType

from linesight_training.multiprocess import enable_multiprocess_metrics
from linesight_training.settings import TrainingSettings


def _stop_while_starting(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> int:
    # Celery installs its warm-shutdown handler once the worker starts; a SIGTERM before that (an orderly
    # stop while torch, Ultralytics and the broker connection come up) still cleans up on the way out.
    signal.signal(signal.SIGTERM, _stop_while_starting)
    settings = TrainingSettings()
    metrics_dir = enable_multiprocess_metrics(settings.metrics_dir)
    try:
        # Imported only now: it loads prometheus_client, which must see the multiprocess directory.
        from linesight_training.worker import run_worker

        return run_worker(settings)
    finally:
        if settings.metrics_dir is None:  # ours alone: a temporary directory made for this run
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
