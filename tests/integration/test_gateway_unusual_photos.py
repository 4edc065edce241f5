"""The unusual-photo flag through the gateway with the real registry, inference service and object store:
a tool-bench station's normal photos build its baseline and are not flagged; a dark photo, a moved
camera (against the station's reference photo) and a street photo are, the station's setting turns such
an answer into `low_confidence`, history filters on the flag and the metric counts it."""

from fastapi.testclient import TestClient

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.test_gateway_inspections import ADMIN, env, setup_station  # noqa: F401
from tests.support import unusual_photos as photos
from tests.support.servers import serve
from tests.support.synthetic import jpeg

STATION = photos.HELD_OUT_STATIONS[1]


def inspect(gw, sid: str, img) -> dict:
    r = gw.post(
        "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", jpeg(img))}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    return r.json()


def counted(gw, reason: str) -> float:
    """The metric's value for the station (the process's registry is shared by the session's tests)."""
    line = f'linesight_gateway_unusual_photos_total{{reason="{reason}",station="bench-1"}} '
    return sum(float(r[len(line) :]) for r in gw.get("/metrics").text.splitlines() if r.startswith(line))


def test_unusual_photos_are_flagged_counted_and_filterable(env):  # noqa: F811
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                sid = setup_station(gw)
                # The station's normal photos, before it has a reference photo: only the baseline judges.
                normals = [("p.jpg", jpeg(photos.normal(STATION, n))) for n in range(12)]
                batch = gw.post(
                    "/api/v1/inspections/batch",
                    data={"station_id": sid},
                    files=[("images", f) for f in normals],
                    headers=ADMIN,
                )
                assert batch.status_code == 200, batch.text
                assert [i["unusual"] for i in batch.json()] == [[]] * 12

                street = inspect(gw, sid, photos.elsewhere())
                assert "unlike_recent_photos" in street["unusual"], street
                dark_before = counted(gw, "too_dark")
                assert inspect(gw, sid, photos.dark(STATION, 1000))["unusual"][:1] == ["too_dark"]
                assert counted(gw, "too_dark") == dark_before + 1

                ref = gw.put(
                    f"/api/v1/stations/{sid}/reference-image",
                    files={"image": ("ref.jpg", jpeg(photos.reference(STATION)))},
                    headers=ADMIN,
                )
                assert ref.status_code == 200, ref.text
                assert inspect(gw, sid, photos.normal(STATION, 500))["unusual"] == []
                moved = inspect(gw, sid, photos.shifted(STATION, 1000))
                assert "camera_moved" in moved["unusual"], moved

                # The station asks for a look at unusual photos: a sure answer on one is not `success`.
                patch = gw.patch(
                    f"/api/v1/stations/{sid}", json={"unusual_needs_review": True}, headers=ADMIN
                )
                assert patch.status_code == 200 and patch.json()["unusual_needs_review"] is True
                before = street["confidence_status"]
                again = inspect(gw, sid, photos.elsewhere())
                assert again["unusual"] and again["confidence_status"] != "success"
                if before == "success":
                    assert again["confidence_status"] == "low_confidence"

                flagged = gw.get(
                    "/api/v1/inspections", params={"station_id": sid, "unusual": "true"}, headers=ADMIN
                ).json()
                assert flagged["total"] == 4
                assert {i["id"] for i in flagged["items"]} >= {street["id"], moved["id"], again["id"]}
                usual = gw.get(
                    "/api/v1/inspections", params={"station_id": sid, "unusual": "false"}, headers=ADMIN
                ).json()
                assert usual["total"] == 13 and all(i["unusual"] == [] for i in usual["items"])

                assert counted(gw, "camera_moved") >= 2  # the moved view and the street
