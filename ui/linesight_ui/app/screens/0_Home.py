"""LineSight home: the readiness of every service, as the gateway sees it."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from typing import Literal

import streamlit as st

from linesight_core.contracts.system import ServiceStatus
from linesight_ui import resources
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask

BadgeColor = Literal["green", "orange", "red"]
STATUS_BADGES: dict[str, tuple[str, BadgeColor, str]] = {
    "ready": ("ready", "green", ":material/check_circle:"),
    "not_ready": ("not ready", "orange", ":material/warning:"),
    "unreachable": ("unreachable", "red", ":material/error:"),
}
CARDS_PER_ROW = 3


def service_card(service: ServiceStatus) -> None:
    label, color, icon = STATUS_BADGES[service.status]
    with st.container(border=True):
        st.subheader(service.name)
        st.badge(label, color=color, icon=icon)
        latency = f" · {service.latency_ms:.0f} ms" if service.latency_ms is not None else ""
        st.caption(f"{service.url}{latency}")
        if service.detail:
            st.write(service.detail)
        for check, error in service.failing_checks.items():
            st.markdown(f":red[**{check}**]: {error}")
        passing = [name for name, c in service.checks.items() if c.ok]
        if passing:
            st.caption("checks passing: " + ", ".join(passing))


st.set_page_config(page_title="LineSight", page_icon=":material/visibility:", layout="wide")
record_page_view("home", st.session_state)
settings = resources.settings()

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.title("LineSight")
refresh.button("Refresh", icon=":material/refresh:")  # any click reruns the page, which asks again
st.caption(f"Readiness of every service, as the gateway at {settings.gateway_url} sees it.")

health = ask(resources.gateway().system_health, action="read the services' health")
assert health is not None  # ask stops the page otherwise

total = len(health.services)
st.metric("Services ready", f"{health.ready_count} of {total}")
st.caption(f"Checked at {health.checked_at:%Y-%m-%d %H:%M:%S %Z}".rstrip())
for start in range(0, total, CARDS_PER_ROW):
    for column, service in zip(
        st.columns(CARDS_PER_ROW), health.services[start : start + CARDS_PER_ROW], strict=False
    ):
        with column:
            service_card(service)
