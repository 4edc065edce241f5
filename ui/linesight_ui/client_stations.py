"""The gateway's station calls (`/api/v1/stations`): one station, create, change, deactivate or delete,
the reference photo, and the station's statistics. A mixin of `linesight_ui.gateway.GatewayClient`, on
its transport helpers (the list of stations is GatewayClient.stations, which every page uses)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from linesight_ui.client_transport import Json, Transport

STATIONS = "/api/v1/stations"


class StationCalls(Transport):
    def station(self, station_id: str) -> Json:
        return self._json(self._get(f"{STATIONS}/{station_id}"))

    def create_station(self, body: Mapping[str, Any]) -> Json:
        """POST a new station (admin); a taken name is GatewayError(409), a model that does not fit 422."""
        return self._json(self._send("POST", STATIONS, ok=(201,), json=dict(body)))

    def update_station(self, station_id: str, changes: Mapping[str, Any]) -> Json:
        """PATCH only the fields in `changes` (admin); `{"active": False}` deactivates the station."""
        return self._json(self._send("PATCH", f"{STATIONS}/{station_id}", json=dict(changes)))

    def delete_station(self, station_id: str) -> None:
        """Delete a station that has no inspections (admin); one with inspections is GatewayError(409)."""
        self._send("DELETE", f"{STATIONS}/{station_id}", ok=(204,))

    def set_reference_image(self, station_id: str, photo: bytes, filename: str, content_type: str) -> Json:
        resp = self._send(
            "PUT",
            f"{STATIONS}/{station_id}/reference-image",
            files={"image": (filename, photo, content_type)},
        )
        return self._json(resp)

    def reference_image(self, station_id: str) -> bytes | None:
        """The station's reference photo; None when it has none (or storage lost it: the 404 says)."""
        resp = self._send("GET", f"{STATIONS}/{station_id}/reference-image", ok=(200, 404))
        return resp.content if resp.status_code == 200 else None

    def station_stats(
        self, station_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> Json:
        """Inspections, OK/NOK per day, confidence and per model version the accuracy from feedback."""
        params = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v is not None}
        return self._json(self._get(f"{STATIONS}/{station_id}/stats", params))
