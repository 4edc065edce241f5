"""The UI's Prometheus metrics; served by the ops server, which shares the Streamlit process."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from prometheus_client import Counter
from streamlit.runtime.state import SessionStateProxy

PAGE_VIEWS = Counter("linesight_ui_page_views_total", "Pages opened, by page.", ["page"])
# Every page, so each series exists from the start and rate() sees its first view.
PAGES = ("home", "inspect", "history", "training", "models", "labels", "datasets", "stations", "admin")
for _page in PAGES:
    PAGE_VIEWS.labels(_page)

_LAST_PAGE = "linesight_last_page"


def record_page_view(page: str, session_state: SessionStateProxy | MutableMapping[str, Any]) -> None:
    """Count a view when a browser session arrives on `page`, not on each rerun a widget causes."""
    if page not in PAGES:
        raise ValueError(f"page {page!r} is not in linesight_ui.metrics.PAGES")
    if session_state.get(_LAST_PAGE) != page:
        PAGE_VIEWS.labels(page).inc()
        session_state[_LAST_PAGE] = page
