"""The human views of the daemon's `status` for `rtaudiod-cli status`: a summary read at a glance, and the long form.

`summary(status)` is a dozen lines, each about one thing: the state, the link to the service, the listening mode,
the audio devices, their levels, the playout, the latency figures, the counters that are not zero, the control
clients, and the problems (every counter of something going wrong that is not zero, a lost device, the last
error), "none" when there are none. `long_form(status)` prints every key, sections indented, each key once.
`--json` bypasses both: it prints what the daemon returned, whole.

Every field is optional here: an older daemon, or one without a listener, leaves sections out, and the summary
leaves their lines out too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

#: Counters that count something going wrong, by section: shown under "problems" when not zero, with what they mean.
PROBLEMS: dict[str, dict[str, str]] = {
    "counters": {
        "bad_events": "server frames that did not parse",
        "stray_events": "server events for no known response",
        "late_tool_results": "tool results after their timeout",
        "tool_errors": "tool calls answered with an error",
    },  # not dropped_deltas nor commits_skipped: what a barge-in and a short turn are meant to do
    "capture": {"overruns": "microphone ring overruns (the uplink fell behind)",
                "dropped_bytes": "microphone bytes dropped"},
    "playout": {"underruns": "playout underruns (the speaker ran dry mid-reply: its audio came late)",
                "overruns": "playout overruns (a reply longer than the ring)"},
    "device": {"xruns": "device xruns", "callback_errors": "audio callback errors"},
    "control": {"refused": "control clients refused", "disconnected_slow": "slow control clients dropped",
                "errors": "control requests answered with an error", "bad_lines": "bad control lines",
                "framing_errors": "control framing errors", "audio_frames_dropped": "audio frames a client missed",
                "inbound_audio_dropped": "injected audio dropped"},
}
#: Counters the summary shows on their own lines, or that are not counts (the latency figures).
SHOWN_ELSEWHERE = {"reconnects", "renewals", "reply_latency", "playout_latency", "uplink_latency",
                   "unknown_events", "server_errors"}
WIDTH = 120  # a long line (the counters) wraps here, between items
SILENCE_DBFS = -120.0  # the meters' floor: digital silence


def _dict(node: Any, key: str) -> dict[str, Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _ms(value: float) -> str:
    """Milliseconds to the precision that matters: 503, 18.4, 0.12."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


# ============================================================================================================ summary
def summary(status: dict[str, Any]) -> str:
    """The dozen-line view; `long_form` and `--json` have everything."""
    lines = [_headline(status)]
    for label, text in (("link", _link(status)), ("listening", _listening(status)), ("audio", _devices(status)),
                        ("levels", _levels(status)), ("playout", _playout(status)), ("latency", _latency(status)),
                        ("counters", _counters(status)), ("control", _control(status))):
        if text:
            lines += _wrapped(f"{label + ':':<11}", text)
    found = problems(status)
    lines.append(f"{'problems:':<11}{found[0] if found else 'none'}")
    lines += [" " * 11 + problem for problem in found[1:]]  # one a line: each is a thing to look into
    lines.append("(--verbose: every field; --json: all of it, for scripts)")
    return "\n".join(lines)


def _wrapped(head: str, text: str) -> list[str]:
    """`head` + `text`, wrapped after a `;` or `,` only (never inside a device name or a figure)."""
    lines, line = [], head
    for item in re.split(r"(?<=[;,]) ", text):
        if line != head and len(line) + 1 + len(item) > WIDTH:
            lines.append(line)
            line = " " * len(head) + item
        else:
            line += item if line == head else " " + item
    return [*lines, line]


def _headline(status: dict[str, Any]) -> str:
    head = f"rtaudiod: {status.get('state', '?')}"
    if status.get("connected"):
        head += f", connected for {_duration(_num(status.get('connected_for_s')))}"
    elif "connected" in status:
        head += ", not connected"
    if status.get("session_id"):
        head += f" (session {status['session_id']})"
    return head


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes} min {s} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _link(status: dict[str, Any]) -> str:
    settings, counters = _dict(status, "settings"), _dict(status, "counters")
    if not settings:
        return ""
    text = f"{settings.get('dialect', '?')} dialect, {settings.get('model', '?')}"
    url = settings.get("base_url")
    if isinstance(url, str) and url:
        local = (urlsplit(url).hostname or "") in ("127.0.0.1", "::1", "localhost")
        text += f" at {url}" + (" (this machine)" if local else "")
    parts = [text]
    if settings.get("turn_detection"):
        parts.append(f"{settings['turn_detection']} turns")
    if settings.get("voice"):
        parts.append(f"voice {settings['voice']}")
    for key in ("reconnects", "renewals"):
        if _num(counters.get(key)):
            parts.append(_plural(_num(counters[key]), key[:-1]))
    return ", ".join(parts)


def _listening(status: dict[str, Any]) -> str:
    listen, audio = _dict(status, "listen"), _dict(status, "audio")
    parts = []
    if listen:
        mode = str(listen.get("mode", "?"))
        state = f"{mode} ({listen.get('state', '?')}, microphone {'open' if listen.get('open') else 'closed'}"
        if mode == "wake_word":
            state += f", {listen.get('wake_word')}, {_plural(_num(listen.get('wakes')), 'wake')}"
        parts.append(state + ")")
        sent = withheld = 0.0
        for counts in _dict(listen, "microphone").values():
            if isinstance(counts, dict):
                sent += _num(counts.get("sent_s"))
                withheld += _num(counts.get("withheld_s"))
        parts.append(f"microphone sent {sent:.1f} s, withheld {withheld:.1f} s")
    if audio.get("muted"):
        parts.append("MUTED")
    if audio.get("half_duplex"):
        parts.append("half duplex")
    return "; ".join(parts)


def _devices(status: dict[str, Any]) -> str:
    audio = _dict(status, "audio")
    if not audio:
        return ""
    backend = audio.get("backend", "?")
    choice = _dict(audio, "backend_choice")
    head = f"{backend} backend" + (" (no sound card)" if backend == "null" else "")
    if choice.get("auto"):  # audio.backend = "auto": why this one
        head += f" (auto: {choice.get('reason', '?')})"
    parts = [f"{head}, {audio.get('latency_mode', '?')} latency"]
    for label, key in (("microphone", "input"), ("speaker", "output")):
        dev = _dict(audio, key)
        if dev:
            rate, channels = _num(dev.get("rate")), dev.get("channels", "?")
            parts.append(f"{label} \"{dev.get('device', '?')}\" {rate:g} Hz x{channels}"
                         + ("" if dev.get("active", True) else " (stopped)"))
    return "; ".join(parts)


def _levels(status: dict[str, Any]) -> str:
    audio = _dict(status, "audio")
    parts = []
    for label, key in (("microphone", "capture"), ("speaker", "playout")):
        meter = _dict(audio, key)
        if "rms_dbfs" not in meter:
            continue
        rms, peak = _num(meter["rms_dbfs"]), _num(meter.get("peak_dbfs"))
        parts.append(f"{label} silent" if peak <= SILENCE_DBFS else f"{label} {rms:.1f} dBFS rms, {peak:.1f} peak")
    return "; ".join(parts)


def _playout(status: dict[str, Any]) -> str:
    playout = _dict(_dict(status, "audio"), "playout")
    if not playout:
        return ""
    ended, played_s = _num(playout.get("drained")), _num(playout.get("played_ms")) / 1000
    return (f"{'playing' if playout.get('playing') else 'idle'}; {played_s:.2f} s played, "
            f"{ended:g} {'reply' if ended == 1 else 'replies'} played to the end, "
            f"{_plural(_num(playout.get('underruns')), 'underrun')}; "
            f"prebuffer {_num(playout.get('prebuffer_ms')):g} ms")


def _latency(status: dict[str, Any]) -> str:
    counters = _dict(status, "counters")
    parts = []
    for key, label in (("reply_latency", "turn end to reply"), ("playout_latency", "reply to speaker"),
                       ("uplink_latency", "uplink")):
        figures = _dict(counters, key)
        if _num(figures.get("count")):
            parts.append(f"{label} {_ms(_num(figures.get('p50_ms')))} / {_ms(_num(figures.get('p99_ms')))}")
    if not parts:
        return "none yet" if counters else ""
    return "; ".join(parts) + " ms (p50 / p99)"


def _counters(status: dict[str, Any]) -> str:
    counters = _dict(status, "counters")
    wrong = PROBLEMS["counters"]
    shown = [f"{k} {_count(v)}" for k, v in counters.items()
             if k not in SHOWN_ELSEWHERE and k not in wrong and _num(v) and not isinstance(v, (dict, list))]
    return ", ".join(shown) or ("all zero" if counters else "")


def _control(status: dict[str, Any]) -> str:
    control = _dict(status, "control")
    if not control:
        return ""
    clients = [c for c in control.get("connections", []) if isinstance(c, dict)]
    now = _plural(_num(control.get("clients", len(clients))), "client")
    text = f"{now} ({_num(control.get('accepted')):g} since start)"
    topics = sorted({t for c in clients for t in c.get("topics", []) if isinstance(t, str)})
    if topics:
        text += f", subscribed to {', '.join(topics)}"
    return text + f", {_plural(_num(control.get('requests')), 'request')}"


def problems(status: dict[str, Any]) -> list[str]:
    """What is wrong, one short phrase each: empty when all is well."""
    found = []
    if status.get("state") in ("failed", "reconnecting", "stopped"):
        found.append(f"the session is {status['state']}")
    error = status.get("last_error")
    if error:
        found.append(f"last error: {error.get('message', error) if isinstance(error, dict) else error}")
    audio = _dict(status, "audio")
    for kind, why in _dict(audio, "lost_devices").items():
        found.append(f"{kind} device lost ({why})" if why else f"{kind} device lost")
    sections = {"counters": [_dict(status, "counters")], "capture": [_dict(audio, "capture")],
                "playout": [_dict(audio, "playout")], "device": [_dict(audio, "input"), _dict(audio, "output")],
                "control": [_dict(status, "control")]}
    for section, nodes in sections.items():
        for key, meaning in PROBLEMS[section].items():
            count = sum(_num(node.get(key)) for node in nodes)
            if count:
                found.append(f"{count:g} {meaning}")
    for key, meaning in (("server_errors", "errors from the service"), ("unknown_events", "unknown server events")):
        table = _dict(status, "counters").get(key) or status.get(key)
        if isinstance(table, dict) and table:
            found.append(f"{meaning}: " + ", ".join(f"{k} {v}" for k, v in table.items()))
    return found


# ========================================================================================================== long form
def long_form(status: dict[str, Any]) -> str:
    """Every field: a headline, then each section as indented `key: value` lines. A top-level key that a section
    repeats with the same value (`unknown_events` is also under `counters`) is shown once, in the section."""
    settings = _dict(status, "settings")
    head = f"rtaudiod: {status.get('state', '?')}"
    extras = [str(v) for v in (status.get("session_id"), settings.get("dialect"), settings.get("model")) if v]
    if extras:
        head += f" ({', '.join(extras)})"
    shown = {k: v for k, v in status.items()
             if not any(isinstance(s, dict) and s is not v and s.get(k) == v for s in status.values())}
    return "\n".join([head, *_lines(shown, 0)])


def _lines(node: dict[str, Any], depth: int) -> Iterator[str]:
    pad = "  " * depth
    scalars = {k: v for k, v in node.items() if not isinstance(v, dict) and not _records(v)}
    width = max((len(k) for k in scalars), default=0)
    for key, value in scalars.items():
        yield f"{pad}{key + ':':<{width + 1}} {_value(value)}"
    for key, value in node.items():
        if _records(value):  # a list of records (control.connections): one line each
            yield f"{pad}{key}:"
            for record in value:
                yield f"{pad}  - " + ", ".join(f"{k} {_value(v)}" for k, v in record.items())
        elif isinstance(value, dict):
            if not value:
                yield f"{pad}{key}: -"
                continue
            yield f"{pad}{key}:"
            yield from _lines(value, depth + 1)


def _records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(scalar(v) for v in value) if value else "-"
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value)


def scalar(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"=" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)
