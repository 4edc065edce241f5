"""docs/roles.md is the role matrix the code enforces, and every public endpoint names a role."""

from pathlib import Path

from linesight_gateway.roles import PUBLIC, markdown, role_matrix

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def test_every_public_endpoint_requires_a_role():
    unguarded = [
        (m, p)
        for m, p, role in role_matrix()
        if p.startswith("/api/") and role is None and (m, p) not in PUBLIC
    ]
    assert not unguarded, f"public endpoints without a role check: {unguarded}"


def test_docs_match_the_code():
    table = markdown()
    assert table in DOC.read_text(), (
        "docs/roles.md is stale: regenerate it with python -m linesight_gateway.roles"
    )
