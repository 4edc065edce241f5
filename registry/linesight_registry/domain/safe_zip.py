"""Zip archives opened safely: the central directory is bounded before it is listed, every member's
name and kind is checked, and reads stop at the declared size, a per-kind cap and the archive's budget.
Problems are collected, so one refusal lists everything that must change."""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from linesight_core.errors import Problem
from linesight_registry.domain.zip_directory import DirectoryRefused, check_central_directory

MAX_ERRORS = 50
# Files that archivers add on their own; never an error, never a warning.
JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)")
PROBLEM_TYPE = "https://linesight.dev/problems/invalid-archive"


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int
    max_total_bytes: int
    image_max_bytes: int
    image_max_pixels: int
    # A Label Studio JSON export inside the archive (streamed, but its bytes still count).
    max_json_bytes: int = 256 * 1024 * 1024


class ArchiveRejected(Problem):
    def __init__(self, errors: list[str], total: int) -> None:
        more = f" ({total - len(errors)} more not listed)" if total > len(errors) else ""
        super().__init__(
            422,
            f"The archive was refused and nothing was stored: {total} problem(s){more}. First: {errors[0]}",
            title="Archive refused",
            type_=PROBLEM_TYPE,
            errors=errors,
            error_count=total,
        )


class Problems:
    """Every problem found, so one round trip tells the user all that must change."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def check(self) -> None:
        if self.total:
            raise ArchiveRejected(self.errors, self.total)


class MemberError(Exception):
    pass


class SafeZip:
    """A zip whose members were all checked: names (no traversal, no absolute paths), kinds (no links,
    devices or encrypted members), count and declared size. Reads count real bytes too, because the
    declared sizes of a crafted zip can lie."""

    def __init__(self, path: str, limits: ArchiveLimits, problems: Problems) -> None:
        self.limits = limits
        self.problems = problems
        self.read_bytes = 0
        self._fh = open(path, "rb")
        try:
            check_central_directory(self._fh, limits.max_members)
            self.zf = zipfile.ZipFile(self._fh)
            infos = self.zf.infolist()
        except (DirectoryRefused, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            self._fh.close()
            problems.add(
                str(exc)
                if isinstance(exc, DirectoryRefused)
                else f"The file is not a readable zip archive ({exc})."
            )
            problems.check()
            raise  # unreachable: check() raised
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_total_bytes:
            problems.add(
                f"The archive unpacks to {declared} bytes; the limit is {limits.max_total_bytes} bytes."
            )
            self.close()
            problems.check()
        self.files: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            why = self._refusal(info)
            if why:
                problems.add(f"{name[:200]!r}: {why}")
            elif name in self.files:
                problems.add(f"{name[:200]!r}: the archive holds two entries with this name.")
            elif not info.is_dir() and not JUNK.search(name):
                self.files[name] = info

    @staticmethod
    def _refusal(info: zipfile.ZipInfo) -> str | None:
        name = info.filename.replace("\\", "/")
        if "\x00" in name or any(ord(c) < 32 for c in name):
            return "the name has control characters."
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            return "absolute paths are not accepted; use paths relative to the archive root."
        if ".." in name.split("/"):
            return "'..' in a path is not accepted (path traversal)."
        if "\\" in info.filename:
            return "backslashes in names are not accepted; use '/' between folders."
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            return "symbolic links are not accepted."
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no file type recorded
            return "only plain files and folders are accepted."
        if info.flag_bits & 0x1:
            return "encrypted members are not accepted."
        return None

    def read(self, name: str, cap: int) -> bytes:
        """The member's bytes, stopping at whichever comes first: its declared size, `cap`, or the
        archive's total budget."""
        out = io.BytesIO()
        with self.open(name, cap) as member:
            while chunk := member.read(1024 * 1024):
                out.write(chunk)
        return out.getvalue()

    def open(self, name: str, cap: int) -> MemberReader:
        """The member as a stream with the same limits as `read`, for parsers that need not hold it whole."""
        info = self.files[name]
        if info.file_size > cap:
            raise MemberError(f"{info.file_size} bytes; the limit for this kind of file is {cap} bytes.")
        try:
            return MemberReader(self, self.zf.open(info), min(info.file_size, cap))
        except _UNPACK_ERRORS as exc:
            raise MemberError(f"it cannot be unpacked ({exc}).") from None

    def close(self) -> None:
        self.zf.close()
        self._fh.close()


_UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError)


class MemberReader:
    """One member's bytes as read: past its declared size, or the archive's budget, reading fails."""

    def __init__(self, archive: SafeZip, fh: IO[bytes], limit: int) -> None:
        self.archive = archive
        self.fh = fh
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        want = self.limit + 1 - self.count  # one byte more than allowed tells a lying header
        if size >= 0:
            want = min(want, size)
        try:
            chunk = self.fh.read(want)
        except _UNPACK_ERRORS as exc:
            raise MemberError(f"it cannot be unpacked ({exc}).") from None
        self.count += len(chunk)
        self.archive.read_bytes += len(chunk)
        if self.count > self.limit:
            raise MemberError("it unpacks to more bytes than its header declares (a zip bomb?).")
        if self.archive.read_bytes > self.archive.limits.max_total_bytes:
            raise MemberError(
                f"the archive unpacks to more than {self.archive.limits.max_total_bytes} bytes."
            )
        return chunk

    def __enter__(self) -> MemberReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
