"""The Datasets page's items (Streamlit): a page of a dataset's items as pictures with their boxes (or
outlines, filled semi-transparently) drawn, filtered by split, source and labels, with a segment dataset's
instances and mask area per class; and adding a photo with its boxes or outlines drawn in the browser
(detect, segment) or its class picked (classify)."""

from __future__ import annotations

import hashlib

import streamlit as st

from linesight_core.contracts.datasets import SPLITS, DatasetItemOut, DatasetOut
from linesight_ui import dataset_views, masks, resources
from linesight_ui.box_correction import canvas_photo, edit_boxes
from linesight_ui.boxes import canvas_scale, check, smallest_box
from linesight_ui.mask_correction import add_photo_instances
from linesight_ui.problems import ask, role_gap
from linesight_ui.resources import PHOTO_TYPES

ANY = "any"
SOURCES = ("upload", "feedback", "import")
LABELLED = {ANY: ANY, "yes": "labelled", "no": "not labelled"}
PER_PAGE = 12
GRID = 4  # pictures a row
THUMB_WIDTH = 480  # the item pictures are drawn at most this wide
PAGE = "datasets_page"  # {filters: the page of items shown}
THUMBS = "datasets_thumbs"  # {sha256: the image shrunk for the grid}
CANVAS = "datasets_canvas"  # {photo digest: the photo shrunk to the drawing canvas}


def thumbnail(dataset: DatasetOut, item: DatasetItemOut) -> bytes | None:
    """The item's image shrunk for the grid (kept per browser session: images are content-addressed)."""
    gateway = resources.gateway()
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
    caption = dataset_views.item_caption(item, dataset.class_names, dataset.task)
    st.image(drawn, caption=caption, width="stretch")


def segment_stats(dataset: DatasetOut) -> None:
    """A segment dataset's instances and mask area per class, as the registry counts them."""
    gateway = resources.gateway()
    stats = ask(lambda: gateway.dataset_stats(dataset.name), action="read the dataset's figures", stop=False)
    if stats is None:
        return
    with st.expander(
        f"Instances and mask area per class ({sum(stats.instances_per_class.values())} outlines, "
        f"{stats.images_without_labels} images without any)",
        icon=":material/insights:",
    ):
        st.dataframe(dataset_views.segment_stats_table(stats, dataset.class_names), hide_index=True)
        st.caption(
            "Mask area: the area of all the class's outlines, in pixels of their images. Mean share: how much "
            "of its image one outline covers, on average."
        )


def items_view(dataset: DatasetOut) -> None:
    gateway = resources.gateway()
    if dataset.task == "segment":
        segment_stats(dataset)
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
        st.dataframe(
            dataset_views.items_table(page.items, dataset.class_names, dataset.task), hide_index=True
        )


# --- adding an image -----------------------------------------------------------------------------------


def add_view(dataset: DatasetOut) -> None:
    gateway = resources.gateway()
    if not role_gap("engineer", to="add images"):
        return
    upload = st.file_uploader("Photo to add", type=PHOTO_TYPES, key="datasets_add_file")
    if upload is None:
        st.caption(
            "Pick a photo; then draw its boxes (detect) or outlines (segment) on it, or pick its class "
            "(classify). An image already in the dataset keeps its place and gets these labels."
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
    elif dataset.task == "segment":
        outlines, _ = add_photo_instances(raw, digest, classes, key="datasets-add")
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
    elif dataset.task == "segment":
        kept, problems = masks.check_instances(outlines, width, height, classes)
        if problems:
            st.error("Not added: fix these outlines first.\n\n" + "\n".join(f"- {p}" for p in problems))
            return
        labels = masks.yolo_segment_lines(kept, width, height, classes)
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
        f"{upload.name} {said} ({item.split}, {dataset_views.labels_text(item, classes, dataset.task)}).",
        icon=":material/task_alt:",
    )
    show_item(dataset, item)
