"""Uploads spooled to a temporary file with a size limit: ONNX artifacts, .pt checkpoints, dataset
archives. The file is removed again when the upload is refused."""

from __future__ import annotations

import os
import tempfile

from fastapi import UploadFile

from linesight_core.errors import Problem

CHUNK = 1024 * 1024


def spool_upload(
    upload: UploadFile, limit: int, *, what: str, suffix: str, allow_empty: bool = False
) -> tuple[str, int]:
    """Write the upload to a temporary file; return its path and size. 413 past `limit` bytes, 422 when
    empty (unless allowed). The caller removes the file."""
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Problem(413, f"The {what} is larger than the limit of {limit} bytes.")
                out.write(chunk)
        if size == 0 and not allow_empty:
            raise Problem(422, "The uploaded file is empty.")
    except BaseException:
        os.unlink(path)
        raise
    return path, size
