"""`make screenshots`: a screenshot of every UI page, and of History's box editor when the stack has an
inspection, taken in headless Chromium, into docs/screenshots/.

Uses the stack `make dev` (or `make demo --keep`) runs in .devstack, signed in as its demo person, so the
pages show that stack's data; without one it starts a stack of its own in a temporary folder (empty
pages, but every page). Needs Debian's chromium (scripts/bootstrap.sh installs it)."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.browser

from linesight_devstack import Stack, free_port_base  # noqa: E402
from linesight_devstack.control import stack_status  # noqa: E402
from linesight_devstack.services import DEMO_USERNAME  # noqa: E402
from linesight_devstack.state import load_secrets  # noqa: E402
from tests.support.browser import StreamlitPage, chromium, fresh_page  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def take(ui_url: str, username: str, password: str, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with chromium() as browser, fresh_page(browser, timeout_s=120, viewport=(1400, 1600)) as page:
        app = StreamlitPage(page, ui_url, timeout_s=120).open()
        shots.append(app.screenshot(out / "00-sign-in.png"))
        app.fill("Username", username).fill("Password", password).click("Sign in")
        app.expect_text("Services ready")
        for n, name in enumerate(app.nav_labels(), start=1):
            app.go_to(name)
            time.sleep(1.0)  # images and charts finish drawing after the script run ends
            app.assert_no_exception()
            shots.append(app.screenshot(out / f"{n:02d}-{slug(name)}.png"))
        correction = correction_editor(app, out / f"{len(shots):02d}-history-correction.png")
        if correction is not None:
            shots.append(correction)
    return shots


def correction_editor(app: StreamlitPage, path: Path) -> Path | None:
    """History's box editor on the newest inspection, when the stack has one (the demo's)."""
    if "History" not in app.nav_labels():
        return None
    app.go_to("History")
    toggle = app.page.get_by_text("Correct this answer", exact=True)
    if toggle.count() == 0:
        print("  (no inspection to correct: no screenshot of the box editor)")
        return None
    toggle.click()
    app.settle()
    canvas = app.page.locator("canvas.upper-canvas").first
    if canvas.count():  # the photo with its boxes and the table below it in view
        canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
    time.sleep(1.0)  # the canvas draws the photo and its boxes after the script run ends
    app.assert_no_exception()
    return app.screenshot(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".devstack")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    status = stack_status(args.data_dir.absolute())
    ui = (
        next((p.url for p in status.processes if p.name == "ui"), None) if status and status.healthy else None
    )
    if ui:
        password = load_secrets(args.data_dir)["demo_password"]
        print(f"using the stack running in {args.data_dir} ({ui})")
        shots = take(ui, DEMO_USERNAME, password, args.out)
    else:
        folder = Path(tempfile.mkdtemp(prefix="linesight-screenshots-"))
        folder.chmod(0o711)  # as root, Postgres (its own user) must enter it
        print(f"no running stack in {args.data_dir}: starting one in {folder} (a few minutes)")
        stack = Stack(folder, free_port_base(), durable=False, echo=print)
        try:
            stack.start()
            shots = take(stack.urls["ui"], *stack.demo_login, args.out)
        finally:
            stack.stop()
            shutil.rmtree(folder, ignore_errors=True)
    for shot in shots:
        print(f"  {shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
