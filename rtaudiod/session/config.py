"""What a session needs: where to connect, the credentials, the settings sent to the service, and the timing of
keepalive, reconnect and renewal. A msgspec Struct, so the daemon's TOML loader validates it (unknown keys refused).

The API key is never shown: `repr()` hides it, and `settings_for_status()` leaves it out.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from rtaudiod.protocol import (DEFAULT_BASE_URL, NoiseReduction, Prompt, Reasoning, SessionConfig, Tool,
                               ToolChoiceFunction, Transcription, Truncation, TurnDetection, function_tool, mcp_tool,
                               prompt_reference, retention_truncation)

from .mcp import read_secret

__all__ = ["LIVE_SETTINGS", "PromptConfig", "RealtimeConfig", "ToolSpec", "TruncationConfig", "TurnDetectionConfig"]

AudioFormatName = Literal["pcm16", "g711_ulaw", "g711_alaw"]
#: The voices the service knows (openai 3.57.0 models, both dialects); a mistyped voice is refused by the service
#: and a refused session.update is dropped whole (instructions and tools with it), so it is checked here first.
#: The settings a running session may change (`Session.update_settings`, SIGHUP, the control API's session.update):
#: the conversation's. Where to connect, the credentials, the audio format and the timing need a new session. The
#: GA models' fields are among them: the service takes a session.update of "any field except voice and model" at
#: any time (openai 3.57's `SessionUpdateEvent`), voice only before the first audio output.
LIVE_SETTINGS = ("instructions", "voice", "turn_detection", "tools", "tool_choice", "temperature", "max_output_tokens",
                 "transcription_model", "transcription_language", "noise_reduction", "output_modality", "speed",
                 "reasoning_effort", "prompt", "truncation")
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
#: GA-only voices: the beta dialect's `voice` enum (openai `types.beta.realtime`) has neither.
GA_ONLY_VOICES = ("marin", "cedar")
#: Server VAD `idle_timeout_ms`: the service refuses a value outside 5000-30000 ms (the GA simulator's rule, ga.py).
IDLE_TIMEOUT_MS = (5000, 30000)
#: Beta server VAD ranges, from the seeds' VAD parameter table (001_9524aca5fab4315f.txt, "语音检测参数表":
#: prefix_padding_ms 0-5000, silence_duration_ms 100-10000); the beta simulator refuses the same.
BETA_VAD_RANGES = {"prefix_padding_ms": (0, 5000), "silence_duration_ms": (100, 10000)}
#: Output speech speed: 1.0 normal, 0.25-1.5 (openai 3.57, both dialects: beta `speed`, GA `audio.output.speed`).
SPEED_RANGE = (0.25, 1.5)
#: Settings only the GA session has (openai 3.57: `RealtimeSessionCreateRequest` has them, the beta
#: `session_update_event.Session` has not): refused with dialect = "beta" rather than dropped.
GA_ONLY_SETTINGS = ("reasoning_effort", "prompt", "truncation")
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]


class TurnDetectionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How turns end. `server_vad` (energy; threshold, padding, silence, idle timeout), `semantic_vad` (eagerness),
    or `none`: push-to-talk, the client commits (`turn_end`). Unset parameters take the service's defaults."""

    type: Literal["server_vad", "semantic_vad", "none"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"turn_detection.threshold must be between 0.0 and 1.0, got {self.threshold}")
        for key in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise ValueError(f"turn_detection.{key} must be >= 0, got {value}")
        lo, hi = IDLE_TIMEOUT_MS
        if self.idle_timeout_ms is not None and not lo <= self.idle_timeout_ms <= hi:
            raise ValueError(f"turn_detection.idle_timeout_ms must be between {lo} and {hi} (the service's range), "
                             f"got {self.idle_timeout_ms}")
        # The GA service refuses the other VAD type's fields (the dialect mapping would drop them silently).
        if self.type == "server_vad" and self.eagerness is not None:
            raise ValueError("turn_detection.eagerness belongs to semantic_vad, not server_vad")
        if self.type == "semantic_vad":
            wrong = [k for k in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
                     if getattr(self, k) is not None]
            if wrong:
                raise ValueError(f"turn_detection.{wrong[0]} belongs to server_vad, not semantic_vad")

    def to_protocol(self) -> TurnDetection | None:
        if self.type == "none":
            return None
        fields = {k: getattr(self, k) for k in ("threshold", "prefix_padding_ms", "silence_duration_ms",
                                                "idle_timeout_ms", "eagerness", "create_response",
                                                "interrupt_response") if getattr(self, k) is not None}
        return TurnDetection(type=self.type, **fields)


class ToolSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A tool. `type = "function"` (the default): a function the model may call, `name`, `description`,
    `parameters` (a JSON Schema object). `type = "mcp"` (GA only): a remote MCP server the service calls itself,
    `server_label`, `server_url` or `connector_id`, `allowed_tools`, `require_approval` (`"always"`, `"never"`, or
    `{never = [names]}` / `{always = [names]}`), `headers` (plain values), `secret_headers` (header -> where its
    value is: a file path, or a systemd credential name) and `authorization` (where the OAuth token is, likewise),
    `server_description`. Secrets are read when the settings are sent (mcp.py), never stored here."""

    type: Literal["function", "mcp"] | None = None  # None: a function
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    server_label: str | None = None
    server_url: str | None = None
    connector_id: str | None = None
    allowed_tools: list[str] | None = None
    require_approval: Literal["always", "never"] | dict[str, list[str]] | None = None
    headers: dict[str, str] | None = None
    secret_headers: dict[str, str] | None = None
    authorization: str | None = None
    server_description: str | None = None

    def __post_init__(self) -> None:
        if self.type == "mcp":
            self._check_mcp()
            return
        wrong = [k for k in _MCP_FIELDS if getattr(self, k)]
        if wrong:
            raise ValueError(f"tools: {wrong[0]} belongs to an MCP tool (type = \"mcp\"), not a function")
        if not self.name or len(self.name) > 64 or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        if self.parameters is None:
            self.parameters = {"type": "object", "properties": {}}

    def _check_mcp(self) -> None:
        label = self.server_label
        if not label or len(label) > 64 or not all(c.isalnum() or c in "_-" for c in label):
            raise ValueError(f"tools: an MCP tool needs a server_label of 1-64 letters, digits, '_' or '-', got "
                             f"{label!r}")
        where = f"tools (mcp {label})"
        if self.name is not None or self.parameters is not None:
            raise ValueError(f"{where}: name and parameters belong to a function; an MCP server's tools come from "
                             "the server (narrow them with allowed_tools)")
        if (self.server_url is None) == (self.connector_id is None):
            raise ValueError(f"{where}: set exactly one of server_url and connector_id")
        if self.server_url is not None and not self.server_url.startswith(("https://", "http://")):
            raise ValueError(f"{where}: server_url must be an http(s) URL, got {self.server_url!r}")
        if isinstance(self.require_approval, dict):
            for key in self.require_approval:
                if key not in ("always", "never"):
                    raise ValueError(f"{where}: require_approval takes 'always' and 'never' lists, not {key!r}")
        for header, source in [*(self.secret_headers or {}).items(), *([("authorization", self.authorization)]
                                                               if self.authorization else [])]:
            try:
                read_secret(source)  # there and readable now; read again at every connect
            except ValueError as e:
                raise ValueError(f"{where}: {header}: {e}") from None

    @property
    def label(self) -> str:
        """How status reports name it."""
        return f"mcp:{self.server_label}" if self.type == "mcp" else str(self.name)

    def to_protocol(self) -> Tool:
        if self.type != "mcp":
            return function_tool(self.name, self.description, self.parameters)
        approval: Any = self.require_approval
        if isinstance(approval, dict):
            approval = {k: {"tool_names": v} for k, v in approval.items()}
        headers = {**(self.headers or {}), **{h: read_secret(src) for h, src in (self.secret_headers or {}).items()}}
        return mcp_tool(self.server_label or "", server_url=self.server_url, connector_id=self.connector_id,
                        allowed_tools=self.allowed_tools, require_approval=approval, headers=headers or None,
                        authorization=read_secret(self.authorization) if self.authorization else None,
                        server_description=self.server_description)


_MCP_FIELDS = ("server_label", "server_url", "connector_id", "allowed_tools", "require_approval", "headers",
               "secret_headers", "authorization", "server_description")


class PromptConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A prompt template stored with the service (GA): its `id` (`pmpt_...`), a `version` (unset: the latest), and
    `variables` substituted into it."""

    id: str
    version: str | None = None
    variables: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("prompt.id must not be empty (the id of a stored prompt, pmpt_...)")

    def to_protocol(self) -> Prompt:
        return prompt_reference(self.id, self.version, self.variables or None)


class TruncationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Truncation by retention ratio (GA): when the conversation outgrows the input limit, keep `retention_ratio`
    (0.0-1.0) of it; `post_instructions_tokens` caps the conversation after the instructions (unset: the model's
    own limit)."""

    retention_ratio: float
    post_instructions_tokens: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.retention_ratio <= 1.0:
            raise ValueError(f"truncation.retention_ratio must be between 0.0 and 1.0, got {self.retention_ratio}")
        if self.post_instructions_tokens is not None and self.post_instructions_tokens < 1:
            raise ValueError(f"truncation.post_instructions_tokens must be >= 1, got {self.post_instructions_tokens}")

    def to_protocol(self) -> Truncation:
        return retention_truncation(self.retention_ratio, self.post_instructions_tokens)


class RealtimeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything a `Session` needs. Credentials: `api_key`, or `token_url` (an endpoint of your own that mints an
    ephemeral key before every connect, so the long-lived key need not live on the device)."""

    # -- where -------------------------------------------------------------------------------------------------
    base_url: str = DEFAULT_BASE_URL
    model: str = "gpt-realtime"
    dialect: Literal["ga", "beta"] = "ga"
    api_key: str | None = None
    token_url: str | None = None
    # -- what the service is told (session.update after every connect) -----------------------------------------
    instructions: str | None = None
    voice: str | None = None
    audio_format: AudioFormatName = "pcm16"  # both directions; must match the audio engine's session_format
    transcription_model: str | None = None  # e.g. "gpt-4o-mini-transcribe"; None: no input transcription
    transcription_language: str | None = None
    noise_reduction: Literal["near_field", "far_field"] | None = None
    turn_detection: TurnDetectionConfig = msgspec.field(default_factory=TurnDetectionConfig)
    tools: list[ToolSpec] = msgspec.field(default_factory=list)
    tool_choice: str | None = None  # "auto", "none", "required", or the name of one tool
    temperature: float | None = None  # beta only (GA has no temperature; dropped there)
    max_output_tokens: int | Literal["inf"] | None = None
    output_modality: Literal["audio", "text"] = "audio"
    speed: float | None = None  # 0.25-1.5, both dialects
    reasoning_effort: ReasoningEffort | None = None  # GA only; reasoning models such as gpt-realtime-2
    prompt: PromptConfig | None = None  # GA only
    truncation: Literal["auto", "disabled"] | TruncationConfig | None = None  # GA only
    # -- timing --------------------------------------------------------------------------------------------------
    connect_timeout_s: float = 10.0
    ping_interval_s: float = 20.0  # ping the server after this long without hearing from it
    ping_timeout_s: float = 10.0  # ...and call the connection dead this long after that
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_attempts: int | None = None  # in a row before giving up; None: never give up (a device)
    stable_after_s: float = 10.0  # a connection that lived this long resets the retry budget
    renew_after_s: float = 55 * 60.0  # renew at a quiet moment after this (the service ends sessions at 60 min)
    history_turns: int = 8  # recent user/assistant turns carried into a new session, as text
    tool_timeout_s: float = 15.0
    min_commit_ms: int = 100  # the service refuses a commit of less audio

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("ws://", "wss://")):
            raise ValueError(f"base_url must start with ws:// or wss://, got {self.base_url!r}")
        if not self.model:
            raise ValueError("model must not be empty (the service refuses a connection without one)")
        if self.voice is not None and self.voice not in VOICES:
            raise ValueError(f"voice {self.voice!r} is not one of {', '.join(VOICES)}")
        if self.dialect == "beta":
            if self.voice in GA_ONLY_VOICES:
                beta = ", ".join(v for v in VOICES if v not in GA_ONLY_VOICES)
                raise ValueError(f"voice {self.voice!r} exists only in the GA dialect: with dialect = 'beta' choose "
                                 f"one of {beta}, or set dialect = 'ga'")
            if self.turn_detection.type == "server_vad":
                for key, (lo, hi) in BETA_VAD_RANGES.items():
                    value = getattr(self.turn_detection, key)
                    if value is not None and not lo <= value <= hi:
                        raise ValueError(f"turn_detection.{key} must be between {lo} and {hi} in the beta dialect "
                                         f"(the service's range), got {value}")
            ga_only = [k for k in GA_ONLY_SETTINGS if getattr(self, k) is not None]
            if ga_only:
                raise ValueError(f"{ga_only[0]} exists only in the GA dialect (the beta session has no such field): "
                                 "remove it, or set dialect = 'ga'")
        lo, hi = SPEED_RANGE
        if self.speed is not None and not lo <= self.speed <= hi:
            raise ValueError(f"speed must be between {lo} and {hi}, got {self.speed}")
        if self.temperature is not None and not 0.6 <= self.temperature <= 1.2:
            raise ValueError(f"temperature must be between 0.6 and 1.2, got {self.temperature}")
        if isinstance(self.max_output_tokens, int) and not 1 <= self.max_output_tokens <= 4096:
            raise ValueError(f"max_output_tokens must be 1..4096 or 'inf', got {self.max_output_tokens}")
        names = [t.name for t in self.tools if t.type != "mcp"]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        labels = [t.server_label for t in self.tools if t.type == "mcp"]
        if len(set(labels)) != len(labels):
            raise ValueError(f"MCP server_labels must be unique, got {labels}")
        if labels and self.dialect == "beta":
            raise ValueError(f"tools: the MCP server {labels[0]!r} needs the GA dialect (the beta session has "
                             "function tools only): remove it, or set dialect = 'ga'")
        if self.tool_choice not in (None, "auto", "none", "required") and self.tool_choice not in names:
            raise ValueError(f"tool_choice {self.tool_choice!r} is not 'auto', 'none', 'required' or a tool name")
        for key in ("connect_timeout_s", "ping_interval_s", "ping_timeout_s", "reconnect_initial_s",
                    "reconnect_max_s", "tool_timeout_s", "renew_after_s"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)}")
        if self.reconnect_attempts is not None and self.reconnect_attempts < 1:
            raise ValueError(f"reconnect_attempts must be >= 1 or None, got {self.reconnect_attempts}")
        if self.history_turns < 0:
            raise ValueError(f"history_turns must be >= 0, got {self.history_turns}")

    def __repr__(self) -> str:  # the key stays out of every repr, log line and traceback
        shown = {f: getattr(self, f) for f in self.__struct_fields__ if f != "api_key"}
        key = "<set>" if self.api_key else None
        return f"RealtimeConfig(api_key={key}, " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    __str__ = __repr__

    @property
    def push_to_talk(self) -> bool:
        return self.turn_detection.type == "none"

    def session_settings(self, extra_tools: list[Tool] | None = None,
                         tools: list[Tool] | None = None) -> SessionConfig:
        """The `session.update` payload: every setting the config names (unset ones keep the service's default).
        `tools`: the tools to send instead of the configured ones (the session's own list, MCP secrets read)."""
        if tools is None:
            tools = [t.to_protocol() for t in self.tools]
        tools = tools + list(extra_tools or [])
        fields: dict[str, Any] = {
            "modalities": ["text", "audio"] if self.output_modality == "audio" else ["text"],
            "input_audio_format": self.audio_format,
            "output_audio_format": self.audio_format,
            "turn_detection": self.turn_detection.to_protocol(),
            "tools": tools,
            "tool_choice": self._tool_choice(),
        }
        if self.instructions is not None:
            fields["instructions"] = self.instructions
        if self.voice is not None:
            fields["voice"] = self.voice
        if self.transcription_model is not None:
            fields["input_audio_transcription"] = Transcription(
                model=self.transcription_model,
                **({"language": self.transcription_language} if self.transcription_language else {}))
        if self.noise_reduction is not None:
            fields["input_audio_noise_reduction"] = NoiseReduction(type=self.noise_reduction)
        if self.temperature is not None:
            fields["temperature"] = self.temperature
        if self.max_output_tokens is not None:
            fields["max_response_output_tokens"] = self.max_output_tokens
        if self.speed is not None:
            fields["speed"] = self.speed
        if self.reasoning_effort is not None:
            fields["reasoning"] = Reasoning(effort=self.reasoning_effort)
        if self.prompt is not None:
            fields["prompt"] = self.prompt.to_protocol()
        if self.truncation is not None:
            fields["truncation"] = (self.truncation if isinstance(self.truncation, str)
                                    else self.truncation.to_protocol())
        return SessionConfig(**fields)

    def _tool_choice(self) -> Any:
        if self.tool_choice in (None, "auto", "none", "required"):
            return self.tool_choice or "auto"
        return ToolChoiceFunction(name=self.tool_choice)

    def settings_for_status(self) -> dict[str, Any]:
        """The settings a status report shows (never the key, never the token endpoint's query string)."""
        return {"base_url": self.base_url, "model": self.model, "dialect": self.dialect,
                "credentials": "api_key" if self.api_key else "token_url" if self.token_url else None,
                "voice": self.voice, "audio_format": self.audio_format,
                "turn_detection": self.turn_detection.type, "tools": [t.label for t in self.tools]}
