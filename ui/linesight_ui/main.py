"""Builds what `python -m linesight_ui` runs: the Streamlit command line for the app and the readiness
checks of the ops server beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from linesight_core.app import READY_TIMEOUT_SECONDS
from linesight_core.http import make_client
from linesight_ui.settings import UISettings

# The entry script: the sign-in page, then the navigation of the pages in app/screens/.
HOME = Path(__file__).parent / "app" / "LineSight.py"


def streamlit_args(settings: UISettings) -> list[str]:
    """`streamlit run` arguments: headless, no telemetry, no file watching, no dev tooling."""
    return [
        "run",
        str(HOME),
        "--server.port",
        str(settings.port),
        "--server.address",
        settings.host,
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--logger.level",
        settings.log_level.lower(),
    ]


def check_gateway(client: httpx.Client) -> None:
    """Readiness probe: the gateway answers its own /ready with 200."""
    resp = client.get("/ready")
    if resp.status_code != 200:
        raise RuntimeError(f"gateway /ready answered {resp.status_code}")


def check_streamlit(client: httpx.Client) -> None:
    """Readiness probe: the Streamlit server serves (its port opens seconds after the ops server's, so a
    stack or a healthcheck waiting on /ready does not send a browser to a closed port)."""
    resp = client.get("/_stcore/health")
    if resp.status_code != 200:
        raise RuntimeError(f"Streamlit /_stcore/health answered {resp.status_code}")


def streamlit_url(settings: UISettings) -> str:
    """Where this process's Streamlit server answers, from inside the process."""
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def readiness_checks(settings: UISettings) -> tuple[dict[str, Callable[[], None]], list[httpx.Client]]:
    """The checks, and the clients they use (close them at exit)."""
    timeout = min(settings.http_timeout_seconds, READY_TIMEOUT_SECONDS - 0.5)
    gateway = make_client(settings.gateway_url, timeout=timeout, retries=0)
    streamlit = make_client(streamlit_url(settings), timeout=timeout, retries=0)
    checks = {"gateway": lambda: check_gateway(gateway), "streamlit": lambda: check_streamlit(streamlit)}
    return checks, [gateway, streamlit]
