"""Object storage on the minio SDK: buckets ensured at start, streaming put/get with sha256, presigned GET."""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from minio import Minio
from minio.error import S3Error

from linesight_core.settings import S3Settings

log = logging.getLogger(__name__)

PART_SIZE = 10 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    sha256: str
    content_type: str


class ObjectNotFound(LookupError):
    pass


NOT_FOUND_CODES = ("NoSuchKey", "NoSuchObject", "NotFound")


@dataclass(frozen=True)
class OpenedObject:
    """An object whose GET has been answered: its type and size are known and its bytes are ready to
    be streamed, so a missing object is found out before a response is started."""

    content_type: str
    size: int
    chunks: Iterator[bytes]


class _HashingReader(io.RawIOBase):
    """Wraps a stream and hashes what the uploader reads from it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


class ObjectStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
    ) -> None:
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        # Presigned URLs are computed locally; a public endpoint makes them reachable from outside the
        # internal network (compose) while the service itself keeps talking to the internal name.
        self._presigner = (
            Minio(public_endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
            if public_endpoint
            else self.client
        )

    @classmethod
    def from_settings(cls, s: S3Settings) -> ObjectStore:
        return cls(
            s.s3_endpoint,
            s.s3_access_key.get_secret_value(),
            s.s3_secret_key.get_secret_value(),
            secure=s.s3_secure,
            region=s.s3_region,
            public_endpoint=getattr(s, "s3_public_endpoint", None) or None,
        )

    def ensure_buckets(self, *buckets: str) -> None:
        for bucket in buckets:
            if not self.client.bucket_exists(bucket):
                try:
                    self.client.make_bucket(bucket)
                    log.info("bucket created", extra={"bucket": bucket})
                except S3Error as exc:  # another replica created it between the two calls
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

    def check(self, bucket: str) -> None:
        """Readiness probe: raises when the store does not answer or the bucket is missing."""
        if not self.client.bucket_exists(bucket):
            raise RuntimeError(f"bucket {bucket} is missing")

    def put_stream(
        self,
        bucket: str,
        key: str,
        stream: BinaryIO,
        *,
        length: int = -1,
        content_type: str = "application/octet-stream",
    ) -> StoredObject:
        reader = _HashingReader(stream)
        self.client.put_object(
            bucket,
            key,
            reader,  # type: ignore[arg-type]  # a readable stream is all minio needs
            length=length,
            part_size=PART_SIZE if length < 0 else 0,
            content_type=content_type,
        )
        return StoredObject(bucket, key, reader.size, reader.digest.hexdigest(), content_type)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        return self.put_stream(bucket, key, io.BytesIO(data), length=len(data), content_type=content_type)

    def put_content_addressed(
        self,
        bucket: str,
        prefix: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        suffix: str = "",
    ) -> StoredObject:
        """Store under `<prefix>/<sha256><suffix>`. The same bytes twice are stored once."""
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            sha = digest.hexdigest()
            key = f"{prefix.rstrip('/')}/{sha}{suffix}" if prefix else f"{sha}{suffix}"
            if self.exists(bucket, key):
                return StoredObject(bucket, key, size, sha, content_type)
            spool.seek(0)
            stored = self.put_stream(bucket, key, spool, length=size, content_type=content_type)  # type: ignore[arg-type]
        return stored

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in NOT_FOUND_CODES:
                return False
            raise

    def open(self, bucket: str, key: str, chunk_size: int = CHUNK) -> OpenedObject:
        """GET the object now (ObjectNotFound when it is missing); its bytes are read as they are iterated."""
        try:
            resp = self.client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code in NOT_FOUND_CODES:
                raise ObjectNotFound(f"{bucket}/{key}") from exc
            raise

        def chunks() -> Iterator[bytes]:
            try:
                yield from resp.stream(chunk_size)
            finally:
                resp.close()
                resp.release_conn()

        return OpenedObject(
            content_type=resp.headers.get("Content-Type") or "application/octet-stream",
            size=int(resp.headers.get("Content-Length") or -1),
            chunks=chunks(),
        )

    def iter_object(self, bucket: str, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        yield from self.open(bucket, key, chunk_size).chunks

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return b"".join(self.iter_object(bucket, key))

    def download_file(self, bucket: str, key: str, path: str) -> str:
        """Download to `path` and return the sha256 of what was written."""
        digest = hashlib.sha256()
        with open(path, "wb") as fh:
            for chunk in self.iter_object(bucket, key):
                digest.update(chunk)
                fh.write(chunk)
        return digest.hexdigest()

    def presigned_get(self, bucket: str, key: str, expires: timedelta = timedelta(minutes=15)) -> str:
        return self._presigner.presigned_get_object(bucket, key, expires=expires)

    def delete(self, bucket: str, key: str) -> None:
        self.client.remove_object(bucket, key)
