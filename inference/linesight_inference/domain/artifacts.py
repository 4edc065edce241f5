"""Model artifacts on local disk, content-addressed: `<cache>/<sha256>.onnx`, fetched from the S3 store once,
verified against the registry's sha256 and renamed into place atomically."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from concurrent.futures import Executor
from pathlib import Path

import urllib3
from minio.error import S3Error

from linesight_core.contracts.registry import ModelVersionOut
from linesight_core.errors import Problem
from linesight_core.storage import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)


class ArtifactUnavailable(Problem):
    """The artifact cannot be fetched or is not what the registry says it is."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, title="Model artifact unavailable", upstream_service="object_store")


class ArtifactCache:
    def __init__(self, folder: Path, store: ObjectStore) -> None:
        self.folder = folder
        self.store = store
        self._fetching: dict[str, asyncio.Future[Path]] = {}

    def path_for(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.onnx"

    async def fetch(self, version: ModelVersionOut, executor: Executor | None = None) -> Path:
        """The local path of the version's artifact; concurrent calls for one sha256 download it once."""
        path = self.path_for(version.sha256)
        if path.exists():
            return path
        pending = self._fetching.get(version.sha256)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Path] = loop.create_future()
        self._fetching[version.sha256] = future
        try:
            result = await loop.run_in_executor(executor, self._download, version, path)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # waiters get it; nobody else needs to retrieve it
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._fetching[version.sha256]

    def _download(self, version: ModelVersionOut, path: Path) -> Path:
        if path.exists():  # another replica sharing the folder got it meanwhile
            return path
        self.folder.mkdir(parents=True, exist_ok=True)
        # A unique temporary name: replicas sharing the cache folder never write the same file.
        partial = self.folder / f".{version.sha256}.{uuid.uuid4().hex[:8]}.part"
        where = f"{version.artifact_bucket}/{version.artifact_key}"
        try:
            digest = self.store.download_file(version.artifact_bucket, version.artifact_key, str(partial))
            if digest != version.sha256:
                raise ArtifactUnavailable(
                    502,
                    f"The artifact of {version.model_name} v{version.version} at {where} has sha256 "
                    f"{digest[:12]}…, the registry says {version.sha256[:12]}…; it was not loaded.",
                )
            os.replace(partial, path)
        except ObjectNotFound:
            raise ArtifactUnavailable(
                502,
                f"The artifact of {version.model_name} v{version.version} is missing from the object "
                f"store ({where}).",
            ) from None
        except S3Error as exc:
            raise ArtifactUnavailable(
                502, f"The object store refused the artifact {where}: {exc.code}."
            ) from None
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ArtifactUnavailable(
                503, f"The object store cannot be reached for {where}: {type(exc).__name__}."
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        log.info(
            "model artifact downloaded",
            extra={"model": version.model_name, "version": version.version, "sha256": version.sha256},
        )
        return path
