"""Datasets: list and create datasets, browse their items with the boxes drawn, add a photo with boxes
drawn in the browser, import a YOLO zip or a Label Studio export, cut versions, see what changed
between two and download a version's export. Everything through the gateway's /api/v1/datasets."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from linesight_core.contracts.datasets import SPLITS, DatasetCreate, DatasetItemOut, DatasetOut
from linesight_ui import dataset_views, resources, signin, tables
from linesight_ui.box_correction import canvas_photo, edit_boxes
from linesight_ui.boxes import canvas_scale, check, smallest_box
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, message, plain, role_gap

ANY = "any"
ITEMS, ADD, IMPORT, VERSIONS = "Items", "Add an image", "Import", "Versions"
SOURCES = ("upload", "feedback", "import")
LABELLED = {ANY: ANY, "yes": "labelled", "no": "not labelled"}
FORMATS = {
    "yolo": "YOLO zip (data.yaml, images/, labels/)",
    "labelstudio": "Label Studio export (JSON + images)",
}
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
PER_PAGE = 12
GRID = 4  # pictures a row
THUMB_WIDTH = 480  # the item pictures are drawn at most this wide
PICK = "datasets_pick"  # the dataset open
NEXT = "datasets_next"  # the dataset to open on the next run (the picker is set before it is drawn)
FLASH = "datasets_flash"  # what the last change did, shown once on the next run
PAGE = "datasets_page"  # {filters: the page of items shown}
THUMBS = "datasets_thumbs"  # {sha256: the image shrunk for the grid}
CANVAS = "datasets_canvas"  # {photo digest: the photo shrunk to the drawing canvas}
IMPORTED = "datasets_imported"  # (dataset, file name, the report) of the last import
EXPORTED = "datasets_export"  # (dataset, version, the zip) of the last export

st.set_page_config(page_title="Datasets · LineSight", page_icon=":material/dataset:", layout="wide")
record_page_view("datasets", st.session_state)
gateway = resources.gateway()


# --- datasets ------------------------------------------------------------------------------------------


def create_form() -> None:
    """A new dataset: name, task, classes in order, description, station; opened once it is made."""
    stations = ask(lambda: gateway.stations(), action="list the stations", stop=False) or []
    with st.form("datasets-create"):
        first, second = st.columns([3, 1])
        name = first.text_input(
            "Name",
            max_chars=100,
            placeholder="bench-tools",
            help="Lower-case letters, digits, '.', '_' and '-'",
            key="datasets_new_name",
        )
        task = second.selectbox("Task", ["detect", "classify"], key="datasets_new_task")
        classes = st.text_area(
            "Classes, in order (one a line, or separated by commas)",
            placeholder="wrench\nscrewdriver\ntape",
            help="The order gives each class its id: YOLO class 0 is the first. Classes can be added later, "
            "never moved.",
            key="datasets_new_classes",
        )
        first, second = st.columns([3, 1])
        description = first.text_input(
            "Description (optional)", max_chars=2000, key="datasets_new_description"
        )
        station = second.selectbox(
            "Station (optional)",
            [None, *(s["name"] for s in stations)],
            format_func=lambda s: s or "none",
            key="datasets_new_station",
        )
        made = st.form_submit_button("Create dataset", type="primary", icon=":material/add:")
    if not made:
        return
    names = dataset_views.parse_classes(classes)
    problems = dataset_views.new_dataset_problems(name.strip(), names)
    if problems:
        st.error("Not created: " + " ".join(problems), icon=":material/error:")
        return
    created = ask(
        lambda: gateway.create_dataset(
            DatasetCreate.model_validate(
                {
                    "name": name.strip(),
                    "task": task,
                    "class_names": names,
                    "description": description,
                    "station": station,
                }
            )
        ),
        action="create the dataset",
        needs="engineer",
        stop=False,
    )
    if created is not None:
        st.session_state[NEXT] = created.name
        st.session_state[FLASH] = (
            f"Dataset {created.name} created ({created.task}, {len(created.class_names)} classes)."
        )
        st.rerun()


def pick_dataset(datasets: list[DatasetOut]) -> DatasetOut:
    by_name = {d.name: d for d in datasets}
    wanted = st.session_state.pop(NEXT, None)
    if wanted in by_name:
        st.session_state[PICK] = wanted
    if st.session_state.get(PICK) not in by_name:
        st.session_state[PICK] = datasets[0].name
    name = st.selectbox("Dataset", list(by_name), key=PICK)
    dataset = by_name[name]
    facts = [dataset.task, f"classes {', '.join(dataset.class_names)}", f"{dataset.item_count} items"]
    facts.append(f"latest version {dataset.latest_version}" if dataset.latest_version else "no version yet")
    if dataset.station:
        facts.append(f"station {dataset.station}")
    st.caption(" · ".join(facts) + (f" — {dataset.description}" if dataset.description else ""))
    return dataset


# --- items ---------------------------------------------------------------------------------------------


def thumbnail(dataset: DatasetOut, item: DatasetItemOut) -> bytes | None:
    """The item's image shrunk for the grid (kept per browser session: images are content-addressed)."""
    kept: dict[str, bytes] = st.session_state.setdefault(THUMBS, {})
    if item.sha256 not in kept:
        raw = ask(
            lambda: gateway.dataset_item_image(dataset.name, str(item.id)),
            action="load an item's image",
            stop=False,
        )
        if raw is None:
            return None
        try:
            small = dataset_views.shrink(raw, THUMB_WIDTH)
        except (OSError, ValueError):  # not an image Pillow opens: shown as stored, without boxes
            return raw
        if len(kept) >= 10 * PER_PAGE:
            kept.clear()
        kept[item.sha256] = small
    return kept[item.sha256]


def show_item(dataset: DatasetOut, item: DatasetItemOut) -> None:
    photo = thumbnail(dataset, item)
    if photo is None:
        return
    try:
        drawn = dataset_views.draw_item(photo, item, dataset.class_names)
    except (OSError, ValueError) as exc:
        st.caption(f"The boxes cannot be drawn on this image ({exc}).")
        drawn = photo
    st.image(drawn, caption=dataset_views.item_caption(item, dataset.class_names), width="stretch")


def items_view(dataset: DatasetOut) -> None:
    with st.container(border=True):
        first, second, third = st.columns(3)
        split = first.selectbox("Split", [ANY, *SPLITS], key="datasets_split")
        source = second.selectbox("Source", [ANY, *SOURCES], key="datasets_source")
        labelled = third.selectbox(
            "Labelled", list(LABELLED), format_func=LABELLED.__getitem__, key="datasets_labelled"
        )
    filters = (dataset.name, split, source, labelled)
    pages: dict[tuple[str, ...], int] = st.session_state.setdefault(PAGE, {})
    number = pages.get(filters, 1)
    page = ask(
        lambda: gateway.dataset_items(
            dataset.name,
            split=None if split == ANY else split,
            source=None if source == ANY else source,
            labelled=None if labelled == ANY else labelled == "yes",
            limit=PER_PAGE,
            offset=(number - 1) * PER_PAGE,
        ),
        action="list the dataset's items",
    )
    assert page is not None  # ask() stops the page on failure
    last = dataset_views.last_page(page.total, PER_PAGE)
    if number > last:  # fewer items than when this page was opened
        pages[filters] = last
        st.rerun()
    where, back, forward = st.columns([4, 1, 1], vertical_alignment="center")
    where.caption(
        dataset_views.shown_range(page.offset, len(page.items), page.total) + f" · page {number} of {last}"
    )
    if back.button("Previous", icon=":material/arrow_back:", disabled=number <= 1, width="stretch"):
        pages[filters] = number - 1
        st.rerun()
    if forward.button("Next", icon=":material/arrow_forward:", disabled=number >= last, width="stretch"):
        pages[filters] = number + 1
        st.rerun()
    if not page.items:
        st.info(
            "No item matches these filters."
            if (split, source, labelled) != (ANY, ANY, ANY)
            else "This dataset has no item yet: add an image or import an archive."
        )
        return
    for start in range(0, len(page.items), GRID):
        for column, item in zip(st.columns(GRID), page.items[start : start + GRID], strict=False):
            with column:
                show_item(dataset, item)
    with st.expander("These items as a table"):
        st.dataframe(dataset_views.items_table(page.items, dataset.class_names), hide_index=True)


# --- adding an image -----------------------------------------------------------------------------------


def add_view(dataset: DatasetOut) -> None:
    if not role_gap("engineer", to="add images"):
        return
    upload = st.file_uploader("Photo to add", type=PHOTO_TYPES, key="datasets_add_file")
    if upload is None:
        st.caption(
            "Pick a photo; then draw its boxes on it (detect) or pick its class (classify). An image already "
            "in the dataset keeps its place and gets these labels."
        )
        return
    raw = upload.getvalue()
    try:
        width, height = dataset_views.photo_size(raw)
    except (OSError, ValueError) as exc:
        st.error(f"{upload.name} is not an image that can be opened ({exc}).", icon=":material/error:")
        return
    digest = hashlib.sha256(raw).hexdigest()[:16]
    classes = dataset.class_names
    if dataset.task == "detect":
        scale = canvas_scale(width, height)
        kept: dict[str, bytes] = st.session_state.setdefault(CANVAS, {})
        if digest not in kept:
            kept.clear()  # one photo at a time is enough
            kept[digest] = canvas_photo(raw, scale)
        boxes = edit_boxes(
            photo=kept[digest],
            scale=scale,
            classes=classes,
            start=list,
            key="datasets-add",
            ident=digest,
            intro="**Draw the boxes.** Every object of a class of this dataset gets a box.",
            restart="Remove every box",
        )
    else:
        picked = st.selectbox(
            "Class",
            [None, *classes],
            format_func=lambda c: c or "none yet",
            key=f"datasets-add-class-{digest}",
        )
    origin = st.text_input(
        "Where the photo comes from (optional)",
        max_chars=200,
        placeholder="bench camera 2",
        key="datasets_add_origin",
    )
    if not st.button("Add to the dataset", type="primary", icon=":material/add_photo_alternate:"):
        return
    if dataset.task == "detect":
        good, problems = check(boxes, width, height, classes, min_size=smallest_box(scale))
        if problems:
            st.error("Not added: fix these boxes first.\n\n" + "\n".join(f"- {p}" for p in problems))
            return
        labels = dataset_views.yolo_lines(good, width, height, classes)
    else:
        labels = picked or ""
    answer = ask(
        lambda: gateway.add_dataset_item(
            dataset.name,
            raw,
            upload.name,
            upload.type or "application/octet-stream",
            labels=labels,
            origin=origin,
        ),
        action="add the image",
        needs="engineer",
        stop=False,
    )
    if answer is None:
        return
    item, new = answer
    said = "added" if new else "was there already: its labels are replaced"
    st.success(
        f"{upload.name} {said} ({item.split}, {dataset_views.labels_text(item, classes)}).",
        icon=":material/task_alt:",
    )
    show_item(dataset, item)


# --- importing -----------------------------------------------------------------------------------------


def import_view(dataset: DatasetOut) -> None:
    if not role_gap("engineer", to="import archives"):
        return
    st.caption(
        "A YOLO zip: `data.yaml` with the class names, `images/<split>/` and `labels/<split>/` with one "
        "`.txt` per image (classify: a folder per class). A Label Studio export: its JSON export and the "
        "images it names, in one zip. The archive is checked whole: one problem refuses it, and nothing is "
        "stored then. Each image's split comes from its hash, not from the archive."
    )
    kind = st.radio(
        "Archive",
        list(FORMATS),
        format_func=FORMATS.__getitem__,
        horizontal=True,
        key="datasets_import_format",
    )
    archive = st.file_uploader("Zip archive", type=["zip"], key="datasets_import_file")
    if st.button("Import", type="primary", icon=":material/upload:", disabled=archive is None):
        assert archive is not None
        run_import(dataset, archive.name, archive.getvalue(), kind)
        return
    done = st.session_state.get(IMPORTED)
    if done is not None and done[0] == dataset.name:
        show_report(done[1], done[2])


def run_import(dataset: DatasetOut, filename: str, data: bytes, kind: str) -> None:
    """Send the archive with its upload's progress; the report, or every problem the gateway lists."""
    size = dataset_views.size_text(len(data))
    with st.status(f"Importing {filename} ({size}) into {dataset.name}…", expanded=True) as status:
        bar = st.progress(0.0, text=f"Uploading {filename}…")
        shown = [-1]

        def progress(sent: int, total: int) -> None:
            percent = 100 * sent // max(1, total)
            if percent == shown[0]:
                return
            shown[0] = percent
            text = (
                f"Uploaded {size}; the registry checks every image and label…"
                if sent >= total
                else f"Uploading: {dataset_views.size_text(sent)} of {size}"
            )
            bar.progress(percent / 100, text=text)

        try:
            report = gateway.import_archive(dataset.name, data, filename, format=kind, progress=progress)
        except (GatewayError, GatewayUnreachable, GatewayKeyRejected) as exc:
            if isinstance(exc, GatewayKeyRejected) and exc.status == 401:
                raise  # the app signs out and says why
            st.session_state.pop(IMPORTED, None)
            bar.empty()
            refused = isinstance(exc, GatewayError) and 400 <= exc.status < 500
            status.update(
                label=f"{filename} was refused: nothing was stored"
                if refused
                else f"{filename} was not imported",
                state="error",
                expanded=True,
            )
            st.error(message(exc, action=f"import {filename}", needs="engineer"), icon=":material/error:")
            return
        bar.empty()
        status.update(label=f"Imported {filename} into {dataset.name}", state="complete", expanded=True)
        show_report(filename, report)
    st.session_state[IMPORTED] = (dataset.name, filename, report)


def show_report(filename: str, report: Any) -> None:
    st.success(f"{filename}: {dataset_views.import_text(report)}", icon=":material/task_alt:")
    cells = st.columns(4)
    for cell, (label, value) in zip(
        cells,
        (
            ("Images", report.images),
            ("Added", report.added),
            ("Relabelled", report.replaced),
            ("Skipped", report.skipped),
        ),
        strict=True,
    ):
        cell.metric(label, value)
    for warning in report.warnings:
        st.warning(plain(warning), icon=":material/warning:")


# --- versions ------------------------------------------------------------------------------------------


def cut_form(dataset: DatasetOut) -> None:
    if not signin.allows("engineer"):
        return
    with st.form("datasets-cut"):
        notes = st.text_input(
            "Notes for the new version (optional)",
            max_chars=4000,
            placeholder="week 12 feedback added",
            key="datasets_cut_notes",
        )
        cut = st.form_submit_button("Cut a version", type="primary", icon=":material/new_label:")
    if not cut:
        return
    version = ask(
        lambda: gateway.cut_version(dataset.name, notes),
        action="cut a version",
        needs="engineer",
        stop=False,
    )
    if version is not None:
        st.session_state[FLASH] = (
            f"Version {version.version} of {dataset.name} cut: {version.item_count} items "
            f"({version.diff.added} added, {version.diff.removed} removed, {version.diff.relabelled} relabelled)."
        )
        st.rerun()


def diff_part(dataset: DatasetOut, numbers: list[int]) -> None:
    st.subheader("What changed")
    first, second = st.columns(2)
    version = first.selectbox("Version", numbers, key=f"datasets_diff_version-{dataset.name}")
    others = [None, *(n for n in numbers if n != version)]
    against = second.selectbox(
        "Against",
        others,
        format_func=lambda n: "the version before" if n is None else f"version {n}",
        key=f"datasets_diff_against-{dataset.name}",
    )
    diff = ask(
        lambda: gateway.version_diff(dataset.name, version, against),
        action="compare the versions",
        stop=False,
    )
    if diff is None:
        return
    st.markdown(dataset_views.diff_text(diff))
    cells = st.columns(3)
    cells[0].metric("Added", diff.added_count)
    cells[1].metric("Removed", diff.removed_count)
    cells[2].metric("Relabelled", diff.relabelled_count)
    rows = dataset_views.diff_table(diff)
    if len(rows):
        with st.expander(f"The {len(rows)} images that changed (by sha256)"):
            st.dataframe(rows, hide_index=True)


def export_part(dataset: DatasetOut, numbers: list[int]) -> None:
    st.subheader("Export")
    if not role_gap("engineer", to="download a version's export"):
        return
    pick, prepare = st.columns([3, 1], vertical_alignment="bottom")
    version = pick.selectbox("Version to export", numbers, key=f"datasets_export_version-{dataset.name}")
    if prepare.button("Prepare the export", icon=":material/folder_zip:", width="stretch"):
        with st.spinner(f"The registry packs version {version} of {dataset.name}…"):
            data = ask(
                lambda: gateway.version_export(dataset.name, version),
                action="export the version",
                needs="engineer",
                stop=False,
            )
        if data is not None:
            st.session_state[EXPORTED] = (dataset.name, version, data)
    exported = st.session_state.get(EXPORTED)
    if exported is None or exported[:2] != (dataset.name, version):
        st.caption("A YOLO zip (data.yaml, images/, labels/ per split), as training reads it.")
        return
    data = exported[2]
    st.download_button(
        f"Download {dataset.name}-v{version}.zip ({dataset_views.size_text(len(data))})",
        data,
        file_name=f"{dataset.name}-v{version}.zip",
        mime="application/zip",
        icon=":material/download:",
        type="primary",
    )


def versions_view(dataset: DatasetOut) -> None:
    cut_form(dataset)
    versions = ask(lambda: gateway.dataset_versions(dataset.name), action="list the versions", stop=False)
    if versions is None:
        return
    if not versions:
        st.info("No version yet. A version freezes the items as they are now: training runs on versions.")
        return
    st.dataframe(tables.dataset_versions_table(versions), hide_index=True)
    numbers = sorted((v.version for v in versions), reverse=True)
    diff_part(dataset, numbers)
    export_part(dataset, numbers)


# --- the page ------------------------------------------------------------------------------------------

st.title("Datasets")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/task_alt:")
datasets = ask(gateway.datasets, action="list the datasets")
assert datasets is not None  # ask() stops the page on failure
if signin.allows("engineer"):
    with st.expander("New dataset", expanded=not datasets, icon=":material/add:"):
        create_form()
if not datasets:
    st.info("No dataset yet. Feedback marked “use for training” creates a station's dataset.")
    st.stop()
with st.expander(f"All datasets ({len(datasets)})"):
    st.dataframe(tables.datasets_table(datasets), hide_index=True)
dataset = pick_dataset(datasets)
view = st.radio(
    "View", [ITEMS, ADD, IMPORT, VERSIONS], horizontal=True, key="datasets_view", label_visibility="collapsed"
)
if view == ADD:
    add_view(dataset)
elif view == IMPORT:
    import_view(dataset)
elif view == VERSIONS:
    versions_view(dataset)
else:
    items_view(dataset)
