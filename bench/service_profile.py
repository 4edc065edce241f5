"""Where a service's CPU goes under a bench's load: py-spy (pinned in constraints.txt through
requirements-dev.txt) samples the process while the bench drives it, and the samples are summed by stage.

    with record(pid, path):   # py-spy record --pid PID --format raw --rate 250 --nonblocking
        ...                   # the load
    for stage, share in summarise(path): ...

Only non-idle samples are kept (py-spy's default), so the shares are of the CPU the service used.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# First match wins: a sample whose stack holds one of these frames counts for that stage.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ONNX Runtime Session.run", ("onnxruntime_inference_collection.py",)),
    ("JPEG decode (decode_image: header, limits, reduced decode)", ("decode_image (",)),
    ("letterbox (resize into the padded canvas)", ("letterbox_pixels (",)),
    ("input rows (to_input into the reused batch buffer)", ("batch_input (",)),
    ("post-processing (box decode, NMS, answer)", ("_postprocess (", "_answer (", "decode_detect (")),
    ("request body read", ("_raw_body (", "body (starlette")),
    ("batcher, queues", ("batching.py",)),
    ("HTTP, middleware, routing, event loop", ("uvicorn", "starlette", "fastapi", "asyncio", "h11")),
)


def py_spy() -> str:
    # On PATH, or beside this interpreter (a virtual environment run as .venv/bin/python without activating it).
    beside = Path(sys.executable).parent / "py-spy"
    found = shutil.which("py-spy") or (str(beside) if beside.is_file() else None)
    if found is None:
        raise SystemExit("py-spy is not installed: pip install -c constraints.txt -r requirements-dev.txt")
    return found


@contextmanager
def record(pid: int, output: Path, rate: int = 250) -> Iterator[None]:
    """Sample `pid` (all its threads, native frames off) into `output` while the block runs."""
    command = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    command += ["--nonblocking", "--output", str(output)]
    with open(output.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # py-spy attaches
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            proc.wait(timeout=60)


# The gateway's stages for bench/gateway.py --profile.
GATEWAY_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("multipart form parse (the camera's upload)", ("multipart", "formparsers.py")),
    ("metadata strip (EXIF/XMP out, no decode)", ("strip_metadata (",)),
    ("photo check and statistics (reduced decode, photo_stats)", ("decode_image (", "photo_stats (")),
    ("S3 store (put the photo)", ("botocore", "boto3", "s3transfer", "storage.py")),
    ("inference call (httpx)", ("httpx", "httpcore", "clients/inference.py")),
    ("database (SQLAlchemy, psycopg)", ("sqlalchemy", "psycopg")),
    ("answer (pydantic, JSON)", ("pydantic", "json")),
    ("HTTP, middleware, routing, event loop", ("uvicorn", "starlette", "fastapi", "asyncio", "h11", "anyio")),
)


def summarise(
    path: Path, stages: tuple[tuple[str, tuple[str, ...]], ...] = STAGES
) -> list[tuple[str, float]]:
    """Each stage's share of the samples (raw format: `frame;frame;... count` a line), largest first."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        stage = next((name for name, marks in stages if any(m in stack for m in marks)), "other")
        counts[stage] += int(n)
    total = sum(counts.values()) or 1
    return [(stage, n / total) for stage, n in counts.most_common()]


def top_frames(path: Path, n: int = 12) -> list[tuple[str, float]]:
    """The functions the samples were in (the innermost Python frame), with their share, largest first."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, k = line.rpartition(" ")
        if not k.isdigit() or not stack:
            continue
        counts[stack.split(";")[-1].strip()] += int(k)
    total = sum(counts.values()) or 1
    return [(frame, c / total) for frame, c in counts.most_common(n)]
