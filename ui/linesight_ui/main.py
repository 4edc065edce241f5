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


def readiness_checks(settings: UISettings) -> tuple[dict[str, Callable[[], None]], httpx.Client]:
    """The checks, and the client they use (close it at exit)."""
    client = make_client(
        settings.gateway_url,
        timeout=min(settings.http_timeout_seconds, READY_TIMEOUT_SECONDS - 0.5),
        retries=0,
    )
    return {"gateway": lambda: check_gateway(client)}, client
