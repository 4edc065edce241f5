"""A zip's central directory walked header by header, before `zipfile` lists it: `ZipFile()` reads the
whole directory into memory and builds one `ZipInfo` per entry, so a small zip of millions of empty
entries would take gigabytes before any count could be checked. Here the walk stops at the limit."""

from __future__ import annotations

import struct
import zipfile
from typing import Any, BinaryIO

# One entry's header: 46 fixed bytes, then its name, extra fields and comment. Real archivers write a
# name of a few hundred bytes at most and extra fields of tens; 64 KiB each is what the format allows.
MAX_ENTRY_HEADER_BYTES = 8 * 1024


# zipfile's format constants and end-record search are not in its type stubs.
ZIP: Any = zipfile


class DirectoryRefused(Exception):
    """The central directory is over a limit; the message says which."""


def check_central_directory(fp: BinaryIO, max_members: int) -> None:
    """Raises DirectoryRefused as soon as the directory holds more than `max_members` entries or an entry
    header longer than MAX_ENTRY_HEADER_BYTES, reading at most that many headers. A damaged directory is
    left for `zipfile` to report."""
    # zipfile's own end-of-directory search (ZIP64 included), so both walks start at the same place and
    # read the same bytes: the count here is the count zipfile would list.
    try:
        endrec = ZIP._EndRecData(fp)
    except OSError:
        return
    if not endrec:
        return
    size_cd = endrec[ZIP._ECD_SIZE]
    offset_cd = endrec[ZIP._ECD_OFFSET]
    concat = endrec[ZIP._ECD_LOCATION] - size_cd - offset_cd
    if endrec[ZIP._ECD_SIGNATURE] == ZIP.stringEndArchive64:
        concat -= ZIP.sizeEndCentDir64 + ZIP.sizeEndCentDir64Locator
    start = offset_cd + concat
    if start < 0:
        return
    fp.seek(start)
    header = struct.Struct(ZIP.structCentralDir)
    total = entries = 0
    while total < size_cd:
        fixed = fp.read(header.size)
        if len(fixed) != header.size or fixed[:4] != ZIP.stringCentralDir:
            return
        fields = header.unpack(fixed)
        variable = (
            fields[ZIP._CD_FILENAME_LENGTH]
            + fields[ZIP._CD_EXTRA_FIELD_LENGTH]
            + fields[ZIP._CD_COMMENT_LENGTH]
        )
        entries += 1
        if entries > max_members:
            raise DirectoryRefused(
                f"The archive has more than {max_members} entries (files and folders); the limit is "
                f"{max_members}."
            )
        if header.size + variable > MAX_ENTRY_HEADER_BYTES:
            raise DirectoryRefused(
                f"Entry {entries} of the archive has a {header.size + variable}-byte header (name, extra "
                f"fields, comment); at most {MAX_ENTRY_HEADER_BYTES} bytes are accepted."
            )
        fp.seek(variable, 1)
        total += header.size + variable
