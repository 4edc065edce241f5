"""Datasets: list and create datasets, browse their items with the boxes (or outlines) drawn, add a photo
with boxes or outlines drawn in the browser, import a YOLO zip or a Label Studio export, cut versions, see what changed
between two and download a version's export. Everything through the gateway's /api/v1/datasets."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

import streamlit as st

from linesight_core.contracts.datasets import DatasetCreate, DatasetOut
from linesight_ui import dataset_views, resources, signin, tables
from linesight_ui.dataset_import import import_view
from linesight_ui.dataset_items import add_view, items_view
from linesight_ui.dataset_versions import FLASH, versions_view
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask

ITEMS, ADD, IMPORT, VERSIONS = "Items", "Add an image", "Import", "Versions"
PICK = "datasets_pick"  # the dataset open
NEXT = "datasets_next"  # the dataset to open on the next run (the picker is set before it is drawn)

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
        task = second.selectbox(
            "Task",
            ["detect", "classify", "segment"],
            key="datasets_new_task",
            help="segment: each defect is outlined (a polygon), for a model that measures where and how big",
        )
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
