"""How a page shows that the gateway could not do what it asked: a plain message, never a stack trace."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from pydantic import ValidationError

from linesight_ui import resources, signin
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable

T = TypeVar("T")


# What Markdown (and Streamlit's own :colour[...] and $maths$) would read as markup in a gateway's words.
_MARKUP = re.compile(r"([\\`*_\[\]<>#|~$])")


def plain(text: str) -> str:
    """`text` to show as it is in Streamlit's Markdown: each markup character escaped."""
    return _MARKUP.sub(r"\\\1", text)


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
            have = signin.role()
            signed = f"; you are signed in as {have}" if have else ""
            return (
                f"Could not {action}: this needs the {needs} role or higher{signed} ({exc.detail}). "
                "Ask an admin for that role."
            )
        return f"Could not {action}: the gateway refused your sign-in ({exc.status}: {exc.detail})."
    if isinstance(exc, GatewayError):
        said = f"Could not {action}: the gateway answered {exc.status}: {exc.detail}"
        if not exc.problems:
            return said
        return said + "\n\n" + "\n".join(f"- {plain(p)}" for p in exc.problems)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"Could not {action}: {problems}"
    raise exc


def ask(call: Callable[[], T], *, action: str, needs: str = "viewer", stop: bool = True) -> T | None:
    """`call()`, or, when the gateway fails, an st.error saying why; then the page stops there
    (`stop`) or the caller gets None and goes on. A refused sign-in (401: the session expired or was
    ended) goes back to the sign-in page, which says why."""
    try:
        return call()
    except GatewayKeyRejected as exc:
        if exc.status == 401:
            signin.session_ended(f"Signed out: {exc.detail}")
            st.rerun()
        st.error(message(exc, action=action, needs=needs), icon=":material/lock:")
    except (GatewayUnreachable, GatewayError, ValidationError) as exc:
        st.error(message(exc, action=action, needs=needs), icon=":material/error:")
    if stop:
        st.stop()
    return None


def key_role() -> str | None:
    """The signed-in person's role; None when the gateway does not say."""
    return signin.role()


def role_gap(needs: str, *, to: str) -> bool:
    """Whether the signed-in person may `to` (needs that role); if not, a note in place of the action
    (the gateway still decides every call)."""
    if signin.allows(needs):
        return True
    have = signin.role() or "no role"
    st.info(
        f"To {to} you need the {needs} role; you are signed in as {have}. Ask an admin for that role.",
        icon=":material/lock:",
    )
    return False


def show_key() -> None:
    """Kept for the pages that call it: the app's sidebar already shows who is signed in
    (linesight_ui.signin.sidebar)."""
