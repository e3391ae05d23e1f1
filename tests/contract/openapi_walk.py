"""Reading an OpenAPI schema for the breaking-change guard (ADR-0021): its operations,
and per operation the parameters, request body and 2xx response bodies, with local
``$ref``s and ``allOf``/``anyOf``/``oneOf`` followed. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_DEPTH = 8


def operations(schema: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _resolve(schema: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a concrete node."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
    return node


def _alternatives(schema: Mapping[str, Any], node: Any) -> list[Mapping[str, Any]]:
    """A schema node and the branches of its ``allOf``/``anyOf``/``oneOf``, resolved."""
    node = _resolve(schema, node)
    if not isinstance(node, Mapping):
        return []
    out = [node]
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key, ()):
            out.extend(_alternatives(schema, branch))
    return out


def _properties(schema: Mapping[str, Any], node: Any) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for alt in _alternatives(schema, node):
        props.update(alt.get("properties", {}))
    return props


def required_fields(schema: Mapping[str, Any], node: Any) -> set[str]:
    return {name for alt in _alternatives(schema, node) for name in alt.get("required", ())}


def fields(schema: Mapping[str, Any], node: Any, prefix: str = "", depth: int = 0) -> set[str]:
    """Dotted paths of every property (``items`` of arrays as ``[]``) under ``node``."""
    if depth > _MAX_DEPTH:
        return set()
    found: set[str] = set()
    for name, sub in _properties(schema, node).items():
        path = f"{prefix}{name}"
        found.add(path)
        found |= fields(schema, sub, f"{path}.", depth + 1)
    for alt in _alternatives(schema, node):
        if "items" in alt:
            found |= fields(schema, alt["items"], f"{prefix}[].", depth + 1)
    return found


def params(
    schema: Mapping[str, Any], path_item: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[tuple[str, str], bool]:
    """``{(in, name): required}``; operation-level parameters override path-level ones."""
    out: dict[tuple[str, str], bool] = {}
    for raw in (*path_item.get("parameters", ()), *operation.get("parameters", ())):
        param = _resolve(schema, raw)
        out[(param.get("in", ""), param.get("name", ""))] = bool(param.get("required", False))
    return out


def request_body(
    schema: Mapping[str, Any], operation: Mapping[str, Any]
) -> tuple[bool, dict[str, Any]]:
    """Whether a body is required, and its schema per media type."""
    node = _resolve(schema, operation.get("requestBody", {}))
    media = {name: spec.get("schema", {}) for name, spec in node.get("content", {}).items()}
    return bool(node.get("required", False)), media


def success_bodies(schema: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, response in operation.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        response = _resolve(schema, response)
        for media, spec in response.get("content", {}).items():
            out[f"{status} {media}"] = spec.get("schema", {})
    return out
