"""Which pages a signed-in person sees: every script in `app/screens/` (the number prefix orders them),
shown to the roles that can do what the page is for (docs/roles.md); the gateway still decides each call.

Not `app/pages/`: with a folder of that name beside the entry script, Streamlit's AppTest (1.67) runs
a page's rerun without the entry script, so a test could not see a sign-out or the sign-in check (the
server itself runs the entry script either way)."""

from __future__ import annotations

import re
from pathlib import Path

from linesight_ui.signin import ROLES

APP = Path(__file__).parent / "app"
PAGES_DIR = APP / "screens"
# The least role that sees a page, by its title; a page not named here is for every role (viewer).
# Labels is for viewers too: they look at reads and photos (GET /api/v1/labels); the page itself hides
# reading and reviewing from them (operator) and the export from all but engineers.
PAGE_ROLES = {
    "Inspect": "operator",  # POST /api/v1/inspections
    "Datasets": "engineer",  # adding items, imports, versions
    "Stations": "admin",  # POST/PATCH /api/v1/stations
    "Admin": "admin",  # API keys, users, the audit log
}


def page_title(path: Path) -> str:
    """`3_Training.py` -> `Training`, as Streamlit titles it."""
    return re.sub(r"^\d+_", "", path.stem).replace("_", " ")


def page_files() -> list[Path]:
    return sorted(PAGES_DIR.glob("[0-9]*_*.py"), key=lambda p: (int(p.stem.split("_", 1)[0]), p.stem))


def needed_role(path: Path) -> str:
    return PAGE_ROLES.get(page_title(path), "viewer")


def visible_pages(role: str) -> list[Path]:
    """The pages `role` sees, in navigation order."""
    rank = ROLES.index(role)
    return [p for p in page_files() if ROLES.index(needed_role(p)) <= rank]
