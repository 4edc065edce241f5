"""Hostile zip archives made byte by byte, fast: a central directory of any number of entries."""

from __future__ import annotations

import struct
import zipfile


def many_entry_zip(entries: int) -> bytes:
    """A zip whose central directory lists `entries` empty files (`0`, `1`, ...): 50-odd bytes each, so a
    few megabytes claim hundreds of thousands of members. Only the directory is written (listing a zip
    reads nothing else); the end record is ZIP64, as an archiver writes it past 65535 entries."""
    directory = bytearray()
    for i in range(entries):
        name = str(i).encode()
        directory += struct.pack(
            zipfile.structCentralDir,  # type: ignore[attr-defined]
            zipfile.stringCentralDir,  # type: ignore[attr-defined]
            20,  # made by
            3,  # unix
            20,  # version needed
            0,
            0,  # flags
            0,  # stored
            0,  # time
            0x21,  # date
            0,  # crc
            0,  # compressed size
            0,  # size
            len(name),
            0,  # extra
            0,  # comment
            0,  # disk
            0,  # internal attributes
            0o100644 << 16,
            0,  # local header offset
        )
        directory += name
    offset = 0
    end64 = struct.pack(
        zipfile.structEndArchive64,  # type: ignore[attr-defined]
        zipfile.stringEndArchive64,  # type: ignore[attr-defined]
        44,
        45,
        45,
        0,
        0,
        entries,
        entries,
        len(directory),
        offset,
    )
    locator = struct.pack(
        zipfile.structEndArchive64Locator,  # type: ignore[attr-defined]
        zipfile.stringEndArchive64Locator,  # type: ignore[attr-defined]
        0,
        offset + len(directory),
        1,
    )
    end = struct.pack(
        zipfile.structEndArchive,  # type: ignore[attr-defined]
        zipfile.stringEndArchive,  # type: ignore[attr-defined]
        0,
        0,
        0xFFFF,
        0xFFFF,
        0xFFFFFFFF,
        0xFFFFFFFF,
        0,
    )
    return bytes(directory + end64 + locator + end)
