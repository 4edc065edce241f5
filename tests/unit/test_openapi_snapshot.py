"""scripts/openapi_snapshot.py writes each FastAPI service's /openapi.json from its app factory, without a
server or a network, and the same code gives the same document: a diff before and after a change shows
only what the change did."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "openapi_snapshot.py"


def load_script():
    spec = importlib.util.spec_from_file_location("openapi_snapshot", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_fastapi_service_is_written_with_its_routes(tmp_path):
    script = load_script()
    assert script.main([str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"{s}.openapi.json" for s in sorted(script.SERVICES)]
    registry = json.loads((tmp_path / "registry.openapi.json").read_text(encoding="utf-8"))
    assert "/v1/models/{name}/versions/from-pt" in registry["paths"]
    assert "post" in registry["paths"]["/v1/training-runs"]
    gateway = json.loads((tmp_path / "gateway.openapi.json").read_text(encoding="utf-8"))
    assert "/api/v1/inspections" in gateway["paths"]


def test_the_same_code_gives_the_same_document(tmp_path):
    script = load_script()
    script.main([str(tmp_path / "a"), "--service", "registry"])
    script.main([str(tmp_path / "b"), "--service", "registry"])
    first = (tmp_path / "a" / "registry.openapi.json").read_text(encoding="utf-8")
    assert first == (tmp_path / "b" / "registry.openapi.json").read_text(encoding="utf-8")
    assert not (tmp_path / "a" / "gateway.openapi.json").exists()
