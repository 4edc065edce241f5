"""The Datasets page's import (Streamlit): a YOLO zip or a Label Studio export sent with its upload's
progress, and the registry's report of it (or every problem it found: nothing is stored then)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_core.contracts.datasets import DatasetOut
from linesight_ui import dataset_views, resources
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable
from linesight_ui.problems import message, plain, role_gap

FORMATS = {
    "yolo": "YOLO zip (data.yaml, images/, labels/)",
    "labelstudio": "Label Studio export (JSON + images)",
}
SEGMENT_FORMATS = {
    "yolo": "YOLO segmentation zip (data.yaml, images/, labels/ with polygons)",
    "labelstudio": "Label Studio export (polygon and brush labels, JSON + images)",
}
IMPORTED = "datasets_imported"  # (dataset, file name, the report) of the last import


def import_view(dataset: DatasetOut) -> None:
    if not role_gap("engineer", to="import archives"):
        return
    st.caption(
        "A YOLO zip: `data.yaml` with the class names, `images/<split>/` and `labels/<split>/` with one "
        "`.txt` per image (classify: a folder per class). A Label Studio export: its JSON export and the "
        "images it names, in one zip. The archive is checked whole: one problem refuses it, and nothing is "
        "stored then. Each image's split comes from its hash, not from the archive."
    )
    if dataset.task == "segment":
        st.caption(
            "Segment: each label line is `class x1 y1 x2 y2 ...` (a polygon, normalised to the image). A Label "
            "Studio export may hold polygon and brush labels; brush masks become polygons. A polygon outside "
            "its image, with fewer than three points or crossing itself refuses the archive."
        )
    names = SEGMENT_FORMATS if dataset.task == "segment" else FORMATS
    kind = st.radio(
        "Archive",
        list(names),
        format_func=names.__getitem__,
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
    gateway = resources.gateway()
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
