"""URL and handshake headers; the API key never shows in a repr."""

import logging

import pytest

import rtaudiod.protocol as protocol
from rtaudiod.protocol import dialect
from rtaudiod.protocol import DEFAULT_BASE_URL, Endpoint, Headers, headers, realtime_url

KEY = "sk-live-SECRET-0123456789"


def test_realtime_url():
    assert DEFAULT_BASE_URL == "wss://api.openai.com/v1/realtime"
    assert realtime_url("gpt-realtime") == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert realtime_url("gpt-4o-realtime-preview-2024-12-17", "ws://127.0.0.1:9/v1/realtime") == \
        "ws://127.0.0.1:9/v1/realtime?model=gpt-4o-realtime-preview-2024-12-17"
    assert realtime_url("a b&c", "wss://proxy/v1/realtime?region=eu&model=old") == \
        "wss://proxy/v1/realtime?region=eu&model=a+b%26c"


def test_headers_per_dialect():
    assert list(headers("beta", KEY)) == [("Authorization", f"Bearer {KEY}"), ("OpenAI-Beta", "realtime=v1")]
    assert list(headers("ga", KEY)) == [("Authorization", f"Bearer {KEY}")]
    assert headers("beta", KEY).lines() == [f"Authorization: Bearer {KEY}", "OpenAI-Beta: realtime=v1"]
    with pytest.raises(ValueError):
        headers("ga", "")
    with pytest.raises(ValueError):
        headers("v2", KEY)


@pytest.mark.parametrize("key", [KEY + "\n", KEY + "\r\nX-Injected: 1", " " + KEY, "sk live", KEY + "\x00",
                                 KEY + "\u00e9"])
def test_a_key_with_whitespace_or_control_characters_is_refused_without_showing_it(key):
    """A key file's trailing newline would break the handshake ("connection lost"), a CR LF would inject a
    header: a clear ValueError instead, which does not quote the key."""
    with pytest.raises(ValueError, match="API key") as info:
        headers("ga", key)
    assert KEY not in str(info.value) and "sk live" not in str(info.value)
    with pytest.raises(ValueError, match="API key"):
        Endpoint("gpt-realtime", "beta", key).headers()


def test_the_key_is_never_in_a_repr(caplog):
    h = headers("beta", KEY)
    ep = Endpoint("gpt-realtime", "ga", KEY, base_url="ws://127.0.0.1:1/v1/realtime")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("rtaudiod.test").info("connecting %s %r %s %r", h, h, ep, ep)
    shown = " ".join([repr(h), str(h), repr(ep), str(ep), f"{h}", f"{ep!r}", caplog.text])
    assert KEY not in shown and "<redacted>" in repr(h)
    assert isinstance(h, Headers) and isinstance(h, list)
    assert ep.url == "ws://127.0.0.1:1/v1/realtime?model=gpt-realtime"
    assert list(ep.headers()) == [("Authorization", f"Bearer {KEY}")] and ep.dialect == "ga"


def test_public_api_is_documented():
    doc = protocol.__doc__
    for name in ("decode_server_event", "encode_client_event", "Codec", "session_update", "input_audio_append",
                 "user_text", "assistant_text", "user_audio", "function_call_output", "item_truncate", "item_delete",
                 "response_create", "response_cancel", "headers", "realtime_url", "Endpoint", "ProtocolError",
                 "UnknownEvent", "SessionConfig", "ResponseParams"):
        assert name in doc and name in protocol.__all__, name
    assert len(protocol.__all__) == len(set(protocol.__all__))
    assert all(hasattr(protocol, name) for name in protocol.__all__)


def test_a_misspelt_dialect_is_an_error_not_a_default():
    with pytest.raises(ValueError):
        protocol.encode_client_event(protocol.input_audio_commit(), "GA")
    with pytest.raises(ValueError):
        protocol.decode_server_event(b'{"type":"input_audio_buffer.cleared"}', "v1")
    with pytest.raises(ValueError):
        protocol.Codec("realtime")
    with pytest.raises(ValueError):  # was the beta name, silently
        dialect.server_name_to_wire("response.audio.delta", "GA")
    with pytest.raises(ValueError):
        protocol.headers("Beta", "sk-test")
