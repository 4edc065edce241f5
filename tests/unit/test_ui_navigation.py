"""The UI's navigation: each role sees the pages docs/roles.md lets it use, and no `pages/` folder sits
beside the entry script (with one, Streamlit's AppTest reruns a page without the entry script, and so
without the sign-in check the UI tests rely on)."""

from linesight_ui.main import HOME
from linesight_ui.navigation import page_title, visible_pages


def test_no_pages_folder_beside_the_entry_script():
    stray = HOME.parent / "pages"
    assert not stray.exists(), (
        f"{stray} exists: put the UI's pages in {HOME.parent / 'screens'} (see linesight_ui/navigation.py)"
    )


def test_each_role_sees_its_pages():
    seen = {role: [page_title(p) for p in visible_pages(role)] for role in ("viewer", "operator", "admin")}
    assert seen["viewer"][0] == "Home"
    assert "Inspect" not in seen["viewer"] and {"History", "Training", "Models"} <= set(seen["viewer"])
    assert "Labels" in seen["viewer"]  # reads and photos to look at; the page hides the review form
    assert "Inspect" in seen["operator"]
    assert set(seen["viewer"]) < set(seen["operator"]) <= set(seen["admin"])
