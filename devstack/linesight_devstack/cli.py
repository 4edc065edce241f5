"""Command line: `up` (start the stack, wait for Ctrl-C, stop it), `status` and `down`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import httpx

from linesight_devstack.control import stack_status, stop_stack
from linesight_devstack.demo import Demo, DemoConfig, DemoError
from linesight_devstack.demo_segment import SegmentDemo, segment_config
from linesight_devstack.ports import DEFAULT_PORT_BASE, MAX_PORT_BASE
from linesight_devstack.prometheus import duration_seconds
from linesight_devstack.server import StartCancelled, StartError
from linesight_devstack.services import DEMO_USERNAME, INFRA, SERVICE_NAMES, StackError
from linesight_devstack.stack import Stack
from linesight_devstack.state import load_secrets

DEFAULT_DATA_DIR = ".devstack"


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _port_base(text: str) -> int:
    base = int(text)
    if not 1024 <= base <= MAX_PORT_BASE:
        raise argparse.ArgumentTypeError(f"must be between 1024 and {MAX_PORT_BASE}")
    return base


def _duration(text: str) -> str:
    try:
        duration_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m linesight_devstack", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def data_dir_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--data-dir",
            type=Path,
            default=Path(os.environ.get("LINESIGHT_DEVSTACK_DATA_DIR", DEFAULT_DATA_DIR)),
            help="data, logs, secrets.json and state.json (default: .devstack)",
        )

    up = sub.add_parser("up", help="start the stack in the foreground; Ctrl-C stops it")
    data_dir_arg(up)
    up.add_argument(
        "--port-base",
        type=_port_base,
        default=int(os.environ.get("LINESIGHT_DEVSTACK_PORT_BASE", DEFAULT_PORT_BASE)),
        help=f"ports are base + fixed offsets (default {DEFAULT_PORT_BASE}; see docs/architecture.md)",
    )
    up.add_argument(
        "--only",
        help="comma-separated names to run (what they need comes too): "
        + ", ".join([*SERVICE_NAMES, *INFRA]),
    )
    up.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds each service gets to be ready"
    )
    up.add_argument(
        "--scrape-interval", type=_duration, help="Prometheus scrape interval, e.g. 2s (default 15s)"
    )
    up.add_argument(
        "--no-fsync",
        action="store_true",
        help="Postgres without fsync: faster, unsafe if the machine crashes",
    )

    demo = sub.add_parser(
        "demo",
        help="first run: train a detector on synthetic bench photos and inspect with it, step by step",
    )
    data_dir_arg(demo)
    demo.add_argument(
        "--port-base",
        type=_port_base,
        default=int(os.environ.get("LINESIGHT_DEVSTACK_PORT_BASE", DEFAULT_PORT_BASE)),
        help="when the demo starts the stack itself (no stack runs in --data-dir)",
    )
    demo.add_argument(
        "--task",
        choices=("detect", "segment"),
        default="detect",
        help="detect: a workstation's tools; segment: cracks and scratches on plates (a defect station)",
    )
    demo.add_argument("--images", type=int, help="synthetic photos to import (detect 160, segment 200)")
    demo.add_argument("--epochs", type=int, help="training epochs (detect 25, segment 40)")
    demo.add_argument(
        "--imgsz", type=int, default=DemoConfig.imgsz, help="training image size (multiple of 32)"
    )
    demo.add_argument(
        "--keep", action="store_true", help="leave a stack the demo started running until Ctrl-C"
    )

    status = sub.add_parser("status", help="what runs, from state.json; exit code 1 unless all is ready")
    data_dir_arg(status)
    down = sub.add_parser("down", help="stop a stack started in another terminal")
    data_dir_arg(down)
    return p


def cmd_up(args: argparse.Namespace) -> int:
    def echo(line: str) -> None:
        print(line, flush=True)

    try:
        stack = Stack(
            args.data_dir,
            args.port_base,
            only=args.only.split(",") if args.only else None,
            ready_timeout=args.ready_timeout,
            scrape_interval=args.scrape_interval,
            durable=not args.no_fsync,
            echo=echo,
        )
    except (StackError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stack.stopping:
            echo("  stopping now, without waiting (SIGKILL)")
            stack.abort.set()
        else:
            stack.cancel.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    started = time.monotonic()
    echo(f"LineSight local stack in {stack.data_dir} (port base {stack.port_base})")
    try:
        stack.start()
    except StartCancelled:
        echo("interrupted while starting; everything started was stopped")
        return 130
    except (StartError, StackError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started

    pids = stack.pids()
    rows = [
        (name, stack.urls.get(name, ""), pids.get(name), "ready") for name in stack.selected if name in pids
    ]
    echo("")
    echo(table(rows, ["service", "url", "pid", "status"]))
    echo("")
    echo(f"up in {elapsed:.1f} s. Logs: {stack.log_dir}/<name>.log. Keys: {stack.data_dir / 'secrets.json'}")
    if "ui" in stack.service_names:
        echo(f"UI: {stack.urls['ui']}   API: {stack.urls['gateway']}/docs")
        echo(
            "Sign in to the UI as {} / {} (admin; in secrets.json as demo_password)".format(*stack.demo_login)
        )
    echo("Ctrl-C stops the stack (`python -m linesight_devstack down` from another terminal).")
    try:
        while not stack.cancel.wait(1.0):
            for name, code in stack.exited().items():
                proc = stack.process(name)
                tail = proc.log_tail(20) if proc else ""
                echo(f"\n!! {name} exited (code {code}); last lines of its log:\n{tail}\n")
    finally:
        echo("\nstopping the stack")
        stack.stop()
        echo("stopped")
    return 0


def _running_gateway(data_dir: Path) -> tuple[str, str] | None:
    """The gateway URL and admin key of a healthy stack already running in `data_dir`."""
    status = stack_status(data_dir.absolute())
    if status is None or not status.healthy:
        return None
    gateway = next((p.url for p in status.processes if p.name == "gateway"), None)
    key = load_secrets(data_dir).get("admin_api_key")
    return (gateway, key) if gateway and key else None


def cmd_demo(args: argparse.Namespace) -> int:
    def echo(line: str) -> None:
        print(line, flush=True)

    given = {k: v for k, v in (("images", args.images), ("epochs", args.epochs)) if v is not None}
    segment = args.task == "segment"
    config = segment_config(imgsz=args.imgsz, **given) if segment else DemoConfig(imgsz=args.imgsz, **given)
    stack: Stack | None = None
    running = _running_gateway(args.data_dir)
    if running is None:
        echo(f"Starting the local stack in {args.data_dir} (port base {args.port_base}) ...")
        try:
            stack = Stack(args.data_dir, args.port_base, durable=False, echo=echo)
            stack.start()
        except (StackError, StartError, FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        running = (stack.urls["gateway"], stack.env["LINESIGHT_ADMIN_API_KEY"])
    else:
        echo(f"Using the stack running in {args.data_dir}")
    gateway, key = running
    demo = (SegmentDemo if segment else Demo)(gateway, key, config, echo=echo)
    try:
        result = demo.run()
        echo(
            f"\nThe loop ran: dataset v{result.dataset_version} → run {result.run_id} "
            f"({result.epochs_reported} epochs) → model v{result.model_version} → inspection "
            f"{result.inspection.get('verdict')} → feedback → dataset v{result.next_dataset_version['version']}"
        )
        if stack is not None and "ui" in stack.urls:
            echo(f"UI: {stack.urls['ui']}   API docs: {gateway}/docs")
            echo("Sign in to the UI as {} / {} (admin)".format(*stack.demo_login))
        elif stack is None:
            password = load_secrets(args.data_dir).get("demo_password")
            echo(f"Sign in to the UI as {DEMO_USERNAME} / {password} (admin)")
        if stack is not None and args.keep:
            echo("The stack keeps running; Ctrl-C stops it.")
            try:
                while True:
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
        return 0
    except (DemoError, httpx.HTTPError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        if stack is not None:
            print(f"logs: {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        demo.close()
        if stack is not None:
            echo("stopping the stack")
            stack.stop()


def cmd_status(args: argparse.Namespace) -> int:
    status = stack_status(args.data_dir.absolute())
    if status is None:
        print(f"no stack state in {args.data_dir.absolute()} (not started, or stopped)")
        return 1
    runner = "running" if status.runner_alive else "gone"
    print(
        f"stack in {status.data_dir}, started {status.started_at}; runner pid {status.runner_pid} ({runner})"
    )
    rows = [(p.name, p.kind, p.pid, "yes" if p.alive else "no", p.status, p.url) for p in status.processes]
    print(table(rows, ["name", "kind", "pid", "alive", "status", "url"]))
    return 0 if status.healthy else 1


def cmd_down(args: argparse.Namespace) -> int:
    if not stop_stack(args.data_dir.absolute()):
        print(f"no stack state in {args.data_dir.absolute()}: nothing to stop")
        return 0
    print("stack stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return {"up": cmd_up, "demo": cmd_demo, "status": cmd_status, "down": cmd_down}[args.command](args)
