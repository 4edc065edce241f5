"""Who uses this browser session: signing in (a username and password for a gateway session token, or
a personal API key), the person shown in the sidebar, signing out, and being sent back to the sign-in
page with the reason when the gateway stops accepting the credential."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from linesight_ui import resources
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable

ROLES = ("viewer", "operator", "engineer", "admin")
PERSON = "linesight_person"  # GET /api/v1/me of the credential, asked once per sign-in
NOTICE = "linesight_signin_notice"  # why the person was sent back to the sign-in page
KEPT = "linesight_kept_input"  # what the person had entered when the gateway ended their session
GIVE_BACK = "linesight_give_back_input"  # that, once the same person signed in again
PAGE = "linesight_page"  # the url path of the page being drawn
# Widget values that can be given back: st.session_state rejects a value set for a button, a file
# uploader or a data editor, so only these kinds of widget (Streamlit's value types) are kept.
KEPT_VALUE_TYPES = {
    "string_value",
    "int_value",
    "double_value",
    "bool_value",
    "string_array_value",
    "int_array_value",
    "double_array_value",
}


def person(state: MutableMapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The signed-in person (GET /api/v1/me), asked once per sign-in; None when nobody is signed in.
    A credential the gateway refuses (401) signs the session out, with the gateway's reason."""
    state = st.session_state if state is None else state
    if not resources.signed_in(state):
        return None
    if PERSON not in state:
        try:
            state[PERSON] = resources.gateway().whoami()
        except GatewayKeyRejected as exc:
            session_ended(f"The gateway refused the credential: {exc.detail}", state)
            return None
    return dict(state[PERSON])


def role(state: MutableMapping[str, Any] | None = None) -> str | None:
    who = person(state)
    found = who.get("role") if who else None
    return found if found in ROLES else None


def allows(needed: str, state: MutableMapping[str, Any] | None = None) -> bool:
    have = role(state)
    return have is not None and ROLES.index(have) >= ROLES.index(needed)


def expired(state: MutableMapping[str, Any] | None = None) -> bool:
    who = person(state) or {}
    ends = who.get("session_expires_at")
    return bool(ends) and datetime.fromisoformat(str(ends)) <= datetime.now(UTC)


def remember(credential: str, state: MutableMapping[str, Any] | None = None) -> dict[str, Any]:
    """Start acting as `credential`: the gateway says who it is (raises GatewayKeyRejected if it refuses)."""
    state = st.session_state if state is None else state
    resources.forget_client(state)
    state.pop(PERSON, None)
    state[resources.CREDENTIAL] = credential
    try:
        state[PERSON] = resources.gateway().whoami()
    except BaseException:
        state.pop(resources.CREDENTIAL, None)
        resources.forget_client(state)
        raise
    state.pop(NOTICE, None)
    _keep_for_this_person(state)
    return dict(state[PERSON])


def sign_out_locally(notice: str | None = None, state: MutableMapping[str, Any] | None = None) -> None:
    """Forget the credential in this browser session (the gateway is not asked)."""
    state = st.session_state if state is None else state
    resources.forget_client(state)
    state.pop(resources.CREDENTIAL, None)
    state.pop(PERSON, None)
    if notice:
        state[NOTICE] = notice


def session_ended(notice: str, state: MutableMapping[str, Any] | None = None) -> None:
    """The gateway ended the session (it expired, or an admin ended it): back to the sign-in page with
    the reason, keeping what the person had entered; the same person signing in again gets it back."""
    state = st.session_state if state is None else state
    who = state.get(PERSON) or {}
    kinds = _widget_value_types()
    values = {
        key: value
        for key, value in state.items()
        if isinstance(key, str)
        and not key.startswith(("linesight_", "signin_"))
        and kinds.get(key) in KEPT_VALUE_TYPES
    }
    state[KEPT] = {"person": who.get("key_id") or who.get("name"), "page": state.get(PAGE), "values": values}
    sign_out_locally(notice, state)


def _widget_value_types() -> dict[str, str]:
    """Widget key -> the kind of value the widget holds (Streamlit's WidgetMetadata.value_type), for the
    widgets of the current run; empty outside a Streamlit run (nothing is kept then)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        inner = ctx.session_state._state if ctx is not None else None  # SafeSessionState -> SessionState
        if inner is None:
            return {}
        keys = inner._key_id_mapper.id_key_mapping
        meta = inner._new_widget_state.widget_metadata
        return {keys[wid]: m.value_type for wid, m in meta.items() if wid in keys}
    except AttributeError:  # another Streamlit than the pinned one: keep nothing rather than fail
        return {}


def _keep_for_this_person(state: MutableMapping[str, Any]) -> None:
    kept = state.pop(KEPT, None)
    who = state.get(PERSON) or {}
    if not isinstance(kept, dict) or kept.get("person") != (who.get("key_id") or who.get("name")):
        return  # somebody else signed in: what the last person entered is not theirs to see
    state[GIVE_BACK] = {"page": kept.get("page"), "values": kept.get("values", {})}


def page_to_return_to(state: MutableMapping[str, Any] | None = None) -> str | None:
    """The url path of the page the person was on when their session ended, until they are back on it."""
    state = st.session_state if state is None else state
    pending = state.get(GIVE_BACK)
    return pending.get("page") if isinstance(pending, dict) else None


def give_back_input(page: str, state: MutableMapping[str, Any] | None = None) -> None:
    """Note that `page` (its url path) is being drawn, and put back what the person had entered on it
    when their session ended, once they signed in again. Called in the run that draws that page: a value
    set in an earlier run (the sign-in, or another page) would not reach the browser's widgets."""
    state = st.session_state if state is None else state
    state[PAGE] = page
    pending = state.get(GIVE_BACK)
    if not isinstance(pending, dict) or pending.get("page") not in (None, page):
        return
    del state[GIVE_BACK]
    for key, value in pending.get("values", {}).items():
        state[key] = value


def sign_out() -> None:
    """End the session at the gateway (a personal API key stays valid: only an admin revokes it)."""
    who = person() or {}
    if who.get("kind") == "user":
        try:
            resources.gateway().logout()
        except (GatewayUnreachable, GatewayKeyRejected, GatewayError):
            pass  # the session is forgotten here either way; it expires at the gateway
    sign_out_locally("You are signed out.")


def _password_form() -> None:
    with st.form("signin_password"):
        username = st.text_input("Username", key="signin_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="signin_password_value")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("Enter your username and password.", icon=":material/error:")
        return
    anonymous = resources.client_for("")
    try:
        answer = anonymous.login(username.strip(), password)
        remember(str(answer["token"]))
    except GatewayKeyRejected as exc:
        st.error(exc.detail, icon=":material/key_off:")
        return
    except GatewayUnreachable as exc:
        st.error(unreachable(exc), icon=":material/cloud_off:")
        return
    except GatewayError as exc:
        st.error(f"Could not sign in: {exc.detail}", icon=":material/error:")
        return
    finally:
        anonymous.close()
    st.rerun()


def _key_form() -> None:
    with st.form("signin_key"):
        key = st.text_input(
            "Personal API key",
            type="password",
            key="signin_api_key",
            help="A key an admin issued to you (lsk_...). It acts with the key's role.",
        )
        submitted = st.form_submit_button("Sign in with the key", type="primary", icon=":material/key:")
    if not submitted:
        return
    if not key.strip():
        st.error("Paste your API key.", icon=":material/error:")
        return
    try:
        remember(key.strip())
    except GatewayKeyRejected as exc:
        st.error(f"The gateway refused the key: {exc.detail}", icon=":material/key_off:")
        return
    except GatewayUnreachable as exc:
        st.error(unreachable(exc), icon=":material/cloud_off:")
        return
    except GatewayError as exc:
        st.error(f"Could not sign in: {exc.detail}", icon=":material/error:")
        return
    st.rerun()


def unreachable(exc: Exception) -> str:
    url = resources.settings().gateway_url
    return (
        f"The gateway is unreachable at {url} ({exc}). Check that the gateway runs and that "
        "LINESIGHT_GATEWAY_URL points to it."
    )


def sign_in_page() -> None:
    """The whole app until somebody signs in."""
    st.title("LineSight")
    st.subheader("Sign in")
    notice = st.session_state.get(NOTICE)
    if notice:
        st.info(notice, icon=":material/info:")
    with_password, with_key = st.tabs(["Username and password", "Personal API key"])
    with with_password:
        _password_form()
    with with_key:
        _key_form()
    st.caption("Ask an admin for an account (or a personal API key) if you have none.")


def sidebar() -> None:
    """The signed-in person's name and role, and the sign-out button."""
    who = person()
    if who is None:
        return
    with st.sidebar:
        shown = who.get("display_name") or who.get("name", "?")
        kind = "" if who.get("kind") == "user" else " · API key"
        st.markdown(f"**{shown}**")
        st.caption(f"{who.get('role', '?')}{kind}")
        # a callback: it runs before the rerun, so the rerun already shows the sign-in page
        st.button("Sign out", icon=":material/logout:", key="signin_sign_out", on_click=sign_out)
