"""Print the third-party dependencies of the given pyproject.toml files, one per line, for
`pip install -c constraints.txt -r -` in deploy/service.Dockerfile (the linesight-* packages are installed
afterwards from the copied code, with --no-deps).

    python pyproject_deps.py services/pyproject.toml gateway/pyproject.toml
    python pyproject_deps.py --replace onnxruntime=onnxruntime-gpu[cuda,cudnn] inference/pyproject.toml
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

LOCAL_PREFIX = "linesight-"
# PEP 508: the distribution name is the leading run of letters, digits, ".", "_" and "-".
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical_name(requirement: str) -> str:
    """The PEP 503 normalised distribution name of a requirement string."""
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a PEP 508 requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def dependencies(pyproject: Path) -> list[str]:
    """The `[project] dependencies` of one pyproject.toml."""
    with pyproject.open("rb") as fh:
        data = tomllib.load(fh)
    try:
        deps = data["project"]["dependencies"]
    except KeyError as exc:
        raise ValueError(f"{pyproject}: no [project] dependencies") from exc
    return list(deps)


def third_party(pyprojects: list[Path], replacements: dict[str, str]) -> list[str]:
    """Dependencies of every file, linesight-* left out, replacements applied, duplicates dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for pyproject in pyprojects:
        for requirement in dependencies(pyproject):
            name = canonical_name(requirement)
            if name.startswith(LOCAL_PREFIX):
                continue
            if name in replacements:
                requirement = replacements[name]
            if requirement not in seen:
                seen.add(requirement)
                out.append(requirement)
    return out


def _replacement(text: str) -> tuple[str, str]:
    name, sep, requirement = text.partition("=")
    if not sep or not name.strip() or not requirement.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=REQUIREMENT, got {text!r}")
    return canonical_name(name), requirement.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pyprojects", nargs="+", type=Path, help="pyproject.toml files")
    parser.add_argument(
        "--replace",
        action="append",
        default=[],
        type=_replacement,
        metavar="NAME=REQUIREMENT",
        help="install REQUIREMENT instead of the dependency NAME (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        requirements = third_party(args.pyprojects, dict(args.replace))
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"pyproject_deps: {exc}", file=sys.stderr)
        return 1
    for requirement in requirements:
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
