"""Every example in the OpenAPI schema is valid against its own schema (ADR-0040).

The HTTP reference (docs/reference/api.md) and Swagger UI show the schema's examples, and
schemathesis' ``examples`` phase sends the request ones: an example that breaks its schema
misleads readers and the fuzz alike. :func:`check_examples` walks a schema and returns one
problem per example that fails, per error example whose ``code`` is not its status's code,
and per request or response body that has no example (the reference would invent one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator

from app.core.errors import ERROR_CODES

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Bodies that must carry an example: what the reference renders as a code block.
EXAMPLE_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _validate(schema: Mapping[str, Any], value: Any, document: Mapping[str, Any]) -> list[str]:
    """Errors of ``value`` against ``schema``; ``$ref``s resolve inside ``document``."""
    rooted = {**schema, "components": document.get("components", {})}
    validator = Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(value)
    ]


def _schema_examples(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """``(where, schema, example)`` for every JSON Schema ``examples`` entry under ``node``."""
    if isinstance(node, Mapping):
        examples = node.get("examples")
        if isinstance(examples, list) and (
            "type" in node or "properties" in node or "$ref" in node
        ):
            for i, example in enumerate(examples):
                yield f"{where}.examples[{i}]", node, example
        for key, child in node.items():
            if key != "examples":
                yield from _schema_examples(child, f"{where}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _schema_examples(child, f"{where}[{i}]")


def _media_examples(media: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found = [("example", media["example"])] if "example" in media else []
    for name, entry in (media.get("examples") or {}).items():
        if isinstance(entry, Mapping) and "value" in entry:
            found.append((f"examples.{name}", entry["value"]))
    return found


def check_examples(document: Mapping[str, Any]) -> list[str]:
    """Problems with the examples of an OpenAPI document (empty: all valid)."""
    problems: list[str] = []
    for where, schema, example in _schema_examples(document.get("components", {}), "components"):
        problems += [f"{where} fails its schema: {e}" for e in _validate(schema, example, document)]
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            op = f"{method.upper()} {path}"
            for i, param in enumerate(operation.get("parameters", [])):
                for where, schema, example in _schema_examples(param, f"{op} parameters[{i}]"):
                    problems += [
                        f"{where} fails its schema: {e}"
                        for e in _validate(schema, example, document)
                    ]
            bodies = [("request body", None, operation.get("requestBody", {}))]
            bodies += [(f"{s} response", s, r) for s, r in operation.get("responses", {}).items()]
            for label, status, body in bodies:
                for media_type, media in body.get("content", {}).items():
                    where = f"{op} {label} ({media_type})"
                    examples = _media_examples(media)
                    if not examples and media_type in EXAMPLE_MEDIA_TYPES:
                        problems.append(
                            f"{where} has no example: give its model "
                            '`json_schema_extra={"examples": [...]}` (see add_examples in '
                            "app/core/openapi.py)"
                        )
                    for name, value in examples:
                        problems += [
                            f"{where} {name} fails its schema: {e}"
                            for e in _validate(media.get("schema", {}), value, document)
                        ]
                        code = (
                            value.get("error", {}).get("code") if isinstance(value, dict) else None
                        )
                        expected = (
                            ERROR_CODES.get(int(status)) if status and status.isdigit() else None
                        )
                        if code is not None and expected and code != expected:
                            problems.append(
                                f"{where} {name} shows code {code!r}; a {status} is {expected!r}"
                            )
    return problems
