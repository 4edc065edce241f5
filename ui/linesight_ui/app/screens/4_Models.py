"""Models: every model and version with its metrics, versions side by side, alias history, and promoting a
version to production: before the button, the version's replays of verified history and the shadow
figures next to production, with the disagreements drawn; a promotion the gate refuses says why, and an
admin may override it with a reason."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_core.contracts.registry import AliasOut, ModelOut, ModelVersionOut
from linesight_ui import evidence_tables, evidence_views, resources, signin, tables
from linesight_ui.gateway import GatewayError
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, plain, role_gap, show_key

PRODUCTION = "production"
PROMOTED = "models_promoted"  # the message of the last promotion, shown once after the page reloads
GATE_PROBLEM = "https://linesight.dev/problems/promotion-gate"

st.set_page_config(page_title="Models · LineSight", page_icon=":material/deployed_code:", layout="wide")
record_page_view("models", st.session_state)
show_key()
gateway = resources.gateway()

st.title("Models")
if PROMOTED in st.session_state:
    st.success(st.session_state.pop(PROMOTED), icon=":material/rocket_launch:")
models = ask(gateway.models, action="list the models") or []
if not models:
    st.info("No model yet. Engineers upload ONNX versions, or a training run registers one.")
    st.stop()
st.dataframe(tables.models_table(models), hide_index=True)
by_name = {m.name: m for m in models}
name = st.selectbox("Model", list(by_name), key="models_model")
model = by_name[name]
versions = ask(lambda: gateway.model_versions(name), action="list the model's versions") or []
if not versions:
    st.info(f"Model {name} has no version yet.")
    st.stop()
versions.sort(key=lambda v: v.version, reverse=True)
by_version = {v.version: v for v in versions}

st.subheader("Versions")
st.dataframe(tables.versions_table(versions), hide_index=True)
gate = ask(lambda: gateway.model_gate(name), action="read the model's promotion gate", stop=False)
stations = ask(gateway.stations, action="list the stations", stop=False) or []


def compare_section() -> None:
    st.subheader("Compare")
    if len(versions) < 2:
        st.caption("Comparing needs two versions.")
        return
    production = model.aliases.get(PRODUCTION)
    default = [versions[0].version]
    default.append(production if production and production != versions[0].version else versions[1].version)
    picked = st.multiselect(
        "Versions",
        list(by_version),
        default=sorted(default),
        format_func=lambda v: f"v{v}",
        key=f"compare-{name}",
    )
    if len(picked) < 2:
        st.caption("Pick two versions or more.")
        return
    comparison = ask(
        lambda: gateway.compare_versions(name, sorted(picked)), action="compare the versions", stop=False
    )
    if comparison is None:
        return
    if comparison.metric_names:
        st.dataframe(tables.comparison_table(comparison))
    else:
        st.caption("These versions have no metrics to compare.")
    if comparison.params:
        st.caption("Parameters that differ")
        st.dataframe(tables.params_table(comparison), hide_index=True)
    if not comparison.classes_equal:
        st.warning("These versions do not have the same classes: their metrics are not directly comparable.")


def aliases_section() -> None:
    st.subheader("Aliases")
    aliases = ask(lambda: gateway.aliases(name), action="read the aliases", stop=False)
    if aliases is not None:
        if aliases:
            rows = [
                {
                    "alias": a.alias,
                    "version": f"v{a.version}",
                    "moved by": a.updated_by,
                    "at": tables.when(a.updated_at),
                }
                for a in aliases
            ]
            st.dataframe(rows, hide_index=True)
        else:
            st.caption("No alias yet: stations use a model through its production alias.")
    history = ask(lambda: gateway.alias_history(name), action="read the alias history", stop=False)
    if history is not None and history.items:
        st.caption(f"History, newest first ({history.total} move{'s' if history.total != 1 else ''})")
        st.dataframe(tables.alias_history_table(history.items), hide_index=True)


def version_label(version: ModelVersionOut) -> str:
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    shown = [f"{k} {val:.3f}" for k, val in version.metrics.items() if isinstance(val, float)][:2]
    return f"v{version.version}{aliases}" + (f" · {' · '.join(shown)}" if shown else "")


def evidence_section(version: int, current: int | None) -> None:
    """Before the promote button: the version's replays and the shadow figures, next to production."""
    st.markdown(f"**Evidence for v{version}**")
    if version == current:
        st.caption(f"v{version} is in production: there is nothing to compare it with.")
        return
    serving = [s for s in stations if s["model_name"] == name]
    replay_tab, shadow_tab = st.tabs(["Replay of verified history", "Shadow mode"])
    with replay_tab:
        evidence_views.replay_panel(name, version, serving)
    with shadow_tab:
        shadowed = [s for s in serving if s.get("shadow_alias")]
        if not shadowed:
            st.caption(f"No station answers {name} in the shadow (a station's shadow alias, on Stations).")
        for station in shadowed:
            st.markdown(f"**{station['name']}** (shadow alias {station['shadow_alias']})")
            evidence_views.shadow_panel(station, version)


def move(version: int, reason: str, override: str | None = None) -> AliasOut | dict[str, Any]:
    """The move, or the promotion gate's refusal (its problem body)."""
    try:
        return gateway.move_alias(name, PRODUCTION, version, reason, override_reason=override)
    except GatewayError as exc:
        if exc.status == 409 and exc.body.get("type") == GATE_PROBLEM:
            return exc.body
        raise


def refusal_section(version: int, reason: str, refused: dict[str, Any]) -> AliasOut | None:
    """The gate's refusal in words and figures; an admin may override it with a reason."""
    st.error(
        f"The promotion gate refused to move {name}@{PRODUCTION} to v{version}.\n\n"
        + "\n".join(f"- {plain(line)}" for line in evidence_tables.refusal_lines(refused)),
        icon=":material/gpp_bad:",
    )
    table = evidence_tables.refusal_table(refused)
    if not table.empty:
        st.table(table.set_index("station"))
    if not signin.allows("admin"):
        st.caption("Replay the version at the gated stations until it is at least as good, or ask an admin.")
        return None
    override = st.text_input(
        "Override reason (admins; recorded in the audit log)",
        max_chars=2000,
        placeholder="Why production moves although the gate refuses it",
        key=f"promote-override-{name}-{version}",
    )
    short = len(override.strip()) < 3
    if st.button(
        f"Override the gate and promote v{version}",
        icon=":material/gavel:",
        disabled=short or not reason.strip(),
        key=f"promote-override-go-{name}-{version}",
    ):
        moved = ask(
            lambda: move(version, reason.strip(), override.strip()),
            action=f"promote v{version} over the gate",
            needs="admin",
            stop=False,
        )
        if isinstance(moved, AliasOut):
            return moved
    return None


def promote_section(model: ModelOut) -> None:
    st.subheader("Promote to production")
    if gate is not None and gate["gated"]:
        st.info(evidence_tables.gate_text(gate), icon=":material/shield:")
    elif gate is not None:
        st.caption(evidence_tables.gate_text(gate))
    if not role_gap("engineer", to="promote a version"):
        return
    current = model.aliases.get(PRODUCTION)
    ready = [v.version for v in versions if v.status == "ready"]
    if not ready:
        st.caption("No version is ready to serve (all archived).")
        return
    staging = model.aliases.get("staging")
    candidate = staging if staging in ready and staging != current else ready[0]
    version = st.selectbox(
        "Version",
        ready,
        index=ready.index(candidate),
        format_func=lambda v: version_label(by_version[v]),
        key=f"promote-version-{name}",
    )
    st.caption(f"Production is now v{current}." if current else "Nothing is in production yet.")
    evidence_section(version, current)
    reason = st.text_input(
        "Reason",
        placeholder="Why this version should serve the line",
        max_chars=2000,
        key=f"promote-reason-{name}",
    )
    confirmed = st.checkbox(
        f"Yes: every station that uses {name}@{PRODUCTION} switches to v{version}.",
        key=f"promote-confirm-{name}",
    )
    blocked = version == current or not reason.strip() or not confirmed
    if version == current:
        st.caption(f"v{version} is already in production.")
    refused_key = f"promote-refused-{name}"
    watched = evidence_views.watched_key(name, version)
    moved: AliasOut | None = None
    if st.button(
        f"Promote v{version} to production", type="primary", icon=":material/rocket_launch:", disabled=blocked
    ):
        answer = ask(
            lambda: move(version, reason.strip()), action=f"promote v{version}", needs="engineer", stop=False
        )
        if isinstance(answer, AliasOut):
            moved = answer
        elif answer is not None:
            # kept with the replay watched then: a replay started since makes the refusal out of date
            st.session_state[refused_key] = (version, answer, st.session_state.get(watched))
    refused = st.session_state.get(refused_key)
    if moved is None and refused is not None and refused[::2] == (version, st.session_state.get(watched)):
        moved = refusal_section(version, reason, refused[1])
    if moved is not None:
        was = f" (was v{current})" if current else ""
        st.session_state[PROMOTED] = f"{name}@{PRODUCTION} is now v{moved.version}{was}."
        for key in (f"promote-reason-{name}", f"promote-confirm-{name}", refused_key):
            st.session_state.pop(key, None)
        st.rerun()


compare_section()
aliases_section()
promote_section(model)
