"""The body limit of each upload route of the public API; every other route takes at most
LINESIGHT_MAX_JSON_BODY_BYTES (linesight_core.body_limit)."""

from __future__ import annotations

from linesight_core.body_limit import RouteLimit, upload_route
from linesight_gateway.api.inspections import MAX_BATCH
from linesight_gateway.settings import GatewaySettings


def upload_limits(settings: GatewaySettings) -> list[RouteLimit]:
    image = settings.image_max_bytes
    return [
        upload_route("POST", "/api/v1/inspections", image, "a photo"),
        upload_route("POST", "/api/v1/inspections/batch", image, "a batch of photos", files=MAX_BATCH),
        upload_route("PUT", "/api/v1/stations/{station_id}/reference-image", image, "a reference photo"),
        upload_route("POST", "/api/v1/labels", image, "a label photo"),
        upload_route("POST", "/api/v1/datasets/{name}/items", image, "a dataset image"),
        upload_route(
            "POST", "/api/v1/datasets/{name}/imports", settings.max_archive_bytes, "a dataset archive"
        ),
        upload_route("POST", "/api/v1/models/{name}/versions", settings.max_artifact_bytes, "an ONNX model"),
        upload_route(
            "POST", "/api/v1/models/{name}/versions/from-pt", settings.max_pt_bytes, "a PyTorch checkpoint"
        ),
    ]
