"""Where and how to connect: the URL and the handshake headers. The API key never appears in a repr or a log."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .dialect import BETA_HEADER, Dialect

__all__ = ["DEFAULT_BASE_URL", "Endpoint", "Headers", "headers", "realtime_url"]

DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"


def realtime_url(model: str, base_url: str = DEFAULT_BASE_URL) -> str:
    """`base_url?model=<model>` (an existing query is kept, a `model` in it replaced)."""
    parts = urlsplit(base_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "model"]
    query.append(("model", model))
    return urlunsplit(parts._replace(query=urlencode(query)))


class Headers(list[tuple[str, str]]):
    """The handshake headers as (name, value) pairs; its repr hides the Authorization value."""

    def __repr__(self) -> str:
        shown = [(k, "<redacted>" if k.lower() == "authorization" else v) for k, v in self]
        return f"Headers({shown!r})"

    __str__ = __repr__

    def lines(self) -> list[str]:
        """`"Name: value"` strings, the form websocket-client's `header=` takes."""
        return [f"{k}: {v}" for k, v in self]


def headers(dialect: Dialect | str, api_key: str) -> Headers:
    """`Authorization: Bearer <key>`, plus `OpenAI-Beta: realtime=v1` in the beta dialect only (the GA service
    refuses a session that sends it). ValueError for an empty key, or one with whitespace or control characters."""
    if not api_key:
        raise ValueError("an API key is required")
    if not (api_key.isascii() and api_key.isprintable()) or " " in api_key:
        # A key file's trailing newline breaks the handshake, a CR LF injects a header; never quote the key.
        raise ValueError(f"the API key ({len(api_key)} characters) holds whitespace, a control character or "
                         "non-ASCII: strip what was read around it")
    out = Headers([("Authorization", f"Bearer {api_key}")])
    if Dialect(dialect) == Dialect.BETA:
        out.append(BETA_HEADER)
    return out


@dataclass(frozen=True)
class Endpoint:
    """A Realtime endpoint: base URL, model, dialect and key (the key is left out of the repr)."""

    model: str
    dialect: Dialect
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "dialect", Dialect(self.dialect))

    @property
    def url(self) -> str:
        return realtime_url(self.model, self.base_url)

    def headers(self) -> Headers:
        return headers(self.dialect, self.api_key)
