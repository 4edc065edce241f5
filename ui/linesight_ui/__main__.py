"""`python -m linesight_ui`: the ops server (/health, /ready, /metrics) on LINESIGHT_OPS_PORT, then the
Streamlit app on LINESIGHT_PORT in this same process, so the app's metrics are the ones served."""

from __future__ import annotations

from streamlit.web import cli as streamlit_cli

import linesight_ui.metrics  # noqa: F401 - the page-view series exist from the first scrape
from linesight_core.logs import configure_logging
from linesight_core.ops_server import start_ops_server
from linesight_core.telemetry import set_build_info
from linesight_ui import __version__
from linesight_ui.main import readiness_checks, streamlit_args
from linesight_ui.settings import UISettings


def main() -> int:
    settings = UISettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    set_build_info(settings.service_name, __version__)
    checks, clients = readiness_checks(settings)
    ops = start_ops_server(
        settings.host, settings.ops_port, service=settings.service_name, version=__version__, checks=checks
    )
    try:
        # Streamlit's own command line, so its options are applied exactly as `streamlit run` applies them.
        streamlit_cli.main(args=streamlit_args(settings), prog_name="streamlit", standalone_mode=False)
    finally:
        ops.shutdown()
        ops.server_close()
        for client in clients:
            client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
