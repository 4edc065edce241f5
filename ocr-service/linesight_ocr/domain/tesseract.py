"""The Tesseract engine as installed on this host: its version and the language data it can read."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


class TesseractUnavailable(RuntimeError):
    """Tesseract cannot be run, or lacks the language data the service is configured for."""


@dataclass(frozen=True)
class TesseractInfo:
    version: str
    languages: tuple[str, ...]  # every language whose data is installed


def _run(cmd: str, arg: str, timeout: float) -> str:
    try:
        done = subprocess.run([cmd, arg], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise TesseractUnavailable(
            f"'{cmd}' was not found; install tesseract-ocr or set LINESIGHT_TESSERACT_CMD."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise TesseractUnavailable(f"'{cmd} {arg}' did not finish within {timeout:g} s.") from exc
    if done.returncode != 0:
        raise TesseractUnavailable(
            f"'{cmd} {arg}' exited with {done.returncode}: {(done.stderr or done.stdout).strip()[:200]}"
        )
    # Tesseract 4 printed these to stderr, Tesseract 5 to stdout.
    return done.stdout if done.stdout.strip() else done.stderr


def parse_version(output: str) -> str:
    """'tesseract 5.3.0\\n leptonica-1.82.0 ...' → '5.3.0'."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    name, _, version = first.partition(" ")
    if name.lower() != "tesseract" or not version.strip():
        raise TesseractUnavailable(f"unexpected 'tesseract --version' output: {first[:100]!r}")
    return version.strip()


def parse_languages(output: str) -> tuple[str, ...]:
    """The lines after 'List of available languages in "...":'."""
    lines = [line.strip() for line in output.strip().splitlines()]
    return tuple(line for line in lines[1:] if line)


def inspect_tesseract(cmd: str, timeout: float = 2.0) -> TesseractInfo:
    return TesseractInfo(
        version=parse_version(_run(cmd, "--version", timeout)),
        languages=parse_languages(_run(cmd, "--list-langs", timeout)),
    )


def check_tesseract(cmd: str, languages: Sequence[str], timeout: float = 2.0) -> TesseractInfo:
    """Readiness probe: Tesseract runs and has data for every configured language."""
    info = inspect_tesseract(cmd, timeout)
    missing = [lang for lang in languages if lang not in info.languages]
    if missing:
        raise TesseractUnavailable(
            f"language data missing for {', '.join(missing)} (installed: {', '.join(info.languages)}); "
            "install tesseract-ocr-<lang> or change LINESIGHT_OCR_LANGUAGES."
        )
    return info
