"""Admin: API keys (create, shown once; list; revoke), users (create, list, change role, stations or
active, reset a password) and the audit log, filtered and paged."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_ui import admin_tables, resources, signin
from linesight_ui.label_tables import day_range
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, role_gap

ANY = "any"
KEYS_VIEW, USERS_VIEW, AUDIT_VIEW = "API keys", "Users", "Audit log"
NEW_KEY = "admin_new_key"  # the key just created, shown until the admin says it is copied
FLASH = "admin_flash"  # what the last change did, shown once on the next run
# A form's widgets are keyed with a generation: after a change is made the form starts afresh, while a
# refused one keeps everything typed.
KEY_FORM, USER_FORM, EDIT_FORM = "admin_key_form", "admin_user_form", "admin_edit_form"
AUDIT_FILTERS, AUDIT_CURSORS = "admin_audit_filters", "admin_audit_cursors"
AUDIT_PAGE_SIZES = [25, 50, 100, 200]
SESSIONS_NOTE = (
    "To sign a user out everywhere, reset their password or deactivate them: either ends every session "
    "they have at once (the gateway has no separate call for it)."
)

st.set_page_config(page_title="Admin · LineSight", page_icon=":material/admin_panel_settings:", layout="wide")
record_page_view("admin", st.session_state)
gateway = resources.gateway()

st.title("Admin")
if not role_gap("admin", to="manage API keys, users and the audit log"):
    st.stop()
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/task_alt:")
stations = ask(lambda: gateway.stations(), action="list the stations") or []
names: dict[str, str] = {str(s["id"]): s["name"] for s in stations}


def generation(name: str) -> int:
    return int(st.session_state.get(name, 0))


def done(message: str | None, *forms: str) -> None:
    """A change went through: say so on the next run, start the given forms afresh."""
    if message:
        st.session_state[FLASH] = message
    for form in forms:
        st.session_state[form] = generation(form) + 1
    st.rerun()


def station_picker(label: str, key: str, default: list[str] | None = None) -> list[str]:
    """Station ids; none picked: every station. Ids no longer listed (a deleted station) stay pickable."""
    options = list(names) + [s for s in default or [] if s not in names]
    return st.multiselect(
        label,
        options,
        default=default or [],
        format_func=lambda i: names.get(i, i),
        placeholder=admin_tables.EVERY_STATION,
        key=key,
        help="Limits it to these stations; none picked: every station. Not for the admin role.",
    )


def show_new_key() -> None:
    created = st.session_state.get(NEW_KEY)
    if not created:
        return
    with st.container(border=True):
        scope = admin_tables.stations_text(created.get("station_ids"), names)
        st.success(
            f"API key **{created['name']}** created: {created['role']}, {scope}.", icon=":material/key:"
        )
        st.warning(
            "Copy the key now: this is the only time it is shown. LineSight keeps only its hash, so a lost "
            "key cannot be shown again, only revoked and replaced by a new one.",
            icon=":material/warning:",
        )
        st.code(created["key"], language=None)
        if st.button("I have copied the key", icon=":material/check:", key="admin_key_copied"):
            st.session_state.pop(NEW_KEY, None)
            st.rerun()


def new_key_form() -> None:
    gen = generation(KEY_FORM)
    with st.form(f"admin-new-key-{gen}"):
        st.markdown("**New API key**")
        left, right = st.columns(2)
        name = left.text_input(
            "Key name",
            max_chars=100,
            placeholder="line 3 tablet",
            help="Who or what uses the key",
            key=f"admin-key-name-{gen}",
        )
        role = right.selectbox("Key role", signin.ROLES, index=1, key=f"admin-key-role-{gen}")
        picked = station_picker("Key stations", f"admin-key-stations-{gen}")
        submitted = st.form_submit_button("Create key", type="primary", icon=":material/key:")
    if not submitted:
        return
    if not name.strip():
        st.error("Give the key a name: who or what uses it.", icon=":material/error:")
        return
    answer = ask(
        lambda: gateway.create_api_key(name.strip(), role, picked or None),
        action="create the API key",
        needs="admin",
        stop=False,
    )
    if answer is not None:
        st.session_state[NEW_KEY] = answer
        done(None, KEY_FORM)  # show_new_key() says it


def revoke_section(keys: list[dict[str, Any]]) -> None:
    st.markdown("**Revoke a key**")
    live = {str(k["id"]): k for k in keys if not k.get("revoked_at")}
    picked = st.selectbox(
        "Key to revoke",
        list(live),
        index=None,
        format_func=lambda i: admin_tables.key_label(live[i]),
        placeholder="pick a key",
        key="admin_revoke_pick",
    )
    if picked is None:
        return
    key = live[picked]
    who = signin.person() or {}
    consequences = "Whatever uses it gets 401 from now on; a revoked key cannot be brought back."
    if who.get("kind") == "api_key" and str(who.get("key_id")) == picked:
        consequences += " It is the key you are signed in with: you will be signed out."
    elif key.get("bootstrap"):
        consequences += " It is the bootstrap admin key: make sure another admin can still sign in."
    st.warning(consequences, icon=":material/warning:")
    confirmed = st.checkbox(
        f"Yes, revoke {key['name']} ({key['prefix']})", key=f"admin-revoke-confirm-{picked}"
    )
    if not st.button(
        "Revoke key", icon=":material/key_off:", disabled=not confirmed, key=f"admin-revoke-{picked}"
    ):
        return
    answer = ask(
        lambda: gateway.revoke_api_key(picked), action="revoke the API key", needs="admin", stop=False
    )
    if answer is not None:
        for state_key in ("admin_revoke_pick", f"admin-revoke-confirm-{picked}"):
            st.session_state.pop(state_key, None)
        done(f"The API key {answer['name']} ({answer['prefix']}) is revoked: it gets 401 from now on.")


def keys_view() -> None:
    show_new_key()
    new_key_form()
    st.subheader("API keys")
    revoked = st.toggle("Show revoked keys", key="admin_keys_revoked")
    keys = ask(lambda: gateway.api_keys(include_revoked=revoked), action="list the API keys", needs="admin")
    assert keys is not None  # ask() stops the page on failure
    st.dataframe(admin_tables.keys_table(keys, names), hide_index=True)
    revoke_section(keys)


def new_user_form() -> None:
    gen = generation(USER_FORM)
    with st.form(f"admin-new-user-{gen}"):
        st.markdown("**New user**")
        left, right = st.columns(2)
        username = left.text_input(
            "Username",
            max_chars=64,
            help="Letters, digits and . _ @ -, up to 64; stored in lower case",
            key=f"admin-user-name-{gen}",
        )
        display_name = right.text_input(
            "Display name", max_chars=100, placeholder="the username", key=f"admin-user-display-{gen}"
        )
        left, right = st.columns(2)
        role = left.selectbox("Role", signin.ROLES, index=1, key=f"admin-user-role-{gen}")
        with right:
            picked = station_picker("Stations", f"admin-user-stations-{gen}")
        left, right = st.columns(2)
        password = left.text_input(
            "Password", type="password", help="At least 8 characters", key=f"admin-user-password-{gen}"
        )
        repeat = right.text_input("Repeat the password", type="password", key=f"admin-user-repeat-{gen}")
        submitted = st.form_submit_button("Create user", type="primary", icon=":material/person_add:")
    if not submitted:
        return
    if not username.strip():
        st.error("Enter a username.", icon=":material/error:")
        return
    if password != repeat:
        st.error("The two passwords differ: type the same password twice.", icon=":material/error:")
        return
    answer = ask(
        lambda: gateway.create_user(
            username.strip(),
            role,
            password,
            display_name=display_name.strip() or None,
            stations=picked or None,
        ),
        action="create the user",
        needs="admin",
        stop=False,
    )
    if answer is not None:
        done(
            f"The user {answer['username']} ({answer['role']}) is made: they sign in with the password you set.",
            USER_FORM,
        )


def change_user(user: dict[str, Any]) -> None:
    uid, gen = str(user["id"]), generation(EDIT_FORM)
    at = f"{uid}-{gen}"
    with st.form(f"admin-edit-user-{at}"):
        st.markdown(f"**Change {user['username']}**")
        left, right = st.columns(2)
        display_name = left.text_input(
            "Change display name", value=user["display_name"], max_chars=100, key=f"admin-edit-display-{at}"
        )
        role = right.selectbox(
            "Change role", signin.ROLES, index=signin.ROLES.index(user["role"]), key=f"admin-edit-role-{at}"
        )
        picked = station_picker(
            "Change stations", f"admin-edit-stations-{at}", [str(s) for s in user.get("station_ids") or []]
        )
        active = st.checkbox(
            "Active (may sign in)",
            value=bool(user["active"]),
            key=f"admin-edit-active-{at}",
            help="Deactivating ends every session the user has.",
        )
        save = st.form_submit_button("Save changes", type="primary", icon=":material/save:")
    if save:
        changes = admin_tables.user_changes(
            user, display_name=display_name, role=role, station_ids=picked, active=active
        )
        if not changes:
            st.info("Nothing changed.", icon=":material/info:")
        else:
            answer = ask(
                lambda: gateway.update_user(uid, changes), action="change the user", needs="admin", stop=False
            )
            if answer is not None:
                ended = " Their sessions are ended." if changes.get("active") is False else ""
                done(
                    f"The user {answer['username']} is changed: {', '.join(c.replace('_', ' ') for c in changes)}.{ended}",
                    EDIT_FORM,
                )

    with st.form(f"admin-reset-{at}"):
        st.markdown(f"**Reset the password of {user['username']}**")
        left, right = st.columns(2)
        password = left.text_input(
            "New password", type="password", help="At least 8 characters", key=f"admin-reset-password-{at}"
        )
        repeat = right.text_input("Repeat the new password", type="password", key=f"admin-reset-repeat-{at}")
        reset = st.form_submit_button("Reset password", icon=":material/lock_reset:")
    st.caption(SESSIONS_NOTE)
    if not reset:
        return
    if password != repeat:
        st.error("The two passwords differ: type the same password twice.", icon=":material/error:")
        return
    answer = ask(
        lambda: gateway.update_user(uid, {"password": password}),
        action="reset the password",
        needs="admin",
        stop=False,
    )
    if answer is not None:
        done(
            f"The password of {answer['username']} is reset: their sessions are ended, they sign in with the "
            "new one.",
            EDIT_FORM,
        )


def users_view() -> None:
    new_user_form()
    st.subheader("Users")
    inactive = st.toggle("Show inactive users", key="admin_users_inactive")
    users = ask(lambda: gateway.users(include_inactive=inactive), action="list the users", needs="admin")
    assert users is not None  # ask() stops the page on failure
    if not users:
        st.info("No user yet: people sign in with a personal API key until you make them one.")
        return
    st.dataframe(admin_tables.users_table(users, names), hide_index=True)
    by_id = {str(u["id"]): u for u in users}
    picked = st.selectbox(
        "User to change",
        list(by_id),
        index=None,
        format_func=lambda i: admin_tables.user_label(by_id[i]),
        placeholder="pick a user",
        key="admin_user_pick",
    )
    if picked is not None:
        change_user(by_id[picked])


def audit_view() -> None:
    users = ask(lambda: gateway.users(include_inactive=True), action="list the users", stop=False) or []
    keys = ask(lambda: gateway.api_keys(include_revoked=True), action="list the API keys", stop=False) or []
    actors = admin_tables.actor_choices(users, keys)
    with st.container(border=True):
        first, second, third = st.columns(3)
        action = first.selectbox(
            "Action",
            [ANY, *admin_tables.AUDIT_ACTIONS],
            key="admin_audit_action",
            accept_new_options=True,
            help="Pick one, or type another action name",
        )
        actor = second.selectbox(
            "Actor", [ANY, *actors], format_func=lambda i: actors.get(i, i), key="admin_audit_actor"
        )
        object_id = third.text_input(
            "Object id",
            max_chars=128,
            key="admin_audit_object",
            placeholder="a station's, user's or key's id",
        )
        first, second, _ = st.columns(3)
        days = first.date_input(
            "Days (UTC)",
            value=[],
            key="admin_audit_days",
            help="One day, or a first and a last day; empty: all",
        )
        size = second.selectbox("Per page", AUDIT_PAGE_SIZES, index=1, key="admin_audit_size")
    since, until = day_range(days)
    filters: dict[str, Any] = {
        "action": None if action in (ANY, None) else str(action).strip() or None,
        "actor_key_id": None if actor == ANY else actor,
        "object_id": object_id.strip() or None,
        "since": since,
        "until": until,
        "limit": size,
    }
    # A new filter starts again at the newest page; each page opened since keeps its cursor.
    if st.session_state.get(AUDIT_FILTERS) != filters:
        st.session_state[AUDIT_FILTERS] = filters
        st.session_state[AUDIT_CURSORS] = [None]
    cursors: list[int | None] = st.session_state[AUDIT_CURSORS]
    page = ask(
        lambda: gateway.audit_events(**filters, cursor=cursors[-1]),
        action="read the audit log",
        needs="admin",
    )
    assert page is not None  # ask() stops the page on failure
    items: list[dict[str, Any]] = page["items"]
    more = page.get("next_cursor")
    count = f"{len(items)} event{'s' if len(items) != 1 else ''}"
    st.caption(
        f"Page {len(cursors)} · {count}, newest first{' · older ones on the next page' if more else ''}"
    )
    if not items:
        st.info("No audit event matches these filters.")
    else:
        # a plain table, not a grid: the details wrap, and the text is on the page for a screen reader
        st.table(admin_tables.audit_table(items), hide_index=True, border="horizontal")
    newer, older, _ = st.columns([1, 1, 4])
    if newer.button("Newer", icon=":material/arrow_back:", disabled=len(cursors) == 1, width="stretch"):
        cursors.pop()
        st.rerun()
    if older.button("Older", icon=":material/arrow_forward:", disabled=not more, width="stretch"):
        cursors.append(int(more))
        st.rerun()


view = st.radio(
    "View",
    [KEYS_VIEW, USERS_VIEW, AUDIT_VIEW],
    horizontal=True,
    key="admin_view",
    label_visibility="collapsed",
)
if view == USERS_VIEW:
    users_view()
elif view == AUDIT_VIEW:
    audit_view()
else:
    keys_view()
