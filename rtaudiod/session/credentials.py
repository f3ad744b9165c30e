"""The key for the next connection: the configured API key, or an ephemeral key minted by the user's own endpoint.

`token_url` is POSTed before every connect (an ephemeral key lives about a minute, so it is never reused). The reply
may be the GA shape `{"value": "ek_...", "expires_at": ...}` (`POST /v1/realtime/client_secrets`) or the beta shape
`{"client_secret": {"value": ..., "expires_at": ...}}` (`POST /v1/realtime/sessions`). No error message ever holds
a key or the reply's body (it would hold one).
"""

from __future__ import annotations

import json
from typing import Any

from rtaudiod.errors import SessionError

__all__ = ["mint_ephemeral_key", "resolve_key"]


def resolve_key(api_key: str | None, token_url: str | None, model: str, dialect: str, timeout: float) -> str:
    """The key to connect with; SessionError (code `no_credentials` / `token_failed`) otherwise."""
    if token_url:
        return mint_ephemeral_key(token_url, model, dialect, timeout)
    if api_key:
        return api_key
    raise SessionError("no API key and no token_url: set one of them", code="no_credentials", fatal=True)


def _request_body(model: str, dialect: str) -> bytes:
    # What the service's own endpoints take, so a token_url that forwards to them needs no rewriting.
    body: dict[str, Any] = {"session": {"type": "realtime", "model": model}} if dialect == "ga" else {"model": model}
    return json.dumps(body).encode()


def mint_ephemeral_key(token_url: str, model: str, dialect: str, timeout: float) -> str:
    """POST `token_url` and return the ephemeral key in its reply. A 4xx answer is fatal (the device is not allowed,
    or the endpoint is wrong: retrying cannot help); network trouble and 5xx are worth retrying."""
    # Here, not at the top: urllib.request brings http.client and the email package, 2.4 MB of resident memory a
    # daemon with a plain API key never needs (tests/cli/test_cli_import_weight.py).
    import urllib.error
    import urllib.request

    request = urllib.request.Request(token_url, data=_request_body(model, dialect), method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            raw = reply.read(64 * 1024)
    except urllib.error.HTTPError as e:
        e.close()  # it holds the reply's socket
        fatal = 400 <= e.code < 500 and e.code not in (408, 429)
        raise SessionError(f"token_url answered HTTP {e.code} {e.reason}", code="token_failed",
                           fatal=fatal) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise SessionError(f"token_url could not be reached: {reason}", code="token_failed") from None
    try:
        reply_obj = json.loads(raw)
    except ValueError:
        raise SessionError("token_url's reply is not JSON", code="token_failed") from None
    key = _key_in(reply_obj)
    if not key:
        raise SessionError("token_url's reply holds no key: expected {\"value\": ...} or "
                           "{\"client_secret\": {\"value\": ...}}", code="token_failed", fatal=True)
    return key


def _key_in(reply: Any) -> str | None:
    if not isinstance(reply, dict):
        return None
    if isinstance(reply.get("value"), str):
        return reply["value"]
    secret = reply.get("client_secret")
    if isinstance(secret, dict) and isinstance(secret.get("value"), str):
        return secret["value"]
    return None
