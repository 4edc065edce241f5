"""What every page shares within the UI process: the settings and the gateway client, made once."""

from __future__ import annotations

import streamlit as st

from linesight_ui.gateway import GatewayClient
from linesight_ui.settings import UISettings


@st.cache_resource(show_spinner=False)
def settings() -> UISettings:
    return UISettings()


@st.cache_resource(show_spinner=False, on_release=GatewayClient.close)
def gateway() -> GatewayClient:
    s = settings()
    return GatewayClient(
        s.gateway_url,
        s.ui_api_key.get_secret_value(),
        timeout=s.http_timeout_seconds,
        retries=s.http_retries,
    )
