"""How a page shows that the gateway could not do what it asked: a plain message, never a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from pydantic import ValidationError

from linesight_ui import resources
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable

T = TypeVar("T")
ROLES = ("viewer", "operator", "engineer", "admin")
_WHOAMI = "linesight_whoami"


def message(exc: Exception, *, action: str, needs: str = "viewer") -> str:
    """What to tell the user when `action` failed with `exc`; `needs` is the role the call requires."""
    settings = resources.settings()
    if isinstance(exc, GatewayUnreachable):
        return (
            f"Could not {action}: the gateway is unreachable at {settings.gateway_url} ({exc}). "
            "Check that the gateway runs and that LINESIGHT_GATEWAY_URL points to it."
        )
    if isinstance(exc, GatewayKeyRejected):
        if exc.status == 403:
            return (
                f"Could not {action}: this needs the {needs} role or higher, and the gateway refused the "
                f"UI's API key ({exc.detail}). Give the UI a key with the {needs} role "
                "(LINESIGHT_UI_API_KEY)."
            )
        missing = "LINESIGHT_UI_API_KEY is not set. " if not settings.ui_api_key.get_secret_value() else ""
        return (
            f"Could not {action}: the gateway refused the UI's API key ({exc.status}: {exc.detail}). "
            f"{missing}Set LINESIGHT_UI_API_KEY to a valid gateway API key and restart the UI."
        )
    if isinstance(exc, GatewayError):
        return f"Could not {action}: the gateway answered {exc.status}: {exc.detail}"
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"Could not {action}: {problems}"
    raise exc


def ask(call: Callable[[], T], *, action: str, needs: str = "viewer", stop: bool = True) -> T | None:
    """`call()`, or, when the gateway fails, an st.error saying why; then the page stops there
    (`stop`) or the caller gets None and goes on."""
    try:
        return call()
    except (GatewayUnreachable, GatewayKeyRejected, GatewayError, ValidationError) as exc:
        st.error(message(exc, action=action, needs=needs), icon=":material/error:")
        if stop:
            st.stop()
        return None


def key_role() -> str | None:
    """The role of the UI's key, asked once per browser session; None when the gateway does not say."""
    if _WHOAMI not in st.session_state:
        try:
            st.session_state[_WHOAMI] = resources.gateway().whoami()
        except (GatewayUnreachable, GatewayKeyRejected, GatewayError):
            return None  # the page's own calls say what is wrong
    role = st.session_state[_WHOAMI].get("role")
    return role if role in ROLES else None


def role_gap(needs: str, *, to: str) -> None:
    """A warning above an action the UI's key is not allowed to take (the gateway still decides)."""
    role = key_role()
    if role is not None and ROLES.index(role) < ROLES.index(needs):
        st.warning(
            f"To {to} the UI's API key needs the {needs} role; it has {role}. "
            "Ask an admin for a key with that role (LINESIGHT_UI_API_KEY).",
            icon=":material/lock:",
        )


def show_key() -> None:
    """The key the UI acts with, in the sidebar, so everybody sees what the screens may do."""
    role = key_role()
    if role is not None:
        st.sidebar.caption(f"Gateway key: {st.session_state[_WHOAMI].get('name', '?')} ({role})")
