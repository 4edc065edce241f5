"""The gateway's dataset calls (`/api/v1/datasets`): datasets, their items and images, adding an image
with its labels, importing an archive, versions with their diffs and exports. A mixin of
`linesight_ui.gateway.GatewayClient`, on its transport helpers."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from linesight_core.contracts.common import Page
from linesight_core.contracts.datasets import (
    DatasetCreate,
    DatasetItemOut,
    DatasetOut,
    DatasetStats,
    DatasetVersionOut,
    ImportReport,
    VersionDiff,
)
from linesight_ui.client_transport import Transport

DATASETS = "/api/v1/datasets"
# The gateway's largest page; the UI lists datasets and their versions whole.
ALL = 500
# Uploads and exports pass through the gateway to the registry, which checks every entry of an archive:
# they may take far longer than an ordinary call.
TRANSFER_TIMEOUT_SECONDS = 600.0


class Upload(io.BytesIO):
    """The bytes of an upload as a file httpx streams from, telling `progress(sent, total)` as it goes."""

    def __init__(self, data: bytes, progress: Callable[[int, int], None] | None = None) -> None:
        super().__init__(data)
        self._total = len(data)
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self._progress is not None and chunk:
            self._progress(self.tell(), self._total)
        return chunk


class DatasetCalls(Transport):
    # --- datasets ------------------------------------------------------------------------------------

    def datasets(self) -> list[DatasetOut]:
        return self._parse(Page[DatasetOut], self._get(DATASETS, {"limit": ALL})).items

    def create_dataset(self, request: DatasetCreate) -> DatasetOut:
        """409 when the name is taken; the body is checked here first (a ValidationError names the field)."""
        body = request.model_dump(mode="json", exclude_none=True)
        return self._parse(DatasetOut, self._send("POST", DATASETS, ok=(201,), json=body))

    def dataset_stats(self, name: str) -> DatasetStats:
        return self._parse(DatasetStats, self._get(f"{DATASETS}/{name}/stats"))

    # --- items ---------------------------------------------------------------------------------------

    def dataset_items(
        self,
        name: str,
        *,
        split: str | None = None,
        source: str | None = None,
        labelled: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[DatasetItemOut]:
        """One page of items, oldest first, filtered by split, source and whether they have labels."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if split:
            params["split"] = split
        if source:
            params["source"] = source
        if labelled is not None:
            params["labelled"] = str(labelled).lower()
        return self._parse(Page[DatasetItemOut], self._get(f"{DATASETS}/{name}/items", params))

    def dataset_item_image(self, name: str, item_id: str) -> bytes:
        """The item's image as it was added."""
        return self._get(f"{DATASETS}/{name}/items/{item_id}/image").content

    def add_dataset_item(
        self, name: str, photo: bytes, filename: str, content_type: str, *, labels: str, origin: str = ""
    ) -> tuple[DatasetItemOut, bool]:
        """Add an image with its labels (detect: YOLO lines; classify: the class name); the item and
        whether it is new (201) rather than an image already there whose labels were replaced (200)."""
        resp = self._send(
            "POST",
            f"{DATASETS}/{name}/items",
            ok=(200, 201),
            files={"file": (filename, photo, content_type)},
            data={"labels": labels, "origin": origin},
            timeout=TRANSFER_TIMEOUT_SECONDS,
        )
        return self._parse(DatasetItemOut, resp), resp.status_code == 201

    # --- imports -------------------------------------------------------------------------------------

    def import_archive(
        self,
        name: str,
        archive: bytes,
        filename: str,
        *,
        format: str = "yolo",
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import a YOLO zip or a Label Studio export; `progress(sent, total)` follows the upload. A
        refusal is GatewayError(422) whose `problems` list every one found (nothing is stored then)."""
        resp = self._send(
            "POST",
            f"{DATASETS}/{name}/imports",
            files={"file": (filename, Upload(archive, progress), "application/zip")},
            data={"format": format},
            timeout=TRANSFER_TIMEOUT_SECONDS,
        )
        return self._parse(ImportReport, resp)

    # --- versions ------------------------------------------------------------------------------------

    def dataset_versions(self, name: str) -> list[DatasetVersionOut]:
        """Every version, newest first."""
        resp = self._get(f"{DATASETS}/{name}/versions", {"limit": ALL})
        return self._parse(Page[DatasetVersionOut], resp).items

    def cut_version(self, name: str, notes: str = "") -> DatasetVersionOut:
        """Freeze the items as the next version; 409 when nothing changed since the latest one."""
        resp = self._send("POST", f"{DATASETS}/{name}/versions", ok=(201,), json={"notes": notes})
        return self._parse(DatasetVersionOut, resp)

    def version_diff(self, name: str, version: int, against: int | None = None) -> VersionDiff:
        """What changed from `against` (default: the previous version) to `version`."""
        params = {} if against is None else {"against": against}
        return self._parse(VersionDiff, self._get(f"{DATASETS}/{name}/versions/{version}/diff", params))

    def version_export(self, name: str, version: int) -> bytes:
        """The version as a YOLO zip (data.yaml, images/, labels/)."""
        path = f"{DATASETS}/{name}/versions/{version}/export"
        return self._send("GET", path, timeout=TRANSFER_TIMEOUT_SECONDS).content
