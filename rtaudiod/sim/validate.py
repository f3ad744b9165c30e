"""A small strict checker for client events, with the service's error codes and wording.

Each rule is a function `(value, path) -> value` that raises `SimError`; `obj()` rejects unknown keys, as the
service does (`Unknown parameter: 'session.turn_detecton'.`).
"""

from collections.abc import Callable
from typing import Any

Rule = Callable[[Any, str], Any]


class SimError(Exception):
    """An error the simulator reports to the client as an `error` event (the connection stays open)."""

    def __init__(self, code: str | None, message: str, param: str | None = None,
                 type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.code, self.message, self.param, self.type = code, message, param, type_


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _bad_type(value: Any, path: str, expected: str) -> SimError:
    return SimError("invalid_type", f"Invalid type for '{path}': expected {expected}, but got {_type_name(value)}.",
                    path)


def string(max_length: int | None = None) -> Rule:
    """A string, at most `max_length` characters when given (the service's `string_above_max_length`, e.g.
    "Invalid 'item.id': string too long. Expected a string with maximum length 32, but got a string with length
    36 instead."; code name as the OpenAI API reports it, e.g. NousResearch/hermes-agent#10788)."""
    def rule(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _bad_type(value, path, "a string")
        if max_length is not None and len(value) > max_length:
            raise SimError("string_above_max_length", f"Invalid '{path}': string too long. Expected a string with "
                           f"maximum length {max_length}, but got a string with length {len(value)} instead.", path)
        return value
    return rule


def boolean() -> Rule:
    def rule(value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise _bad_type(value, path, "a boolean")
        return value
    return rule


def integer(lo: int | None = None, hi: int | None = None) -> Rule:
    def rule(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_type(value, path, "an integer")
        _check_range(value, path, lo, hi)
        return value
    return rule


def number(lo: float | None = None, hi: float | None = None) -> Rule:
    def rule(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad_type(value, path, "a decimal")
        _check_range(value, path, lo, hi)
        return value
    return rule


def _check_range(value: float, path: str, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise SimError("decimal_below_min_value" if isinstance(value, float) else "integer_below_min_value",
                       f"Invalid '{path}': {value} is below the minimum value of {lo}.", path)
    if hi is not None and value > hi:
        raise SimError("decimal_above_max_value" if isinstance(value, float) else "integer_above_max_value",
                       f"Invalid '{path}': {value} is above the maximum value of {hi}.", path)


def enum(*values: Any) -> Rule:
    def rule(value: Any, path: str) -> Any:
        if value not in values or isinstance(value, bool) != any(isinstance(v, bool) for v in values):
            supported = ", ".join(repr(v) for v in values)
            raise SimError("invalid_value", f"Invalid value: {value!r}. Supported values are: {supported}.", path)
        return value
    return rule


def nullable(inner: Rule) -> Rule:
    def rule(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)
    return rule


def tagged(tag: str, variants: dict[str, Rule]) -> Rule:
    """An object whose allowed fields depend on its `tag` field (GA `turn_detection`: `server_vad` and
    `semantic_vad` are two objects with different fields). An unknown tag is `invalid_value`; a field of another
    variant is `unknown_parameter`, as for any other unknown key."""
    def rule(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _bad_type(value, path, "an object")
        prefix = f"{path}." if path else ""
        if tag not in value:
            raise SimError("missing_required_parameter", f"Missing required parameter: '{prefix}{tag}'.",
                           f"{prefix}{tag}")
        enum(*variants)(value[tag], f"{prefix}{tag}")
        return variants[value[tag]](value, path)
    return rule


def either(*rules: Rule) -> Rule:
    """The first rule that accepts the value; the last rule's error otherwise."""
    def rule(value: Any, path: str) -> Any:
        error: SimError | None = None
        for candidate in rules:
            try:
                return candidate(value, path)
            except SimError as exc:
                error = exc
        assert error is not None
        raise error
    return rule


def anything() -> Rule:
    return lambda value, path: value


def array(item: Rule, max_items: int = 1024) -> Rule:
    def rule(value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise _bad_type(value, path, "an array")
        if len(value) > max_items:
            raise SimError("array_above_max_length",
                           f"Invalid '{path}': array too long. Expected at most {max_items} items.", path)
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return rule


def obj(fields: dict[str, Rule], required: tuple[str, ...] = ()) -> Rule:
    """An object with exactly the known `fields` (a subset of them, `required` ones present)."""
    def rule(value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise _bad_type(value, path, "an object")
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in fields:
                raise SimError("unknown_parameter", f"Unknown parameter: '{prefix}{key}'.", f"{prefix}{key}")
        for key in required:
            if key not in value:
                raise SimError("missing_required_parameter", f"Missing required parameter: '{prefix}{key}'.",
                               f"{prefix}{key}")
        return {key: fields[key](v, f"{prefix}{key}") for key, v in value.items()}
    return rule
