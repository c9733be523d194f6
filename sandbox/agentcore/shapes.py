"""Validation of decoded JSON against a shape of botocore's model, as an AWS rest-json service validates."""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

INTEGER_BITS: Final = {"byte": 8, "short": 16, "integer": 32, "long": 64}
FLOAT_TYPES: Final = frozenset({"float", "double"})
_CONTAINERS: Final[Mapping[str, type]] = {"structure": dict, "list": list, "map": dict}


@dataclass(frozen=True)
class FieldViolation:
    """One broken constraint: the member's dotted path and what it failed to satisfy."""

    name: str
    message: str


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def pattern_matches(pattern: str, value: str) -> bool:
    """Whether ``value`` satisfies a model pattern (AWS model patterns must match the whole value)."""
    return _compiled(pattern).fullmatch(value) is not None


def validate_value(shape: Shape, value: Any, path: str = "") -> list[FieldViolation]:
    """Every constraint of ``shape`` (recursively) that the decoded JSON ``value`` breaks."""
    violations: list[FieldViolation] = []
    _check(shape, value, path, violations)
    return violations


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: Any, path: str, out: list[FieldViolation]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    name = path or shape.name
    container = _CONTAINERS.get(kind)
    if container is not None and not isinstance(value, container):
        out.append(FieldViolation(name, f"Member must be of type {kind}"))
        return
    if isinstance(shape, StructureShape):
        for member in shape.required_members:
            if value.get(member) is None:
                out.append(FieldViolation(_join(path, member), "Member must not be null"))
        for member, member_shape in shape.members.items():
            if value.get(member) is not None:
                _check(member_shape, value[member], _join(path, member), out)
    elif isinstance(shape, ListShape):
        _check_bounds(meta, len(value), name, "length", out)
        _check_items(shape.member, ((f"{name}[{index}]", item) for index, item in enumerate(value)), out)
    elif isinstance(shape, MapShape):
        _check_bounds(meta, len(value), name, "length", out)
        for key, item in value.items():
            _check(shape.key, key, f"{name}[{key}]", out)
            _check_items(shape.value, [(f"{name}[{key}]", item)], out)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(FieldViolation(name, "Member must be of type string"))
            return
        _check_bounds(meta, len(value), name, "length", out)
        pattern = meta.get("pattern")
        if pattern is not None and not pattern_matches(pattern, value):
            out.append(FieldViolation(name, f"Member must satisfy regular expression pattern: {pattern}"))
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum and value not in enum:
            out.append(FieldViolation(name, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    elif kind in INTEGER_BITS:
        bits = INTEGER_BITS[kind]
        if not isinstance(value, int) or isinstance(value, bool) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            out.append(FieldViolation(name, f"Member must be of type {kind}"))
            return
        _check_bounds(meta, value, name, "value", out)
    elif kind in FLOAT_TYPES:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            out.append(FieldViolation(name, f"Member must be of type {kind}"))
            return
        _check_bounds(meta, value, name, "value", out)
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(FieldViolation(name, "Member must be of type boolean"))
    elif kind == "timestamp":
        if not _is_timestamp(value):
            out.append(FieldViolation(name, "Member must be of type timestamp"))
    elif kind == "blob" and not _is_base64(value):
        out.append(FieldViolation(name, "Member must be of type blob (base64)"))
    # "document" and any type the model adds later: accepted as given.


def _check_items(shape: Shape, items: Iterable[tuple[str, Any]], out: list[FieldViolation]) -> None:
    """The items of a list or the values of a map: each present, each valid for ``shape``."""
    for label, item in items:
        if item is None:
            out.append(FieldViolation(label, "Member must not be null"))
        else:
            _check(shape, item, label, out)


def _check_bounds(meta: Mapping[str, Any], size: float, name: str, what: str, out: list[FieldViolation]) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and size < low:
        out.append(FieldViolation(name, f"Member must have {what} greater than or equal to {low}"))
    if high is not None and size > high:
        out.append(FieldViolation(name, f"Member must have {what} less than or equal to {high}"))


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def known_members(shape: Shape, value: Any) -> Any:
    """``value`` without the members ``shape`` does not define, nor ``null`` members, at any depth."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            name: known_members(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [known_members(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: known_members(shape.value, item) for key, item in value.items()}
    return value


def scalar_from_text(shape: Shape, text: str) -> Any:
    """Convert a header, query or path value to the member's type (left as text when it does not convert)."""
    kind = shape.type_name
    if kind in INTEGER_BITS and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if kind in FLOAT_TYPES:
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text
