"""Strict checks of Realtime events against the `openai` package's models (TESTING.md's recipe), suite-wide.

`validate_client_event(event, dialect)` / `validate_server_event(event, dialect)` with `dialect` "beta"
(`openai.types.beta.realtime`, the seeds) or "ga" (`openai.types.realtime`); both return the parsed model and raise
pydantic's `ValidationError` or `ValueError` (unknown keys). Import it as `from openai_schemas import ...`: `tests/`
is on `sys.path` through the rootdir `tests/conftest.py` (pytest's default `prepend` import mode).

The package's unions ignore the discriminator and allow extra keys, so: a union discriminated on `type`, strict
validation, and a recursive walk of `model_extra` to catch unknown (misspelled) keys.
"""

import functools
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter


def _members(union: Any) -> tuple:
    if typing.get_origin(union) is Annotated:
        union = typing.get_args(union)[0]
    return typing.get_args(union)


@functools.cache
def _adapter(dialect: str, side: str) -> TypeAdapter:
    if dialect == "ga":
        from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    elif dialect == "beta":
        from openai.types.beta.realtime import RealtimeClientEvent, RealtimeServerEvent
    else:
        raise ValueError(dialect)
    union = RealtimeServerEvent if side == "server" else RealtimeClientEvent
    return TypeAdapter(Annotated[Union[_members(union)], Field(discriminator="type")])


def _unknown_keys(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{k}" for k in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += _unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += _unknown_keys(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += _unknown_keys(v, f"{path}.{k}")
    return found


def _validate(event: dict, dialect: str, side: str) -> BaseModel:
    model = _adapter(dialect, side).validate_python(event, strict=True)
    unknown = _unknown_keys(model, event.get("type", "?"))
    if unknown:
        raise ValueError(f"unknown keys in {dialect} {side} event: {', '.join(unknown)}")
    return model


def validate_server_event(event: dict, dialect: str) -> BaseModel:
    return _validate(event, dialect, "server")


def validate_client_event(event: dict, dialect: str) -> BaseModel:
    return _validate(event, dialect, "client")
