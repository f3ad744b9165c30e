"""`[listen]`: when the microphone reaches the service (see rtaudiod.listen)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = ["BUILTIN_WAKE_WORDS", "MODES", "ListenConfig"]

MODES = ("always", "wake_word", "push_to_talk")
#: The models inside pymicro-wakeword's wheel.
BUILTIN_WAKE_WORDS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")


class ListenConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # "always": the microphone streams and the service's VAD finds the turns; "wake_word": nothing leaves the
    # device until the wake word is heard here; "push_to_talk": only between turn.start and turn.end.
    mode: Literal["always", "wake_word", "push_to_talk"] = "always"
    # A built-in microWakeWord model (okay_nabu, hey_jarvis, alexa, hey_mycroft) or the path of a model's .json.
    wake_word: str = "okay_nabu"
    # The detection threshold (mean probability over the model's window); None: the model's own cutoff.
    threshold: Annotated[float, Meta(gt=0, lt=1)] | None = None
    # Audio from just before the detection sent with the turn, so the question's first syllable is not lost.
    preroll_ms: Annotated[int, Meta(ge=0, le=2000)] = 300
    # After a reply the microphone stays open this long for an answer without the wake word (and after the wake
    # word, this long for the question to begin); then it is gated again.
    follow_up_s: Annotated[float, Meta(ge=0, le=120)] = 6.0
    # A short chime through the speaker when the wake word is heard.
    chime: bool = True
