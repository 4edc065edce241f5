"""People who sign in, on real Postgres: users made by an admin with an argon2id password hash, a session
token that works wherever an API key does, one message for a wrong username or password, throttled
failures, sign-out, expiry, and sessions ended by a deactivation or a password reset."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from linesight_gateway.main import create_app
from linesight_gateway.settings import GatewaySettings

ADMIN = "admin-key-for-user-tests-0123456789abcdef"
PASSWORD = "correct horse battery"


@pytest.fixture
def gateway(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    monkeypatch.setenv("LINESIGHT_LOGIN_MAX_FAILURES_PER_USER", "3")
    for name in ("REGISTRY", "INFERENCE", "OCR", "TRAINING_WORKER"):
        monkeypatch.setenv(f"LINESIGHT_{name}_URL", "http://127.0.0.1:9")
    with TestClient(create_app(GatewaySettings())) as client:
        client.db_url = fresh_service_env["LINESIGHT_DATABASE_URL"]
        yield client


def admin():
    return {"X-API-Key": ADMIN}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def make_user(gateway, username="mara", role="operator", **extra):
    body = {"username": username, "display_name": "Mara Lindqvist", "role": role, "password": PASSWORD}
    resp = gateway.post("/api/v1/users", json={**body, **extra}, headers=admin())
    assert resp.status_code == 201, resp.text
    return resp.json()


def login(gateway, username="mara", password=PASSWORD):
    return gateway.post("/api/v1/auth/login", json={"username": username, "password": password})


def sql(gateway, query):
    url = make_url(gateway.db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        cursor = conn.execute(query)
        rows = list(cursor) if cursor.description else []
        conn.commit()
    return rows


def test_a_person_signs_in_acts_with_their_role_and_signs_out(gateway):
    user = make_user(gateway)
    assert user["username"] == "mara" and user["role"] == "operator" and "password" not in user
    [(stored,)] = sql(gateway, "SELECT password_hash FROM gateway.users")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    resp = login(gateway, "Mara")  # usernames are not case-sensitive
    assert resp.status_code == 200, resp.text
    body = resp.json()
    token = body["token"]
    assert token.startswith("lss_") and body["user"]["display_name"] == "Mara Lindqvist"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires - datetime.now(UTC) <= timedelta(hours=12)
    [(token_hash,)] = sql(gateway, "SELECT token_hash FROM gateway.user_sessions")
    assert token not in token_hash

    # either header carries the token, the pre-body check included (a POST without a body's parse)
    for headers in (bearer(token), {"X-API-Key": token}):
        me = gateway.get("/api/v1/me", headers=headers).json()
        assert me["kind"] == "user" and me["name"] == "mara" and me["role"] == "operator"
        assert me["display_name"] == "Mara Lindqvist" and me["key_id"] == user["id"]
    assert gateway.get("/api/v1/system/services", headers=bearer(token)).status_code == 200
    refused = gateway.get("/api/v1/audit", headers=bearer(token))
    assert refused.status_code == 403 and "your account has operator" in refused.json()["detail"]
    assert gateway.post("/api/v1/users", json={}, headers=bearer(token)).status_code == 403

    events = gateway.get("/api/v1/audit", params={"action": "user.login"}, headers=admin()).json()["items"]
    assert events[0]["actor_name"] == "mara" and events[0]["actor_key_id"] == user["id"]

    assert gateway.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    gone = gateway.get("/api/v1/me", headers=bearer(token))
    assert gone.status_code == 401 and "ended" in gone.json()["detail"]
    assert gateway.post("/api/v1/auth/logout", headers=admin()).status_code == 400


def test_wrong_username_and_wrong_password_get_one_message_then_429(gateway):
    make_user(gateway)
    wrong_password = login(gateway, password="not the password")
    wrong_name = login(gateway, username="nobody")
    assert wrong_password.status_code == wrong_name.status_code == 401
    assert (
        wrong_password.json()["detail"] == wrong_name.json()["detail"] == "The username or password is wrong."
    )
    assert login(gateway, password="still wrong").status_code == 401
    login(gateway, password="third wrong")
    throttled = login(gateway)  # even the right password waits: the limit (3) was reached
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "try again in" in throttled.json()["detail"]
    assert login(gateway, username="nobody").status_code == 401  # another username is not held up


def test_an_admin_deactivates_and_resets_and_sessions_end(gateway):
    user = make_user(gateway, "ravi", role="viewer")
    first = login(gateway, "ravi").json()["token"]
    second = login(gateway, "ravi").json()["token"]
    assert gateway.get("/api/v1/me", headers=bearer(first)).status_code == 200

    promoted = gateway.patch(f"/api/v1/users/{user['id']}", json={"role": "engineer"}, headers=admin())
    assert promoted.status_code == 200 and promoted.json()["role"] == "engineer"
    assert gateway.get("/api/v1/me", headers=bearer(first)).json()["role"] == "engineer"

    reset = gateway.patch(
        f"/api/v1/users/{user['id']}", json={"password": "a new pass 2026"}, headers=admin()
    )
    assert reset.status_code == 200
    for token in (first, second):
        assert gateway.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert login(gateway, "ravi").status_code == 401
    third = login(gateway, "ravi", "a new pass 2026").json()["token"]

    off = gateway.patch(f"/api/v1/users/{user['id']}", json={"active": False}, headers=admin())
    assert off.status_code == 200 and off.json()["active"] is False
    assert gateway.get("/api/v1/me", headers=bearer(third)).status_code == 401
    assert login(gateway, "ravi", "a new pass 2026").status_code == 401
    assert [u["username"] for u in gateway.get("/api/v1/users", headers=admin()).json()["items"]] == []
    listed = gateway.get("/api/v1/users", params={"include_inactive": True}, headers=admin()).json()
    assert [u["username"] for u in listed["items"]] == ["ravi"]
    audit = gateway.get("/api/v1/audit", params={"action": "user.update"}, headers=admin()).json()["items"]
    assert audit[0]["details"]["active"] is False and audit[1]["details"]["password_reset"] is True
    assert "a new pass" not in str(audit)


def test_an_expired_session_says_so(gateway):
    make_user(gateway)
    token = login(gateway).json()["token"]
    sql(gateway, "UPDATE gateway.user_sessions SET expires_at = now() - interval '1 minute'")
    gateway.app.state.key_cache._entries.clear()  # the replica's cache: as after its 10 s
    resp = gateway.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def test_bad_user_input_is_a_clear_4xx(gateway):
    make_user(gateway)
    taken = gateway.post(
        "/api/v1/users", json={"username": "MARA", "role": "viewer", "password": PASSWORD}, headers=admin()
    )
    assert taken.status_code == 409 and "taken" in taken.json()["detail"]
    short = gateway.post(
        "/api/v1/users", json={"username": "kim", "role": "viewer", "password": "short"}, headers=admin()
    )
    assert short.status_code == 422 and "password" in short.text
    scoped_admin = gateway.post(
        "/api/v1/users",
        json={"username": "boss", "role": "admin", "password": PASSWORD, "stations": ["x"]},
        headers=admin(),
    )
    assert scoped_admin.status_code == 422
    unknown_station = gateway.post(
        "/api/v1/users",
        json={"username": "kim", "role": "viewer", "password": PASSWORD, "stations": ["nowhere"]},
        headers=admin(),
    )
    assert unknown_station.status_code == 422 and "nowhere" in unknown_station.json()["detail"]
    missing = gateway.patch("/api/v1/users/00000000-0000-0000-0000-000000000000", json={}, headers=admin())
    assert missing.status_code == 404
    assert gateway.post("/api/v1/auth/login", json={"username": "mara"}).status_code == 422


def test_an_admin_person_manages_users_and_keys(gateway):
    boss = make_user(gateway, "boss", role="admin")
    token = login(gateway, "boss").json()["token"]
    key = gateway.post("/api/v1/api-keys", json={"name": "tablet", "role": "viewer"}, headers=bearer(token))
    assert key.status_code == 201 and key.json()["created_by"] is None
    made = gateway.post(
        "/api/v1/users",
        json={"username": "kim", "role": "viewer", "password": PASSWORD},
        headers=bearer(token),
    )
    assert made.status_code == 201 and made.json()["created_by"] == "boss"
    self_off = gateway.patch(f"/api/v1/users/{boss['id']}", json={"active": False}, headers=bearer(token))
    assert self_off.status_code == 422
