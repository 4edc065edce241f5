"""The Datasets page's versions (Streamlit): cutting one, the list, what changed between two and
downloading a version's export."""

from __future__ import annotations

import streamlit as st

from linesight_core.contracts.datasets import DatasetOut
from linesight_ui import dataset_views, resources, signin, tables
from linesight_ui.problems import ask, role_gap

FLASH = "datasets_flash"  # what the last change did, shown once on the next run (the page shows it)
EXPORTED = "datasets_export"  # (dataset, version, the zip) of the last export


def cut_form(dataset: DatasetOut) -> None:
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
