"""Strict checks of Realtime events against the `openai` package's models (TESTING.md's recipe), suite-wide.

`validate_client_event(event, dialect)` / `validate_server_event(event, dialect)` with `dialect` "beta"
(`openai.types.beta.realtime`, the seeds) or "ga" (`openai.types.realtime`); both return the parsed model and raise
pydantic's `ValidationError` or `ValueError` (unknown keys). Import it as `from openai_schemas import ...`: `tests/`
is on `sys.path` through the rootdir `tests/conftest.py` (pytest's default `prepend` import mode).

The package's unions ignore the discriminator and allow extra keys, so: a union discriminated on `type`, strict
validation, and a recursive walk of `model_extra` to catch unknown (misspelled) keys.

The live service sends a few keys its own models lack; `SERVICE_EXTRA_KEYS` names them (per dialect, as
`<event type>.<path>`), so a server event may carry them and clients are tested against them. Nothing else is
allowed, and client events get no such allowance.
"""

import functools
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter


def _members(union: Any) -> tuple:
    if typing.get_origin(union) is Annotated:
        union = typing.get_args(union)[0]
    return typing.get_args(union)


#: Keys the service sends that the `openai` models do not declare, each with its source.
SERVICE_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "ga": frozenset({
        # the session object of session.created/.updated: `"type":"realtime","object":"realtime.session",
        # "id":"sess_...", ... "expires_at":1767233035` (GA service capture; the model, RealtimeSessionCreateRequest,
        # has none of the three)
        *(f"{event}.session.{key}" for event in ("session.created", "session.updated")
          for key in ("object", "id", "expires_at")),
        # deltas padded with `obfuscation` (GA service capture: transcript deltas; issue 7 brief: audio deltas)
        "response.output_audio.delta.obfuscation",
        "response.output_audio_transcript.delta.obfuscation",
        "response.output_text.delta.obfuscation",
    }),
    "beta": frozenset({
        # the beta session object: `id`, `object: 'realtime.session'`, `model`, `expires_at`, ...
        # (openai/openai-realtime-api-beta#23, a session.created of the beta service; the model has `id` only)
        *(f"{event}.session.{key}" for event in ("session.created", "session.updated")
          for key in ("object", "expires_at")),
    }),
}


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
    if side == "server":
        unknown = [key for key in unknown if key not in SERVICE_EXTRA_KEYS[dialect]]
    if unknown:
        raise ValueError(f"unknown keys in {dialect} {side} event: {', '.join(unknown)}")
    return model


def validate_server_event(event: dict, dialect: str) -> BaseModel:
    return _validate(event, dialect, "server")


def validate_client_event(event: dict, dialect: str) -> BaseModel:
    return _validate(event, dialect, "client")
