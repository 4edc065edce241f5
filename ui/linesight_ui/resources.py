"""What the pages share: the settings (made once per process) and the gateway client of this browser
session, made with the credential its person signed in with (linesight_ui.signin). The UI holds no
credential of its own: without a signed-in person there is no client, and nothing but the sign-in page."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import streamlit as st

from linesight_ui.gateway import GatewayClient
from linesight_ui.settings import UISettings

# The photo types the gateway takes (JPEG, PNG, WEBP, BMP, TIFF), for every file uploader of a photo.
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]

# st.session_state keys
CREDENTIAL = "linesight_credential"  # the session token (lss_...) or personal API key (lsk_...)
CLIENT = "linesight_gateway_client"  # the GatewayClient made with it


@st.cache_resource(show_spinner=False)
def settings() -> UISettings:
    return UISettings()


def client_for(credential: str) -> GatewayClient:
    """A gateway client that calls as `credential` ("" for the one call without: signing in)."""
    s = settings()
    return GatewayClient(s.gateway_url, credential, timeout=s.http_timeout_seconds, retries=s.http_retries)


def signed_in(state: MutableMapping[str, Any] | None = None) -> bool:
    state = st.session_state if state is None else state
    return bool(state.get(CREDENTIAL))


def gateway() -> GatewayClient:
    """The signed-in person's gateway client. A page opened without a sign-in stops here with a note
    (the app's navigation shows only the sign-in page then, so this is a page opened directly)."""
    state = st.session_state
    credential = state.get(CREDENTIAL)
    if not credential:
        st.info("Sign in first.", icon=":material/login:")
        st.stop()
    client = state.get(CLIENT)
    if not isinstance(client, GatewayClient) or client.credential != credential:
        if isinstance(client, GatewayClient):
            client.close()
        client = state[CLIENT] = client_for(credential)
    return client


def forget_client(state: MutableMapping[str, Any] | None = None) -> None:
    state = st.session_state if state is None else state
    client = state.pop(CLIENT, None)
    if isinstance(client, GatewayClient):
        client.close()
