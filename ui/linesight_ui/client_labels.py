"""The gateway's label-read calls (`/api/v1/labels`): read a label photo, the review queue, approve,
correct, and the export of reviewed reads. A mixin of `linesight_ui.gateway.GatewayClient`, on its
transport helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from linesight_ui.client_transport import Json, Transport
from linesight_ui.client_transport import query as _query

LABELS = "/api/v1/labels"
# Reading a label waits for the OCR service up to the gateway's own OCR timeout.
READ_TIMEOUT_SECONDS = 60.0
# The export streams every reviewed read; it may take longer than an ordinary call.
EXPORT_TIMEOUT_SECONDS = 120.0


class LabelCalls(Transport):
    def read_label(
        self,
        photo: bytes,
        filename: str,
        content_type: str,
        *,
        station: str | None = None,
        context: str = "",
        vendor_hint: str | None = None,
    ) -> Json:
        """Send one label photo; the answer (201) is the stored read, `approved` or `needs_review`."""
        form = _query(station=station, context=context, vendor_hint=vendor_hint)
        resp = self._send(
            "POST",
            LABELS,
            ok=(201,),
            data=form,
            files={"file": (filename, photo, content_type)},
            timeout=READ_TIMEOUT_SECONDS,
        )
        return self._json(resp)

    def label_reads(
        self,
        *,
        status: str | None = None,
        vendor: str | None = None,
        station: str | None = None,
        code_type: str | None = None,
        code_value: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        sort: str = "oldest",
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """One page of label reads, oldest first by default (the review queue's order):
        {items, total, limit, offset}."""
        params = _query(
            status=status,
            vendor=vendor,
            station=station,
            code_type=code_type,
            code_value=code_value,
            since=since,
            until=until,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return self._json(self._get(LABELS, params))

    def label_read(self, read_id: str) -> Json:
        """One read with its `history` (every revision, oldest first)."""
        return self._json(self._get(f"{LABELS}/{read_id}"))

    def label_image(self, read_id: str) -> bytes:
        """The stored label photo, as it was uploaded (without its metadata)."""
        return self._get(f"{LABELS}/{read_id}/image").content

    def approve_label(self, read_id: str, notes: str = "") -> Json:
        """The codes are right as read; 422 when one cannot be right (a wrong check digit)."""
        resp = self._send("POST", f"{LABELS}/{read_id}/approve", json={"notes": notes})
        return self._json(resp)

    def correct_label(self, read_id: str, codes: Sequence[Mapping[str, str]], notes: str = "") -> Json:
        """Replace the codes with the confirmed set; 422 names a code whose value is invalid."""
        body = {"codes": [{"type": c["type"], "value": c["value"]} for c in codes], "notes": notes}
        return self._json(self._send("POST", f"{LABELS}/{read_id}/corrections", json=body))

    def label_export(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        vendor: str | None = None,
        station: str | None = None,
    ) -> bytes:
        """Reviewed reads as JSON Lines (docs/labels.md); `since`/`until` apply to the review time."""
        params = _query(format="jsonl", since=since, until=until, vendor=vendor, station=station)
        resp = self._send("GET", f"{LABELS}/export", params=params, timeout=EXPORT_TIMEOUT_SECONDS)
        return resp.content
