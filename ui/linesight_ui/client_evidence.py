"""The gateway's calls about the evidence for a promotion: replays of a station's verified history
(start, follow, cancel, list), promotion gates of a model or a station, and a station's shadow figures. A
mixin of `linesight_ui.gateway.GatewayClient`, on its transport helpers."""

from __future__ import annotations

from linesight_ui.client_transport import Json, Transport, query

STATIONS = "/api/v1/stations"
MODELS = "/api/v1/models"


class EvidenceCalls(Transport):
    # --- replays (engineer) --------------------------------------------------------------------------

    def start_replay(self, station_id: str, model: str, version: int, last_n: int) -> Json:
        """Queue a replay of the station's last `last_n` verified inspections through `model` v`version`
        next to the station's production (202); no verified history, another task: GatewayError(4xx)."""
        body = {"model": model, "version": version, "last_n": last_n}
        return self._json(self._send("POST", f"{STATIONS}/{station_id}/replays", ok=(202,), json=body))

    def replay(self, station_id: str, job_id: str) -> Json:
        return self._json(self._get(f"{STATIONS}/{station_id}/replays/{job_id}"))

    def cancel_replay(self, station_id: str, job_id: str) -> Json:
        """A finished replay cannot be cancelled: GatewayError(409)."""
        return self._json(self._send("POST", f"{STATIONS}/{station_id}/replays/{job_id}/cancel", ok=(202,)))

    def version_replays(self, name: str, version: int, *, limit: int = 50) -> list[Json]:
        """The version's replays at every station the caller may see, newest first."""
        resp = self._get(f"{MODELS}/{name}/versions/{version}/replays", query(limit=limit))
        return list(self._json(resp).get("items", []))

    # --- promotion gates (anyone reads; admins set and remove) ---------------------------------------

    def model_gate(self, name: str) -> Json:
        """{model_name, gated, gates, judged_by}: the stations a promotion of the model is judged by."""
        return self._json(self._get(f"{MODELS}/{name}/promotion-gate"))

    def station_gate(self, station_id: str) -> Json:
        """The gates of the model the station serves (the station's own has its station_id)."""
        return self._json(self._get(f"{STATIONS}/{station_id}/promotion-gate"))

    def set_station_gate(self, station_id: str, min_verified: int) -> Json:
        body = {"min_verified": min_verified}
        return self._json(self._send("PUT", f"{STATIONS}/{station_id}/promotion-gate", json=body))

    def remove_station_gate(self, station_id: str) -> None:
        self._send("DELETE", f"{STATIONS}/{station_id}/promotion-gate", ok=(204,))

    # --- shadow mode (engineer) ----------------------------------------------------------------------

    def station_shadow(self, station_id: str, *, last_n: int = 1000) -> Json:
        """Agreement of the station's shadow version with the live answers and the accuracy of each."""
        return self._json(self._get(f"{STATIONS}/{station_id}/shadow", query(last_n=last_n)))
