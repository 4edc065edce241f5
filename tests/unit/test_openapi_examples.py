"""The gateway's OpenAPI document shows a valid example for every /api/ operation's request and answer.

The rules, for every operation under /api/ in `create_app().openapi()`:

- The operation has a `summary`.
- JSON request body: its schema (after `$ref`; for an optional body, the non-null branch) has
  schema-level `examples`. Each one is valid against that schema (jsonschema) and is accepted by the
  route's own pydantic body type, so model validators (mode rules, "one starting point") count as well.
- Form request body (multipart or urlencoded): every file field (`contentMediaType` or `format: binary`)
  has a `description`, and every other field has `examples`, each valid against the field's schema.
- Success answers (2xx except 204) declare their content. A JSON media type (`application/json`,
  `*+json`) has a schema with examples on the schema itself, on the items of an array, or on the items of
  a page: an object whose `items` property is an array of a schema with examples (`Page[T]`,
  `StationPage`, ...). A JSON media type with an empty schema is a binary answer declared wrongly (the
  route needs `response_class`). Other media types (images, zip, JSON Lines) need no example, but the
  answer needs a description of its own, not FastAPI's default "Successful Response".
- Error answers (4xx, 5xx) need nothing.

Separately, every schema-level and property-level example in components/schemas is valid against its
schema, which also catches an example a subclass inherits but no longer satisfies. FastAPI drops every
null from the examples it writes into the document (fastapi/fastapi#5559), so there a required property
that is missing is accepted when its schema allows null. The examples are therefore also checked where
they are written, nulls intact: each pydantic model the /api/ routes take or answer with (and the models
inside them) accepts the examples of its own `json_schema_extra`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from linesight_gateway.main import ROUTER_MODULES, create_app
from linesight_gateway.settings import GatewaySettings

METHODS = ("get", "put", "post", "patch", "delete")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
DEFAULT_DESCRIPTION = "Successful Response"

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # jsonschema checks date-time only with an optional package; ISO-8601 with a zone is what the API sends.
    if isinstance(value, str):
        return datetime.fromisoformat(value).tzinfo is not None
    return True


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    settings = GatewaySettings(admin_api_key="x", log_format="console")
    return create_app(settings).openapi()


@pytest.fixture(scope="module")
def routes() -> dict[tuple[str, str], APIRoute]:
    found: dict[tuple[str, str], APIRoute] = {}
    for module in ROUTER_MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                for method in route.methods:
                    found[(method.lower(), route.path)] = route
    return found


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        if path.startswith("/api/"):
            for method in METHODS:
                if method in item:
                    yield f"{method.upper()} {path}", item[method]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def example_holders(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas whose `examples` count for `schema`: itself, or for an optional schema (`X | None`)
    without examples of its own, each branch that is not null."""
    schema = resolve(spec, schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if schema.get("examples") or branches is None:
        return [schema]
    return [resolve(spec, b) for b in branches if b.get("type") != "null"]


def has_examples(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    return all(bool(s.get("examples")) for s in example_holders(spec, schema))


def answer_has_examples(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = resolve(spec, schema)
    if has_examples(spec, schema):
        return True
    if schema.get("type") == "array" and "items" in schema:
        return has_examples(spec, schema["items"])
    items = schema.get("properties", {}).get("items", {})
    return items.get("type") == "array" and has_examples(spec, items.get("items", {}))


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def is_file(schema: dict[str, Any]) -> bool:
    schema = schema.get("items", schema) if schema.get("type") == "array" else schema
    return "contentMediaType" in schema or schema.get("format") == "binary"


def admits_null(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = resolve(spec, schema)
    kinds = schema.get("type")
    if not schema or kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(admits_null(spec, b) for b in schema.get("anyOf", []) + schema.get("oneOf", []))


def dropped_null(spec: dict[str, Any], error: jsonschema.ValidationError) -> bool:
    """The error is only FastAPI's doing: a required property whose value was null is missing."""
    if error.validator == "required":
        missing = [p for p in error.validator_value if p not in error.instance]
        props = error.schema.get("properties", {})
        return all(admits_null(spec, props.get(p, {})) for p in missing)
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        return any(all(dropped_null(spec, e) for e in errs) for errs in branches.values())
    return False


def errors_against(spec: dict[str, Any], schema: dict[str, Any], example: Any) -> list[str]:
    # The document's components ride along so that `#/components/schemas/...` references resolve.
    root = {**schema, "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(root, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
        for e in validator.iter_errors(example)
        if not dropped_null(spec, e)
    ]


def models_in(annotation: Any, found: set[type[BaseModel]]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in found:
            found.add(annotation)
            for field in annotation.model_fields.values():
                models_in(field.annotation, found)
        return
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            models_in(arg, found)


def request_problems(
    spec: dict[str, Any], name: str, op: dict[str, Any], route: APIRoute | None
) -> list[str]:
    body = op.get("requestBody")
    if body is None:
        return []
    problems = []
    for media_type, content in body["content"].items():
        schema = content.get("schema", {})
        if media_type in FORM_TYPES:
            for field, prop in resolve(spec, schema).get("properties", {}).items():
                if is_file(prop):
                    if not prop.get("description"):
                        problems.append(f"{name}: form file field {field!r} has no description")
                elif not prop.get("examples"):
                    problems.append(f"{name}: form field {field!r} has no examples")
                else:
                    for example in prop["examples"]:
                        for error in errors_against(spec, prop, example):
                            problems.append(f"{name}: example of form field {field!r} invalid: {error}")
        elif is_json(media_type):
            if not has_examples(spec, schema):
                problems.append(f"{name}: JSON request body has no schema-level examples")
                continue
            adapter = (
                TypeAdapter(route.body_field.field_info.annotation) if route and route.body_field else None
            )
            for branch in example_holders(spec, schema):
                for example in branch["examples"]:
                    for error in errors_against(spec, branch, example):
                        problems.append(f"{name}: request example invalid: {error}")
                    if adapter is not None:
                        try:
                            adapter.validate_json(json.dumps(example))
                        except ValidationError as exc:
                            problems.append(f"{name}: request example refused by the route's model: {exc}")
        else:
            problems.append(f"{name}: request body of unexpected media type {media_type}")
    return problems


def answer_problems(spec: dict[str, Any], name: str, op: dict[str, Any]) -> list[str]:
    problems = []
    for code, answer in op["responses"].items():
        if not code.startswith("2") or code == "204":
            continue
        content = answer.get("content")
        if not content:
            problems.append(f"{name}: {code} answer declares no content")
            continue
        for media_type, body in content.items():
            schema = body.get("schema", {})
            if is_json(media_type) and not schema:
                problems.append(f"{name}: {code} is declared as {media_type} without a schema (binary?)")
            elif is_json(media_type) and not answer_has_examples(spec, schema):
                problems.append(f"{name}: {code} {media_type} answer has no examples")
            elif (
                not is_json(media_type)
                and answer.get("description", DEFAULT_DESCRIPTION) == DEFAULT_DESCRIPTION
            ):
                problems.append(f"{name}: {code} {media_type} answer has no description of its own")
    return problems


def test_every_api_operation_has_a_summary(spec):
    missing = [name for name, op in operations(spec) if not op.get("summary")]
    assert not missing, "operations without a summary:\n" + "\n".join(missing)


def test_every_api_request_body_has_valid_examples(spec, routes):
    problems = []
    for name, op in operations(spec):
        method, path = name.split(" ", 1)
        problems += request_problems(spec, name, op, routes.get((method.lower(), path)))
    assert not problems, f"{len(problems)} request body problems:\n" + "\n".join(problems)


def test_every_api_success_answer_has_examples_or_a_media_type(spec):
    problems = []
    for name, op in operations(spec):
        problems += answer_problems(spec, name, op)
    assert not problems, f"{len(problems)} success answer problems:\n" + "\n".join(problems)


def test_every_example_in_the_document_is_valid(spec):
    problems = []
    for schema_name, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples", []):
            for error in errors_against(spec, schema, example):
                problems.append(f"{schema_name}: {error}")
        for field, prop in schema.get("properties", {}).items():
            for example in prop.get("examples", []):
                for error in errors_against(spec, prop, example):
                    problems.append(f"{schema_name}.{field}: {error}")
    assert not problems, f"{len(problems)} invalid examples:\n" + "\n".join(problems)


def test_every_example_is_accepted_by_its_model(routes):
    found: set[type[BaseModel]] = set()
    for route in routes.values():
        models_in(route.response_model, found)
        if route.body_field is not None:
            models_in(route.body_field.field_info.annotation, found)
        for answer in route.responses.values():
            models_in(answer.get("model"), found)
    problems = []
    for model in sorted(found, key=lambda m: m.__name__):
        extra = model.model_config.get("json_schema_extra")
        for n, example in enumerate(extra.get("examples", []) if isinstance(extra, dict) else []):
            try:
                model.model_validate_json(json.dumps(example))
            except ValidationError as exc:
                problems.append(f"{model.__name__} example {n}: {exc}")
    assert len(found) >= 40, f"only {len(found)} models found behind the routes"
    assert not problems, f"{len(problems)} examples refused by their model:\n" + "\n".join(problems)


def test_the_rules_cover_the_whole_api(spec, routes):
    """A route the document does not show, or the other way round, would escape the rules above."""
    documented = {(name.split(" ", 1)[0].lower(), name.split(" ", 1)[1]) for name, _ in operations(spec)}
    assert documented == set(routes)
    assert len(documented) >= 60
