"""The daemon's configuration: a TOML file, then environment overrides, then command-line overrides, validated
with msgspec into one `DaemonConfig`. An error names the key, the value and what is wrong.

    [daemon]   log_level, api_key_file, simulate             (DaemonSettings)
    [audio]    devices, latency, backend, ...                 (rtaudiod.audio.AudioConfig)
    [session]  model, dialect, instructions, voice, tools, ...(rtaudiod.session.RealtimeConfig)
    [control]  socket, group, allowed_uids, allowed_gids      (ControlSettings)
    [listen]   mode, wake_word, preroll_ms, follow_up_s, ...  (rtaudiod.listen.ListenConfig)

Environment: `RTAUDIOD_<TABLE>_<KEY>=value` (`RTAUDIOD_SESSION_VOICE=marin`, `RTAUDIOD_AUDIO_LATENCY=low`).
Command line: `--set table.key=value`, nested keys with dots (`--set session.turn_detection.type=none`). Values
are read as TOML values when they parse (`0.5`, `true`, `["a", "b"]`), else as strings.

The API key, first found: `$CREDENTIALS_DIRECTORY/openai_api_key` (a systemd credential), `daemon.api_key_file`,
`OPENAI_API_KEY`, `session.api_key`. Never printed: `masked()` shows whether and where it was found.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec
import msgspec.inspect

from rtaudiod.audio import AudioConfig
from rtaudiod.errors import RtaudiodError
from rtaudiod.listen import ListenConfig
from rtaudiod.session import RealtimeConfig

__all__ = ["ConfigError", "ControlSettings", "DaemonConfig", "DaemonSettings", "DEFAULT_PATH", "load_config"]

DEFAULT_PATH = "/etc/rtaudiod/rtaudiod.toml"
CREDENTIAL_NAME = "openai_api_key"
TABLES = ("daemon", "audio", "session", "control", "listen")


class ConfigError(RtaudiodError, ValueError):
    """The configuration cannot be used; the message names the key and says what is wrong."""


class DaemonSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    api_key_file: str | None = None  # a file holding the API key (its surrounding whitespace is ignored)
    # "auto": with no key and no token_url, run rtaudiod-sim beside the daemon (a demo that works offline);
    # "never": a missing key is an error; "always": the simulator even with a key.
    simulate: Literal["auto", "never", "always"] = "auto"
    # With the default backend and no sound device at all, run on the null backend (said in one log line).
    audio_fallback: bool = True


class ControlSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    # None: $RUNTIME_DIRECTORY/control.sock under systemd, else /run/rtaudiod/control.sock (root) or
    # $XDG_RUNTIME_DIR/rtaudiod/control.sock
    socket: str | None = None
    group: str | None = None  # the socket's group (mode 0660); None: the daemon's own
    allowed_uids: list[int] = msgspec.field(default_factory=list)
    allowed_gids: list[int] = msgspec.field(default_factory=list)

    def socket_path(self, env: dict[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        if self.socket:
            return self.socket
        if env.get("RUNTIME_DIRECTORY"):
            return os.path.join(env["RUNTIME_DIRECTORY"].split(":")[0], "control.sock")
        if os.geteuid() != 0 and env.get("XDG_RUNTIME_DIR"):
            return os.path.join(env["XDG_RUNTIME_DIR"], "rtaudiod", "control.sock")
        return "/run/rtaudiod/control.sock"


class DaemonConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    daemon: DaemonSettings = msgspec.field(default_factory=DaemonSettings)
    audio: AudioConfig = msgspec.field(default_factory=AudioConfig)
    session: RealtimeConfig = msgspec.field(default_factory=RealtimeConfig)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    listen: ListenConfig = msgspec.field(default_factory=ListenConfig)
    key_source: str | None = None  # where the key came from (set by load_config; shown by masked())

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain values, the key replaced by where it came from."""
        out = msgspec.to_builtins(self)
        out["session"]["api_key"] = f"<set, from {self.key_source}>" if self.session.api_key else None
        return out


def _value(text: str) -> Any:
    """A TOML value when `text` is one (numbers, booleans, arrays, quoted strings), else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _put(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    if keys[0] not in TABLES or len(keys) < 2:
        raise ConfigError(f"{origin}: {dotted!r} is not a setting: expected <table>.<key>, table one of "
                          f"{', '.join(TABLES)}")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {'.'.join(keys[:-1])} is not a table")
        node = child
    node[keys[-1]] = value


def _env_overrides(env: dict[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for name, text in sorted(env.items()):
        if not name.startswith("RTAUDIOD_"):
            continue
        table, _, key = name[len("RTAUDIOD_"):].lower().partition("_")
        if table in TABLES and key:
            out.append((f"{table}.{key}", text, f"environment {name}"))
    return out


def _allowed(path: str) -> tuple[Any, ...]:
    """The values a setting takes when it is a fixed choice (a Literal), from the schema itself."""
    node: Any = msgspec.inspect.type_info(DaemonConfig)
    for part in path.removeprefix("$.").split("."):
        while isinstance(node, msgspec.inspect.UnionType):  # `X | None`: look inside X
            node = next((t for t in node.types if not isinstance(t, msgspec.inspect.NoneType)), None)
        if not isinstance(node, msgspec.inspect.StructType):
            return ()
        node = next((f.type for f in node.fields if f.name == part), None)
    while isinstance(node, msgspec.inspect.UnionType):
        node = next((t for t in node.types if isinstance(t, msgspec.inspect.LiteralType)), None)
    return tuple(node.values) if isinstance(node, msgspec.inspect.LiteralType) else ()


def _lookup(tree: Any, path: str) -> Any:
    """The value at a msgspec error path (`$.session.tools[0].name`), for the error message."""
    node = tree
    for part in path.removeprefix("$").replace("[", ".[").split("."):
        if not part:
            continue
        try:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node


def load_config(path: str | None = None, overrides: list[str] | None = None,
                env: dict[str, str] | None = None) -> DaemonConfig:
    """The validated configuration. `path` None: the default path if it exists, else the defaults."""
    env = dict(os.environ if env is None else env)
    tree: dict[str, Any] = {}
    if path is not None or Path(DEFAULT_PATH).exists():
        file = Path(path or DEFAULT_PATH)
        try:
            tree = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {file} cannot be read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {file} is not valid TOML: {e}") from None
    for dotted, text, origin in _env_overrides(env):
        _put(tree, dotted, _value(text), origin)
    for item in overrides or []:
        dotted, eq, text = item.partition("=")
        if not eq:
            raise ConfigError(f"--set {item!r}: expected table.key=value")
        _put(tree, dotted.strip(), _value(text.strip()), f"--set {dotted.strip()}")
    _one_audio_format(tree)
    key, source = _find_key(tree, env)
    if key is not None:
        tree.setdefault("session", {})["api_key"] = key
    try:
        config = msgspec.convert(tree, DaemonConfig)
    except msgspec.ValidationError as e:
        message = str(e)
        at = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
        shown = _without_key(_lookup(tree, at))
        value = "" if shown is None or at.endswith("api_key") else f" (value: {shown!r})"
        allowed = _allowed(at)
        allowed = f"; allowed: {', '.join(map(repr, allowed))}" if allowed else ""
        raise ConfigError(f"config: {at.removeprefix('$.')}: {message.split(' - at `')[0]}{value}{allowed}") \
            from None
    except (ValueError, TypeError) as e:  # a __post_init__ check: its message names the key
        raise ConfigError(f"config: {e}") from None
    config.key_source = source
    return config


def _without_key(value: Any) -> Any:
    """The value an error shows, with any API key in it hidden (a check on a whole table shows the table)."""
    if isinstance(value, dict):
        return {k: "<hidden>" if k == "api_key" else _without_key(v) for k, v in value.items()}
    return value


def _one_audio_format(tree: dict[str, Any]) -> None:
    """The wire format is set once: `session.audio_format` (or `audio.session_format`); both get it."""
    audio, session = tree.get("audio", {}), tree.get("session", {})
    if not isinstance(audio, dict) or not isinstance(session, dict):
        return  # not tables: the typed conversion says so
    a, s = audio.get("session_format"), session.get("audio_format")
    if a is not None and s is not None and a != s:
        raise ConfigError(f"config: audio.session_format ({a!r}) and session.audio_format ({s!r}) differ: "
                          "set session.audio_format only")
    if a or s:
        tree.setdefault("audio", {})["session_format"] = s or a
        tree.setdefault("session", {})["audio_format"] = s or a


def _find_key(tree: dict[str, Any], env: dict[str, str]) -> tuple[str | None, str | None]:
    credentials = env.get("CREDENTIALS_DIRECTORY")
    candidates: list[tuple[Path, str]] = []
    if credentials:
        candidates.append((Path(credentials) / CREDENTIAL_NAME, f"the systemd credential {CREDENTIAL_NAME}"))
    key_file = tree.get("daemon", {}).get("api_key_file")
    if isinstance(key_file, str):
        candidates.append((Path(key_file), f"daemon.api_key_file ({key_file})"))
    for file, source in candidates:
        try:
            key = file.read_text().strip()
        except FileNotFoundError:
            if source.startswith("daemon."):
                raise ConfigError(f"config: daemon.api_key_file: {key_file} does not exist") from None
            continue
        except OSError as e:
            raise ConfigError(f"config: the API key in {source} cannot be read: {e.strerror}") from None
        if key:
            return key, source
    if env.get("OPENAI_API_KEY", "").strip():
        return env["OPENAI_API_KEY"].strip(), "OPENAI_API_KEY"
    if isinstance(tree.get("session", {}).get("api_key"), str):
        return None, "session.api_key"
    return None, None
