"""The LineSight UI's entry script: the sign-in page until somebody signs in, then the pages their role
may use (linesight_ui.navigation), the person and a sign-out in the sidebar."""

# ruff: noqa: N999 - Streamlit names the app after this file

from __future__ import annotations

import streamlit as st

from linesight_ui import navigation, signin
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable

st.set_page_config(page_title="LineSight", page_icon=":material/visibility:", layout="wide")

try:
    who = signin.person()
except GatewayUnreachable as exc:
    st.error(signin.unreachable(exc), icon=":material/cloud_off:")
    if st.button("Try again", icon=":material/refresh:"):
        st.rerun()
    if st.button("Sign out", icon=":material/logout:"):
        signin.sign_out_locally("You are signed out.")
        st.rerun()
    st.stop()
except GatewayError as exc:
    st.error(f"The gateway could not say who you are ({exc.status}): {exc.detail}", icon=":material/error:")
    st.stop()
if who is not None and signin.expired():
    signin.session_ended("Your session expired; sign in again.")
    who = None

if who is None:
    st.navigation(
        [st.Page(signin.sign_in_page, title="Sign in", icon=":material/login:")], position="hidden"
    ).run()
    st.stop()

role = signin.role() or "viewer"
pages = [st.Page(str(path), default=i == 0) for i, path in enumerate(navigation.visible_pages(role))]
current = st.navigation(pages)
back_to = signin.page_to_return_to()
if back_to is not None and back_to != current.url_path:
    # signed in again after the gateway ended the session: back to the page they were on
    for page in pages:
        if page.url_path == back_to:
            st.switch_page(page)
signin.sidebar()
signin.give_back_input(current.url_path)
try:
    current.run()
except GatewayKeyRejected as exc:
    if exc.status != 401:
        raise
    # the session expired or was ended (signed out elsewhere, reset or deactivated by an admin)
    signin.session_ended(f"Signed out: {exc.detail}")
    st.rerun()
