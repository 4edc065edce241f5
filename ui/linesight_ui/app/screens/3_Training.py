"""Training: datasets and their versions, starting a run, and watching runs through to their evaluation."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st

from linesight_core.contracts.datasets import DatasetOut
from linesight_core.contracts.training import TrainingRunCreate, TrainingRunOut
from linesight_ui import resources, tables
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, role_gap, show_key

ANY = "any"
STATUSES = [ANY, "queued", "running", "succeeded", "failed", "cancelled"]
STATUS_BADGES = {
    "queued": ("gray", ":material/schedule:"),
    "running": ("blue", ":material/play_circle:"),
    "succeeded": ("green", ":material/check_circle:"),
    "failed": ("red", ":material/error:"),
    "cancelled": ("orange", ":material/cancel:"),
}
# Offered first; any other Ultralytics model YAML can be typed in.
ARCHITECTURES = {
    "detect": ["yolov8n.yaml", "yolov8s.yaml", "yolo11n.yaml", "yolo11s.yaml"],
    "segment": ["yolov8n-seg.yaml", "yolov8s-seg.yaml", "yolo11n-seg.yaml", "yolo11s-seg.yaml"],
    "classify": ["yolov8n-cls.yaml", "yolov8s-cls.yaml", "yolo11n-cls.yaml", "yolo11s-cls.yaml"],
}
DEFAULTS = TrainingRunCreate.model_fields
PICKED_RUN = "training_run"
AUTO_REFRESH_SECONDS = 5

st.set_page_config(page_title="Training · LineSight", page_icon=":material/model_training:", layout="wide")
record_page_view("training", st.session_state)
show_key()
gateway = resources.gateway()

st.title("Training")
datasets = ask(gateway.datasets, action="list the datasets") or []
by_name = {d.name: d for d in datasets}
datasets_tab, new_run_tab, runs_tab = st.tabs(["Datasets", "New run", "Runs"])


def dataset_details(dataset: DatasetOut) -> None:
    stats = ask(lambda: gateway.dataset_stats(dataset.name), action="read the dataset's figures", stop=False)
    if stats is not None:
        cells = st.columns(5)
        cells[0].metric("Images", stats.items)
        for cell, split in zip(cells[1:4], ("train", "val", "test"), strict=True):
            cell.metric(split, stats.images_per_split.get(split, 0))
        cells[4].metric("Without labels", stats.images_without_labels)
        if stats.instances_per_class:
            unit = "boxes" if stats.task == "detect" else "images"
            st.caption(f"{unit.capitalize()} per class")
            st.bar_chart(stats.instances_per_class, horizontal=True)
        if stats.images_per_source:
            st.caption("Sources: " + ", ".join(f"{k} {n}" for k, n in stats.images_per_source.items()))
    versions = ask(
        lambda: gateway.dataset_versions(dataset.name), action="list the dataset's versions", stop=False
    )
    if versions is not None:
        st.subheader("Versions")
        if versions:
            st.dataframe(tables.dataset_versions_table(versions), hide_index=True)
        else:
            st.caption(
                "No version yet. A training run trains on a version: an engineer cuts one from the items."
            )


with datasets_tab:
    if not datasets:
        st.info(
            "No dataset yet. Feedback marked “use for training” creates a station's dataset; archives "
            "(YOLO, Label Studio) are imported on the Datasets page (engineers)."
        )
    else:
        st.dataframe(tables.datasets_table(datasets), hide_index=True)
        picked = st.selectbox("Dataset", list(by_name), key="training_dataset")
        dataset_details(by_name[picked])


def start_run_form() -> None:
    if not role_gap("engineer", to="start a training run"):
        return
    if not datasets:
        st.info("A run trains on a dataset version; there is no dataset yet.")
        return
    name = st.selectbox("Dataset", list(by_name), key="new_run_dataset")
    dataset = by_name[name]
    versions = ask(lambda: gateway.dataset_versions(name), action="list the dataset's versions", stop=False)
    if versions is None:
        return
    if not versions:
        st.info(f"Dataset {name} has no version yet; a run needs one.")
        return
    numbers = sorted((v.version for v in versions), reverse=True)
    version = st.selectbox("Version", numbers, format_func=lambda v: f"v{v}", key=f"new_run_version-{name}")
    with st.form("new_run"):
        model_name = st.text_input(
            "Model name",
            value=name,
            key=f"new_run_model-{name}",
            help="The new version is registered under this model (created when it does not exist).",
        )
        architecture = st.selectbox(
            "Architecture",
            ARCHITECTURES[dataset.task],
            accept_new_options=True,
            help="An Ultralytics model YAML; the run trains from scratch.",
        )
        epochs_cell, imgsz_cell, batch_cell = st.columns(3)
        epochs = epochs_cell.number_input("Epochs", 1, 1000, DEFAULTS["epochs"].default, step=1)
        imgsz = imgsz_cell.number_input("Image size", 32, 2048, DEFAULTS["imgsz"].default, step=32)
        batch = batch_cell.number_input("Batch", 1, 256, DEFAULTS["batch"].default, step=1)
        auto_promote = st.checkbox(
            "Promote to production when it beats the current production version",
            help="Without this, a better version gets the staging alias and a person promotes it.",
        )
        notes = st.text_input("Notes", max_chars=4000)
        submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
    if submitted:
        run = ask(
            lambda: gateway.start_training(
                TrainingRunCreate(
                    dataset=name,
                    dataset_version=version,
                    model_name=model_name.strip(),
                    architecture=(architecture or "").strip() or None,
                    epochs=int(epochs),
                    imgsz=int(imgsz),
                    batch=int(batch),
                    auto_promote=auto_promote,
                    notes=notes,
                )
            ),
            action="start the training run",
            needs="engineer",
            stop=False,
        )
        if run is not None:
            st.session_state[PICKED_RUN] = str(run.id)
            st.success(f"Run {run.id} is {run.status}. Follow it under Runs.", icon=":material/play_circle:")


def run_header(run: TrainingRunOut) -> None:
    color, icon = STATUS_BADGES[run.status]
    st.subheader(f"Run {str(run.id)[:8]}")
    st.badge(run.status, color=color, icon=icon)  # type: ignore[arg-type]
    source = run.architecture or (
        f"{run.base_model} v{run.base_version}" if run.base_model else "uploaded .pt"
    )
    st.caption(
        f"{run.kind} · model {run.model_name} · dataset {run.dataset} v{run.dataset_version} · {source} · "
        f"epochs {run.epochs} · imgsz {run.imgsz} · batch {run.batch} · selection metric "
        f"{run.selection_metric}"
    )
    st.caption(
        f"Created {tables.when(run.created_at)} by {run.created_by}"
        + (f" · worker {run.worker}, attempt {run.attempt}" if run.worker else "")
    )
    if run.epochs and run.status in ("running", "succeeded"):
        eta = run.progress.eta_s if run.progress else None
        left = f" · about {eta / 60:.0f} min left" if eta and run.status == "running" else ""
        st.progress(
            min(1.0, run.epochs_done / run.epochs), text=f"epoch {run.epochs_done} of {run.epochs}{left}"
        )
    if run.error and run.status == "failed":
        st.error(f"The run failed: {run.error}", icon=":material/error:")
    elif run.error:
        st.info(run.error)
    if run.cancel_requested and run.status == "running":
        st.info("Cancel requested: the run stops at the end of its current epoch.")


def run_epochs(run: TrainingRunOut) -> None:
    epochs = ask(lambda: gateway.run_epochs(run.id), action="read the run's epochs", stop=False)
    if epochs is None:
        return
    if not epochs:
        st.caption("No epoch reported yet.")
        return
    table = tables.epochs_table(epochs)
    losses, metrics = st.columns(2)
    with losses:
        st.caption("Losses")
        st.line_chart(table[tables.loss_columns(epochs)])
    with metrics:
        st.caption("Validation")
        st.line_chart(table[tables.chart_metric_columns(epochs)])
    st.dataframe(table)


def run_evaluation(run: TrainingRunOut) -> None:
    evaluation = run.evaluation or {}
    if not evaluation and not run.decision:
        return
    st.subheader("Evaluation")
    if evaluation.get("split"):
        st.caption(f"On the {evaluation['split']} split ({evaluation.get('images', '?')} images)")
    if evaluation.get("challenger") or run.metrics:
        st.dataframe(tables.evaluation_side_by_side(run))
    if run.decision:
        outcome = "promoted to production" if run.promoted else "staged" if run.staged else "not staged"
        st.info(f"{run.decision} ({outcome})", icon=":material/gavel:")
    per_class = tables.per_class_table(evaluation)
    if not per_class.empty:
        st.caption("Per class")
        st.dataframe(per_class)
    plots = sorted(name for name in run.artifacts if name.endswith(".png"))
    for column, name in zip(st.columns(max(1, len(plots))), plots, strict=False):
        picture = ask(partial(gateway.run_artifact, run.id, name), action=f"load {name}", stop=False)
        if picture is not None:
            column.image(picture, caption=name, width="stretch")


def run_cancel(run: TrainingRunOut) -> None:
    if run.status not in ("queued", "running") or run.cancel_requested:
        return
    if not role_gap("engineer", to="cancel a run"):
        return
    confirmed = st.checkbox("Yes, stop this run", key=f"cancel-confirm-{run.id}")
    if st.button("Cancel run", icon=":material/stop_circle:", disabled=not confirmed, key=f"cancel-{run.id}"):
        cancelled = ask(
            lambda: gateway.cancel_run(run.id), action="cancel the run", needs="engineer", stop=False
        )
        if cancelled is not None:
            st.rerun()


def watch(run_id: uuid.UUID) -> None:
    run = ask(lambda: gateway.training_run(run_id), action="read the run", stop=False)
    if run is None:
        return
    run_header(run)
    run_epochs(run)
    run_evaluation(run)
    run_cancel(run)


def runs_list() -> None:
    status = st.selectbox("Status", STATUSES, key="runs_status")
    page = ask(
        lambda: gateway.training_runs(status=None if status == ANY else status, limit=100),
        action="list the training runs",
        stop=False,
    )
    if page is None:
        return
    if not page.items:
        st.info("No training run" + ("" if status == ANY else f" is {status}") + ".")
        return
    st.caption(
        f"{page.total} run{'s' if page.total != 1 else ''}, newest first"
        + (" (first 100)" if page.total > 100 else "")
    )
    st.dataframe(tables.runs_table(page.items), hide_index=True)
    runs = {str(r.id): r for r in page.items}
    if st.session_state.get(PICKED_RUN) not in runs:
        st.session_state[PICKED_RUN] = next(iter(runs))
    picked = st.selectbox(
        "Watch run",
        list(runs),
        format_func=lambda i: (
            f"{i[:8]} · {runs[i].status} · {runs[i].model_name} · {tables.when(runs[i].created_at)}"
        ),
        key=PICKED_RUN,
    )
    refresh, auto = st.columns([1, 3], vertical_alignment="center")
    refresh.button("Refresh", icon=":material/refresh:", key="run-refresh")  # a click reruns the page
    live = runs[picked].status in ("queued", "running")
    every = AUTO_REFRESH_SECONDS if live and auto.toggle(f"Refresh every {AUTO_REFRESH_SECONDS} s") else None
    st.fragment(run_every=every)(watch)(uuid.UUID(picked))


with new_run_tab:
    start_run_form()
with runs_tab:
    runs_list()
