"""The evidence for a promotion on a page (Streamlit): a version's replays of verified history (start one,
follow its progress, cancel it, its report next to production), a station's shadow figures, and the
disagreements as photos with both answers drawn. The Models and Stations pages show these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from linesight_ui import evidence_tables as et
from linesight_ui import resources, signin
from linesight_ui.gateway import GatewayError
from linesight_ui.label_drawing import Color, draw_tagged
from linesight_ui.problems import ask

LIVE = ("queued", "running")
GALLERY_SIZE = 4  # disagreements drawn at once; the rest are counted
PHOTO_WIDTH = 400  # on-screen pixels of a drawn photo: both answers side by side, a few in view
PROGRESS_POLL_SECONDS = 1.0
DEFAULT_LAST_N = 200
MAX_LAST_N = 5000  # the gateway's largest replay
GATE_FLASH = "evidence_gate_flash"  # what the last gate change did, shown once on the next run


def watched_key(name: str, version: int) -> str:
    """Session key of the replay this browser session started for the version: (station id, job id)."""
    return f"replay-watch-{name}-{version}"


# --- replays --------------------------------------------------------------------------------------


def replay_panel(name: str, version: int, stations: Sequence[Mapping[str, Any]]) -> None:
    """Replays of `name` v`version` at the stations that use the model: start one, follow it, read it."""
    gateway = resources.gateway()
    usable = {str(s["id"]): s for s in stations if s["model_name"] == name}
    if not usable:
        st.caption(f"No station uses {name}: a replay needs a station's verified history.")
        return
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    sid = left.selectbox(
        "Replay at station",
        list(usable),
        format_func=lambda i: usable[i]["name"],
        key=f"replay-station-{name}",
    )
    last_n = middle.number_input(
        "Verified inspections to replay (the latest)",
        min_value=1,
        max_value=MAX_LAST_N,
        value=DEFAULT_LAST_N,
        step=50,
        key=f"replay-last-n-{name}",
    )
    watch = watched_key(name, version)
    if right.button("Start replay", icon=":material/replay:", key=f"replay-start-{name}-{version}"):
        job = ask(
            lambda: gateway.start_replay(sid, name, version, int(last_n)),
            action=f"start a replay of v{version} at {usable[sid]['name']}",
            needs="engineer",
            stop=False,
        )
        if job is not None:
            st.session_state[watch] = (sid, job["id"])
    watched = st.session_state.get(watch)
    if watched and watched[0] == sid:
        job = ask(lambda: gateway.replay(*watched), action="read the replay", needs="engineer", stop=False)
        if job is not None and job["status"] in LIVE:
            st.fragment(run_every=PROGRESS_POLL_SECONDS)(replay_progress)(sid, job["id"], name, version)
            return
    jobs = ask(
        lambda: gateway.version_replays(name, version),
        action=f"read the replays of v{version}",
        needs="engineer",
        stop=False,
    )
    if jobs is None:
        return
    latest = et.latest_per_station(jobs).get(sid)
    if latest is None:
        st.info(
            f"v{version} has no replay at {usable[sid]['name']} yet: start one to compare it with production "
            "on the inspections operators verified there.",
            icon=":material/replay:",
        )
        return
    replay_report(latest, usable[sid]["name"])


def replay_progress(sid: str, job_id: str, name: str, version: int) -> None:
    """The running replay's progress bar and its cancel button; the page redraws once it has ended."""
    gateway = resources.gateway()
    if st.button("Cancel replay", icon=":material/cancel:", key=f"replay-cancel-{job_id}"):
        ask(
            lambda: gateway.cancel_replay(sid, job_id),
            action="cancel the replay",
            needs="engineer",
            stop=False,
        )
    job = ask(lambda: gateway.replay(sid, job_id), action="read the replay", needs="engineer", stop=False)
    if job is None:
        return
    if job["status"] not in LIVE:
        st.rerun(scope="app")
    done, total = job["progress"]["done"], job["progress"]["total"]
    words = "waiting for the replay runner" if job["status"] == "queued" else f"{done} of {total} replayed"
    if job["cancel_requested"]:
        words += ", cancelling"
    st.progress(done / total if total else 0.0, text=f"Replay of v{version}: {words}")


def replay_report(job: Mapping[str, Any], station: str) -> None:
    """One replay: what it covered, its figures next to production's, what it skipped, where they differ."""
    if job["status"] == "failed":
        st.error(
            f"The replay at {station} failed: {job.get('error') or 'no reason given'}",
            icon=":material/error:",
        )
        return
    if job["status"] in LIVE:
        st.caption(
            f"A replay at {station} is {job['status']} ({job['progress']['done']} of {job['progress']['total']})."
        )
        return
    st.markdown(f"**{et.replay_text(job, station)}**")
    if job["status"] == "cancelled":
        st.caption("Cancelled: the figures cover what was replayed before the cancel.")
    st.table(et.side_by_side(et.replay_columns(job)))
    skipped = et.skipped_rows(job)
    if skipped:
        with st.expander(f"Skipped ({len(skipped)})"):
            st.dataframe(skipped, hide_index=True)
    result = job.get("result") or {}
    candidate, production = f"v{job['candidate']['version']}", f"v{job['production']['version']}"
    items = [
        (
            str(d["inspection_id"]),
            (f"{candidate} (replayed)", d.get("candidate"), et.CANDIDATE_COLOUR),
            (f"{production} (production)", d.get("production"), et.PRODUCTION_COLOUR),
            f"operators: {et.answer_text(d.get('truth'))}",
        )
        for d in result.get("disagreements") or []
    ]
    gallery(items, int(result.get("disagreement_count") or 0), key=f"replay-{job['id']}")


# --- shadow mode ------------------------------------------------------------------------------------


def shadow_panel(station: Mapping[str, Any], version: int | None = None) -> None:
    """The station's shadow figures: agreement with the live answers and, on verified inspections, the
    accuracy of each side; `version` picks the shadow version shown (default: the newest)."""
    gateway = resources.gateway()
    sid, name = str(station["id"]), station["name"]
    report = ask(
        lambda: gateway.station_shadow(sid),
        action=f"read the shadow figures of {name}",
        needs="engineer",
        stop=False,
    )
    if report is None:
        return
    alias = report.get("shadow_alias")
    if not report["versions"]:
        now = f"{alias} answers in the shadow" if alias else "no shadow alias is set"
        st.caption(f"{name}: no shadow answer yet ({now}).")
        return
    shown = next((v for v in report["versions"] if v["shadow_version"] == version), report["versions"][0])
    live = ", ".join(f"v{v}" for v in shown["live_versions"]) or "live"
    cells = st.columns(4)
    cells[0].metric("Agreement", et.percent(shown["agreement"]))
    cells[1].metric("Answered in the shadow", shown["answered"])
    cells[2].metric("Verified by operators", shown["verified"])
    cells[3].metric("Shadow failures (all versions)", report["failed"])
    st.caption(
        f"Shadow v{shown['shadow_version']} ({alias or 'alias since removed'}) against the live answers of "
        f"{live} at {name}, over its last {report['inspections']} shadowed inspections."
        + (f" Last failure: {report['last_error']}" if report.get("last_error") else "")
    )
    if shown["verified"]:
        columns = [(f"shadow v{shown['shadow_version']}", shown["shadow"]), (f"live {live}", shown["live"])]
        st.table(et.side_by_side(columns))
    else:
        st.caption("No shadowed inspection has operator feedback yet: accuracy is measured on verified ones.")
    items = []
    for d in shown["disagreements"]:
        items.append(
            (
                str(d["inspection_id"]),
                (f"shadow v{shown['shadow_version']}", d.get("shadow"), et.CANDIDATE_COLOUR),
                (f"live {live}", d.get("live"), et.PRODUCTION_COLOUR),
                "",
            )
        )
    floor = float(station["thresholds"]["low_confidence"])  # the boxes the station counts
    gallery(items, shown["disagree"], key=f"shadow-{sid}-{shown['shadow_version']}", inspection_floor=floor)


# --- the gallery ------------------------------------------------------------------------------------

Side = tuple[str, Mapping[str, Any] | None, Color]


def gallery(
    items: Sequence[tuple[str, Side, Side, str]],
    total: int,
    *,
    key: str,
    inspection_floor: float | None = None,
) -> None:
    """Disagreements as photos, each drawn twice: one side's boxes, then the other's, with each answer in
    words. `inspection_floor`: the answers carry no boxes (a shadow report's); they are read from the
    inspection (its predictions, and its shadow record's), those at least this sure."""
    if not items:
        st.caption("The two versions agree on every inspection here.")
        return
    st.markdown(f"**Disagreements** ({total}; the newest {min(len(items), GALLERY_SIZE)} drawn)")
    gateway = resources.gateway()
    page = st.number_input(
        "Disagreements from",
        min_value=1,
        max_value=max(1, len(items)),
        value=1,
        step=GALLERY_SIZE,
        key=f"gallery-{key}",
        help="The first disagreement drawn; the list holds the first 500.",
    )
    for inspection_id, first, second, truth in items[int(page) - 1 : int(page) - 1 + GALLERY_SIZE]:
        photo = ask(
            lambda iid=inspection_id: _photo(gateway, iid),
            action=f"load the photo of {inspection_id}",
            stop=False,
        )
        if inspection_floor is not None:
            first, second = _with_inspection_boxes(gateway, inspection_id, first, second)
        st.caption(f"Inspection {inspection_id}" + (f" · {truth}" if truth else ""))
        cells = st.columns(2)
        for cell, (title, answer, colour) in zip(cells, (first, second), strict=True):
            words = f"{title}: {et.answer_text(answer)}"
            if photo:
                groups = et.box_groups(answer, colour, floor=inspection_floor or 0.0)
                cell.image(draw_tagged(photo, groups), caption=words, width=PHOTO_WIDTH)
            else:
                cell.markdown(words)
        if photo == b"":
            st.caption("The photo is gone from storage.")


def _photo(gateway: Any, inspection_id: str) -> bytes:
    try:
        return bytes(gateway.inspection_image(inspection_id, annotated=False))
    except GatewayError as exc:
        if exc.status == 404:
            return b""
        raise


def _with_inspection_boxes(gateway: Any, inspection_id: str, shadow: Side, live: Side) -> tuple[Side, Side]:
    found = ask(lambda: gateway.inspection(inspection_id), action="read the inspection", stop=False)
    if not found:
        return shadow, live
    shadow_record = found.get("shadow") or {}
    return (
        (shadow[0], {**(shadow[1] or {}), "predictions": shadow_record.get("predictions") or []}, shadow[2]),
        (live[0], {**(live[1] or {}), "predictions": found.get("predictions") or []}, live[2]),
    )


# --- a station's promotion gate (admins) -----------------------------------------------------------


def station_gate_panel(station: Mapping[str, Any]) -> None:
    """Whether the station judges promotions of its model, and (admins) setting or removing its gate."""
    gateway = resources.gateway()
    sid, name, model = str(station["id"]), station["name"], station["model_name"]
    st.markdown("**Promotion gate**")
    gate = ask(lambda: gateway.station_gate(sid), action="read the promotion gate", stop=False)
    if gate is None:
        return
    own = next((g for g in gate["gates"] if g["station_id"] == sid), None)
    st.caption(et.gate_text(gate))
    if own is not None:
        st.info(
            f"{name} has its own gate: {model}'s production moves only after a replay here of at least "
            f"{own['min_verified']} verified inspections (set by {own['created_by']}).",
            icon=":material/shield:",
        )
    if station["model_alias"] != "production":
        st.caption(
            f"{name} serves {model}@{station['model_alias']}: a gate judges only stations serving production."
        )
    if not signin.allows("admin"):
        return
    left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    minimum = left.number_input(
        "Verified inspections a replay here must cover",
        min_value=1,
        max_value=MAX_LAST_N,
        value=int(own["min_verified"]) if own else 50,
        key=f"gate-min-{sid}",
    )
    if middle.button(
        "Gate promotions here" if own is None else "Change the gate",
        icon=":material/shield:",
        key=f"gate-set-{sid}",
    ):
        if ask(
            lambda: gateway.set_station_gate(sid, int(minimum)),
            action="set the promotion gate",
            needs="admin",
            stop=False,
        ):
            st.session_state[GATE_FLASH] = (
                f"{model}'s promotions are gated at {name} (at least {int(minimum)} verified)."
            )
            st.rerun()
    if own is not None and right.button(
        "Remove the gate", icon=":material/remove_moderator:", key=f"gate-remove-{sid}"
    ):

        def remove() -> bool:
            gateway.remove_station_gate(sid)
            return True

        if ask(remove, action="remove the promotion gate", needs="admin", stop=False):
            st.session_state[GATE_FLASH] = f"{name} no longer gates {model}'s promotions."
            st.rerun()
    if GATE_FLASH in st.session_state:
        st.success(st.session_state.pop(GATE_FLASH), icon=":material/task_alt:")
