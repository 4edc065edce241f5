"""The role matrix of the public API, read from the routes themselves (each endpoint's `require_<role>`
dependency), so the documentation and the test that walks it cannot drift from the code.

`python -m linesight_gateway.roles` prints the matrix as a Markdown table (docs/roles.md)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from linesight_gateway.domain.access import ROLE_ORDER, Role

# The routes anybody may call without a credential: signing in is how a person gets one.
PUBLIC = {("POST", "/api/v1/auth/login")}


def _required_role(route: APIRoute) -> Role | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        name = getattr(dep.call, "__name__", "")
        if name.startswith("require_"):
            return Role(name.removeprefix("require_"))
        stack.extend(dep.dependencies)
    return None


def role_matrix() -> list[tuple[str, str, Role | None]]:
    from linesight_gateway.main import ROUTER_MODULES

    rows = []
    for module in ROUTER_MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods - {"HEAD"}):
                    rows.append((method, route.path, _required_role(route)))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def markdown() -> str:
    lines = [
        "| method | path | " + " | ".join(r.value for r in ROLE_ORDER) + " |",
        "|---|---|" + "---|" * len(ROLE_ORDER),
    ]
    for method, path, needed in role_matrix():
        if not path.startswith("/api/"):
            continue
        if (method, path) in PUBLIC:
            lines.append(f"| {method} | `{path}` | " + " | ".join(["anyone"] * len(ROLE_ORDER)) + " |")
            continue
        cells = ["✓" if needed is None or role.allows(needed) else "—" for role in ROLE_ORDER]
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
