"""One response, streamed the way the service streams it.

Order (internal/beta names; the dialect renames): `response.created`; per output item `response.output_item.added`,
the item's conversation event, `response.content_part.added`, audio deltas interleaved with transcript deltas (or
text deltas), `response.audio.done`, `response.audio_transcript.done` (or `response.text.done`),
`response.content_part.done`, (GA `conversation.item.done`,) `response.output_item.done`; then `response.done` with
`usage`, then `rate_limits.updated`. A function call streams `response.function_call_arguments.delta` and `.done`.

Timing, as the service's (GA service capture, issue 7 brief): `response.created` goes out `response_latency` after
the response was asked for, the first delta of output `first_audio_latency` after that same moment (output items and
content parts are announced as soon as the response is created); then audio deltas carry `chunk_ms` of audio each,
paced `pace` times faster than real time (1 = real time), each late by the arrival jitter (jitter.py: small delays
and occasional stalls that release the deltas held in one clump; none at pace 0).

Cancellation (client `response.cancel` or a VAD barge-in) ends every wait at once and stops the stream between two
deltas; the response ends `cancelled` (a cancel during the response latency still gets `response.created`, then
`response.done`), its item `incomplete`, and `audio_sent_ms` keeps how much audio really went out (truncation is
checked against it).
"""

import asyncio
import base64
import logging
import subprocess
from typing import Any

from . import formats, mcp, replies, voice
from .events import new_id

ARGUMENT_CHUNK = 8

log = logging.getLogger("rtaudiod.sim")


class Cancelled(Exception):
    """The response was cancelled while streaming."""


class Failed(Cancelled):
    """The response could not be produced (its voice could not be synthesized): it ends as the service ends one that
    fails on its side, `response.done` with status "failed" and a `server_error`, so a client never waits for it."""


class Responder:
    def __init__(self, session: Any, active: dict[str, Any], overrides: dict[str, Any], started: float) -> None:
        self.s = session
        self.active = active
        opts = session.options
        # loop times of `response.created` and of the first delta of output
        self.created_at = started + opts.response_latency
        self.first_output_at = started + max(opts.response_latency, opts.first_audio_latency)
        self.audio_ms = 0.0  # audio of this response sent so far (for the idle timer)
        settings = {**session.settings, **{k: v for k, v in overrides.items() if k not in ("input", "conversation",
                                                                                               "metadata")}}
        self.settings = settings
        self.in_conversation = overrides.get("conversation", "auto") == "auto"
        # the conversation as it stood when the response was asked for (items added during its latency are not in it)
        self.context = list(overrides.get("input", session.items))
        self.response = {
            "id": active["id"], "status": "in_progress", "status_details": None, "output": [],
            "conversation_id": session.conversation_id if self.in_conversation else None,
            "audio": settings["audio"], "voice": settings["voice"], "output_format": settings["output_format"],
            "temperature": settings["temperature"], "max_output_tokens": settings["max_output_tokens"],
            "usage": None, "metadata": overrides.get("metadata"),
        }
        self.output_tokens = {"text": 0, "audio": 0}

    async def run(self) -> None:
        s = self.s
        try:
            plan = mcp.plan(self.context, s, self.settings["tool_choice"]) or replies.plan(
                self.context, [t for t in self.settings["tools"] if mcp.is_function(t)], self.settings["tool_choice"])
            try:
                await self._pause_until(self.created_at)
                cancelled_early = False
            except Cancelled:
                cancelled_early = True
            await s.send({"type": "response.created", "response": s.dialect.render_response(self.response)})
            try:
                if cancelled_early:
                    raise Cancelled
                if plan["kind"] == "function_call":
                    await self._function_call(plan)
                elif plan["kind"] == "mcp_approval":
                    await mcp.approval_request(self, plan)
                elif plan["kind"] == "mcp_call":
                    await self._message(await mcp.call(self, plan))
                else:
                    await self._message(plan["text"])
                if self.response["status"] == "in_progress":  # (else already "incomplete")
                    self.response["status"] = "completed"
            except Failed as failure:
                self.response["status"] = "failed"
                self.response["status_details"] = {"type": "failed", "error": {"type": "server_error",
                                                                               "code": None, "message": str(failure)}}
            except Cancelled:
                self.response["status"] = "cancelled"
                self.response["status_details"] = {"type": "cancelled", "reason": self.active["cancel_reason"]}
            text_in, audio_in = replies.input_usage(self.context)
            self.response["usage"] = {"text_in": text_in, "audio_in": audio_in,
                                      "text_out": self.output_tokens["text"], "audio_out": self.output_tokens["audio"]}
            s.active = None
            s.response_ended(self.audio_ms)
            await s.send({"type": "response.done", "response": s.dialect.render_response(self.response)})
            await s.send({"type": "rate_limits.updated", "rate_limits": [
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": 40000, "remaining": 40000 - sum(self.output_tokens.values()),
                 "reset_seconds": 0.5}]})
        finally:
            if s.active is self.active:
                s.active = None

    # ---- helpers -------------------------------------------------------------------------------------------
    def _ids(self, item: dict[str, Any], output_index: int) -> dict[str, Any]:
        return {"response_id": self.active["id"], "item_id": item["id"], "output_index": output_index}

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the response is cancelled (then raise `Cancelled`)."""
        if self.active["cancel_reason"] is None and seconds > 0:
            try:
                await asyncio.wait_for(self.s._cancel.wait(), timeout=seconds)
            except asyncio.TimeoutError:
                pass
        if self.active["cancel_reason"] is not None:
            raise Cancelled

    async def _pause_until(self, at: float) -> None:
        """Wait until loop time `at` (no wait if it has passed), or less if the response is cancelled."""
        await self._pause(at - asyncio.get_running_loop().time())

    async def _step(self, i: int) -> None:
        """The wait before delta `i` of a text or arguments stream: the first-output latency, then the text pace."""
        if i == 0:
            await self._pause_until(self.first_output_at)
        else:
            pace = self.s.options.pace
            await self._pause(self.s.options.text_delay_ms / 1000 / pace if pace else 0)

    async def _open_item(self, item: dict[str, Any]) -> int:
        output_index = len(self.response["output"])
        self.response["output"].append(item)
        await self.s.send({"type": "response.output_item.added", "response_id": self.active["id"],
                           "output_index": output_index, "item": self.s.dialect.render_item(item)})
        if self.in_conversation:
            previous = self.s.items[-1]["id"] if self.s.items else None
            await self.s.add_item(item, previous, done=False)
        return output_index

    async def _close_item(self, item: dict[str, Any], output_index: int) -> None:
        # The GA service finishes the conversation item before the response's output item: `conversation.item.done`
        # comes first, then `response.output_item.done` (a public frame-level capture of the GA service,
        # 2026-09-18, issue 19 item 7c). Beta has no `conversation.item.done`.
        if self.in_conversation:
            for event in self.s.dialect.item_done(item):
                await self.s.send(event)
        await self.s.send({"type": "response.output_item.done", "response_id": self.active["id"],
                           "output_index": output_index, "item": self.s.dialect.render_item(item)})

    # ---- function call -------------------------------------------------------------------------------------
    async def _function_call(self, plan: dict[str, Any]) -> None:
        item = {"id": new_id("item"), "type": "function_call", "status": "in_progress", "name": plan["name"],
                "call_id": new_id("call"), "arguments": ""}
        index = await self._open_item(item)
        args = plan["arguments"]
        try:
            for n, start in enumerate(range(0, len(args), ARGUMENT_CHUNK)):
                await self._step(n)
                item["arguments"] += args[start:start + ARGUMENT_CHUNK]
                await self.s.send({"type": "response.function_call_arguments.delta", **self._ids(item, index),
                                   "call_id": item["call_id"], "delta": args[start:start + ARGUMENT_CHUNK]})
        except Cancelled:
            item["status"] = "incomplete"
            await self._close_item(item, index)
            raise
        done = {"type": "response.function_call_arguments.done", **self._ids(item, index),
                "call_id": item["call_id"], "arguments": args}
        if self.s.dialect.name == "ga":
            done["name"] = item["name"]
        await self.s.send(done)
        self.output_tokens["text"] += replies.text_tokens(args)
        item["status"] = "completed"
        await self._close_item(item, index)

    # ---- message -------------------------------------------------------------------------------------------
    async def _message(self, text: str) -> None:
        limit = self.settings["max_output_tokens"]
        if isinstance(limit, int) and replies.text_tokens(text) > limit:
            text = text[: limit * 4]
            self.response["status"] = "incomplete"
            self.response["status_details"] = {"type": "incomplete", "reason": "max_output_tokens"}
        audio = self.settings["audio"]
        item = {"id": new_id("item"), "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        index = await self._open_item(item)
        part = {"type": "output_audio", "transcript": ""} if audio else {"type": "output_text", "text": ""}
        item["content"].append(part)
        wire_part = {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        await self.s.send({"type": "response.content_part.added", **self._ids(item, index), "content_index": 0,
                           "part": wire_part})
        try:
            if audio:
                await self._stream_audio(item, index, part, text)
            else:
                await self._stream_text(item, index, part, text)
            finished = "completed" if self.response["status"] == "in_progress" else "incomplete"
            stopped: Cancelled | None = None
        except Cancelled as e:
            finished, stopped = None, e
        ids = {**self._ids(item, index), "content_index": 0}
        if audio:
            await self.s.send({"type": "response.audio.done", **ids})
            await self.s.send({"type": "response.audio_transcript.done", **ids, "transcript": part["transcript"]})
            wire_part = {"type": "audio", "transcript": part["transcript"]}
        else:
            await self.s.send({"type": "response.text.done", **ids, "text": part["text"]})
            wire_part = {"type": "text", "text": part["text"]}
        await self.s.send({"type": "response.content_part.done", **ids, "part": wire_part})
        item["status"] = finished or "incomplete"
        await self._close_item(item, index)
        if stopped is not None:
            raise stopped

    async def _stream_text(self, item: dict[str, Any], index: int, part: dict[str, Any], text: str) -> None:
        words = text.split(" ")
        for i, word in enumerate(words):
            await self._step(i)
            delta = word if i == 0 else " " + word
            part["text"] += delta
            self.output_tokens["text"] = replies.text_tokens(part["text"])
            await self.s.send({"type": "response.text.delta", **self._ids(item, index), "content_index": 0,
                               "delta": delta})

    async def _stream_audio(self, item: dict[str, Any], index: int, part: dict[str, Any], text: str) -> None:
        opts = self.s.options
        fmt = self.settings["output_format"]
        loop = asyncio.get_running_loop()
        try:
            audio = await loop.run_in_executor(None, voice.synthesize, text, fmt, opts.voice, self.settings["speed"])
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            log.error("the reply's voice could not be synthesized: %s", e)
            raise Failed("The server had an error while processing your request.") from e
        self.s.spoke = True
        width = formats.WIDTHS[fmt]
        chunk = int(formats.bytes_per_ms(fmt) * opts.chunk_ms)
        chunk -= chunk % width
        chunks = [audio[i:i + chunk] for i in range(0, len(audio), chunk)] or [b""]
        words = text.split(" ")
        said = 0
        self.s.audio_sent_ms[item["id"]] = 0.0
        ids = {**self._ids(item, index), "content_index": 0}
        # each delta on its own deadline from the first (due at the first-output latency, or once synthesized if that
        # took longer): nominally chunk_ms / pace apart, late by the arrival jitter
        arrivals = opts.jitter.schedule(opts.chunk_ms / 1000 / opts.pace) if opts.pace else None
        start = max(self.first_output_at, loop.time())
        for n, data in enumerate(chunks):
            await self._pause_until(start + (arrivals.next() if arrivals else 0.0))
            # the transcript runs slightly ahead of the audio, as the service's does
            upto = min(len(words), -(-len(words) * (n + 1) // len(chunks)))
            if upto > said:
                delta = " ".join(words[said:upto])
                delta = delta if said == 0 else " " + delta
                said = upto
                part["transcript"] += delta
                self.output_tokens["text"] = replies.text_tokens(part["transcript"])
                await self.s.send({"type": "response.audio_transcript.delta", **ids, "delta": delta})
                if self.active["cancel_reason"] is not None:  # a cancel that came in while that went out
                    raise Cancelled
            await self.s.send({"type": "response.audio.delta", **ids, "delta": base64.b64encode(data).decode()})
            self.s.audio_sent_ms[item["id"]] += formats.duration_ms(len(data), fmt)
            self.audio_ms += formats.duration_ms(len(data), fmt)
            self.output_tokens["audio"] = int(self.s.audio_sent_ms[item["id"]] / 50)
