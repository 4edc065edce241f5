"""Write every FastAPI service's /openapi.json to a folder, built from its app factory (no server, no
network: building an app opens no connection), so that a restructuring can be checked by a diff:

    python scripts/openapi_snapshot.py /tmp/openapi-before
    ... change the code ...
    python scripts/openapi_snapshot.py /tmp/openapi-after
    diff -r /tmp/openapi-before /tmp/openapi-after      # empty, or only the intended changes

The training worker and the UI answer /health, /ready and /metrics from the ops server, which has no
OpenAPI document; the four FastAPI services are the gateway, inference, the OCR service and the registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

# service -> (module with create_app, settings class module:name). Settings get a token so the factories
# that refuse an empty one build; nothing is connected to.
SERVICES: dict[str, tuple[str, str]] = {
    "gateway": ("linesight_gateway.main", "linesight_gateway.settings:GatewaySettings"),
    "inference": ("linesight_inference.main", "linesight_inference.settings:InferenceSettings"),
    "ocr-service": ("linesight_ocr.main", "linesight_ocr.settings:OcrSettings"),
    "registry": ("linesight_registry.main", "linesight_registry.settings:RegistrySettings"),
}
SNAPSHOT_SETTINGS: dict[str, Any] = {
    "service_token": "openapi-snapshot",
    "admin_api_key": "openapi-snapshot",
}


def _settings(path: str) -> Any:
    module, _, name = path.partition(":")
    cls = getattr(import_module(module), name)
    known = {k: v for k, v in SNAPSHOT_SETTINGS.items() if k in cls.model_fields}
    return cls(**known)


def openapi_document(service: str) -> dict[str, Any]:
    """The OpenAPI document the service serves at /openapi.json."""
    module, settings_path = SERVICES[service]
    create_app: Callable[..., Any] = import_module(module).create_app
    return create_app(_settings(settings_path)).openapi()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to write <service>.openapi.json into")
    parser.add_argument("--service", choices=sorted(SERVICES), action="append", help="default: all")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for service in args.service or sorted(SERVICES):
        document = openapi_document(service)
        path = args.out / f"{service}.openapi.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{path}: {len(document.get('paths', {}))} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
