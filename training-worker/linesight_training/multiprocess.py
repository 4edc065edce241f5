"""Prometheus multiprocess mode for the prefork worker: tasks run in pool processes, so every process
writes its samples to files in one directory and the health server adds them up.

prometheus_client decides at import time whether it writes to files, so `enable_multiprocess_metrics`
must run before anything in the process imports it; this module itself does not."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def enable_multiprocess_metrics(directory: Path | None) -> Path:
    """Point prometheus_client at `directory` (a fresh temporary one when None), emptied of the sample
    files a previous run left, and return it."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError(
            "prometheus_client was imported before multiprocess metrics were enabled; "
            "the pool processes' task metrics would be lost"
        )
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="linesight-training-metrics-"))
    else:
        directory.mkdir(parents=True, exist_ok=True)
        # Only prometheus_client's own files: the directory may be shared with nothing else, but a
        # mistyped setting must not cost anyone their data.
        for stale in directory.glob("*.db"):
            stale.unlink()
    os.environ[ENV] = str(directory)
    return directory
