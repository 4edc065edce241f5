"""Gateway access on real Postgres and S3: the bootstrap admin key, keys shown once and stored hashed,
roles enforced, revocation, and an audit trail of every change."""

import hashlib
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from linesight_gateway.main import create_app
from linesight_gateway.settings import GatewaySettings

ADMIN = "admin-key-for-tests-0123456789abcdef"


@pytest.fixture
def gateway(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    # nothing listens on these: the services page must report them, not fail
    for name in ("REGISTRY", "INFERENCE", "OCR", "TRAINING_WORKER"):
        monkeypatch.setenv(f"LINESIGHT_{name}_URL", "http://127.0.0.1:9")
    with TestClient(create_app(GatewaySettings())) as client:
        client.db_url = fresh_service_env["LINESIGHT_DATABASE_URL"]
        yield client


def as_key(key):
    return {"X-API-Key": key}


def test_every_api_endpoint_needs_a_key(gateway):
    for path in ("/api/v1/me", "/api/v1/api-keys", "/api/v1/audit", "/api/v1/system/services"):
        resp = gateway.get(path)
        assert resp.status_code == 401, path
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert gateway.get("/api/v1/me", headers=as_key("lsk_nope_nope")).status_code == 401
    for path in ("/health", "/ready", "/metrics"):
        assert gateway.get(path).status_code == 200, path


def test_keys_are_shown_once_stored_hashed_and_roles_apply(gateway):
    created = gateway.post(
        "/api/v1/api-keys", json={"name": "line 3 tablet", "role": "operator"}, headers=as_key(ADMIN)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    raw = body["key"]
    assert raw.startswith(body["prefix"]) and body["prefix"].startswith("lsk_")
    assert body["role"] == "operator"

    listed = gateway.get("/api/v1/api-keys", headers=as_key(ADMIN)).json()["items"]
    assert all("key" not in k for k in listed)
    assert {k["name"] for k in listed} == {"bootstrap admin", "line 3 tablet"}

    url = make_url(gateway.db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        stored = [r[0] for r in conn.execute("SELECT key_hash FROM gateway.api_keys")]
    assert raw not in stored
    assert hashlib.sha256(raw.encode()).hexdigest() in stored

    me = gateway.get("/api/v1/me", headers=as_key(raw)).json()
    assert me["role"] == "operator" and me["name"] == "line 3 tablet"

    # an operator may read the system page but not manage keys or read the audit log
    assert gateway.get("/api/v1/system/services", headers=as_key(raw)).status_code == 200
    forbidden = gateway.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=as_key(raw))
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]
    assert gateway.get("/api/v1/audit", headers=as_key(raw)).status_code == 403

    listed = gateway.get("/api/v1/api-keys", headers=as_key(ADMIN)).json()["items"]
    assert next(k for k in listed if k["name"] == "line 3 tablet")["last_used_at"] is not None

    revoked = gateway.delete(f"/api/v1/api-keys/{body['id']}", headers=as_key(ADMIN))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert gateway.get("/api/v1/me", headers=as_key(raw)).status_code == 401
    missing = gateway.delete("/api/v1/api-keys/00000000-0000-0000-0000-000000000000", headers=as_key(ADMIN))
    assert missing.status_code == 404
    assert gateway.delete("/api/v1/api-keys/not-a-uuid", headers=as_key(ADMIN)).status_code == 422


def test_role_matrix_walked_with_every_role(gateway):
    """Every public endpoint, called with a key of every role: refused with 403 exactly where the matrix
    (docs/roles.md) says so; otherwise never 401/403 (the answer may be 404 or 422 for the dummy input)."""
    from linesight_gateway.domain.access import ROLE_ORDER
    from linesight_gateway.roles import PUBLIC, role_matrix

    keys = {}
    for role in ROLE_ORDER:
        resp = gateway.post(
            "/api/v1/api-keys", json={"name": role.value, "role": role.value}, headers=as_key(ADMIN)
        )
        keys[role] = resp.json()["key"]
    dummy = {
        "{key_id}": "00000000-0000-0000-0000-00000000abcd",
        "{user_id}": str(uuid.uuid4()),
        "{station_id}": str(uuid.uuid4()),
        "{inspection_id}": str(uuid.uuid4()),
        "{name}": "bench",
        "{alias}": "staging",
        "{version}": "1",
    }
    walked = 0
    for method, path, needed in role_matrix():
        if not path.startswith("/api/") or (method, path) in PUBLIC:
            continue
        url = path
        for placeholder, value in dummy.items():
            url = url.replace(placeholder, value)
        for role in ROLE_ORDER:
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            resp = gateway.request(method, url, headers=as_key(keys[role]), **kwargs)
            if role.allows(needed):
                assert resp.status_code not in (401, 403), (
                    method,
                    path,
                    role,
                    resp.status_code,
                    resp.text[:200],
                )
            else:
                assert resp.status_code == 403, (method, path, role, resp.status_code)
            walked += 1
    assert walked >= 4 * 30
    bad_role = gateway.post(
        "/api/v1/api-keys", json={"name": "x", "role": "superuser"}, headers=as_key(ADMIN)
    )
    assert bad_role.status_code == 422


def test_audit_records_changes_with_filters_and_paging(gateway):
    ids = []
    for i in range(3):
        ids.append(
            gateway.post(
                "/api/v1/api-keys", json={"name": f"k{i}", "role": "viewer"}, headers=as_key(ADMIN)
            ).json()["id"]
        )
    gateway.delete(f"/api/v1/api-keys/{ids[0]}", headers=as_key(ADMIN), params={})
    page = gateway.get("/api/v1/audit", params={"limit": 2}, headers=as_key(ADMIN)).json()
    assert [e["action"] for e in page["items"]] == ["api_key.revoke", "api_key.create"]
    assert page["items"][0]["actor_name"] == "bootstrap admin"
    assert page["items"][0]["object_id"] == ids[0]
    rest = gateway.get(
        "/api/v1/audit", params={"limit": 2, "cursor": page["next_cursor"]}, headers=as_key(ADMIN)
    ).json()
    assert [e["action"] for e in rest["items"]] == ["api_key.create", "api_key.create"]
    assert rest["next_cursor"] is None
    only_revokes = gateway.get(
        "/api/v1/audit", params={"action": "api_key.revoke"}, headers=as_key(ADMIN)
    ).json()
    assert len(only_revokes["items"]) == 1
    one_object = gateway.get("/api/v1/audit", params={"object_id": ids[1]}, headers=as_key(ADMIN)).json()
    assert [e["details"]["name"] for e in one_object["items"]] == ["k1"]


def test_services_page_reports_unreachable_services(gateway):
    body = gateway.get("/api/v1/system/services", headers=as_key(ADMIN)).json()
    by_name = {s["name"]: s for s in body["services"]}
    assert set(by_name) == {"gateway", "registry", "inference", "ocr-service", "training-worker"}
    assert by_name["gateway"]["status"] == "ready"
    assert by_name["registry"]["status"] == "unreachable"
    assert by_name["registry"]["detail"]


def test_changing_the_bootstrap_key_revokes_the_old_one(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", "first-admin-key-xxxxxxxxxxxxxxxx")
    with TestClient(create_app(GatewaySettings())) as client:
        assert client.get("/api/v1/me", headers=as_key("first-admin-key-xxxxxxxxxxxxxxxx")).status_code == 200
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", "second-admin-key-yyyyyyyyyyyyyyy")
    with TestClient(create_app(GatewaySettings())) as client:
        assert client.get("/api/v1/me", headers=as_key("first-admin-key-xxxxxxxxxxxxxxxx")).status_code == 401
        assert client.get("/api/v1/me", headers=as_key("second-admin-key-yyyyyyyyyyyyyyy")).status_code == 200
