"""`Responses`: the conversation's response bookkeeping as a state machine: plain Python, no threads, no I/O.

The service runs one response at a time and refuses a `response.create` over an active one, so the session keeps:
the active response, the `response.create` sent and not yet answered, the queue of those asked for meanwhile, a
request cancelled before its `response.created`, the assistant items of the active response (a barge-in cuts them),
the names of function-call items (beta's `arguments.done` has none), and, per response, its calls whose output has
not gone out yet (the follow-up response waits for all of them and for the response's `response.done`).

Each method takes what happened and answers what to do: whether to send a `response.create` now (and with which
parameters), whether to drop a response's audio, whether a reply is over. The session does the sends and holds
whatever lock it holds; the unit tests (tests/session/test_responses.py) feed events and read the answers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Finished", "Responses"]

P = TypeVar("P")  # a response.create's parameters (rtaudiod.protocol.ResponseParams, or None for the defaults)

#: How many finished response ids are remembered (a second `response.done` for one of them is ignored).
DONE_REMEMBERED = 64


@dataclass(frozen=True)
class Finished(Generic[P]):
    """What a `response.done` means. `duplicate`: a second one for the same response (ignore it). `send`: a
    response.create goes out now, with `params`. `over`: no reply is on its way any more (the wait for one ends)."""

    duplicate: bool = False
    send: bool = False
    params: P | None = None
    over: bool = False


class Responses(Generic[P]):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new connection is a new conversation on the server: nothing of the old one is active there."""
        self.active: str | None = None  # the response the service is running
        self.requested: str | None = None  # event_id of a response.create sent, not yet answered
        self.last_sent: tuple[str, P | None] | None = None  # the last response.create sent: (event_id, params)
        self.queue: deque[P | None] = deque()  # asked for while one was active or requested
        self.cancelled_request: str | None = None  # a request cancelled before its response.created
        self.items: list[str] = []  # assistant message items of the active response
        self.function_names: dict[str, str] = {}  # item_id -> tool name
        self.followups: dict[str, int] = {}  # response_id -> its calls whose output has not gone out yet
        self.done: deque[str] = deque(maxlen=DONE_REMEMBERED)

    # -- asking ------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A response is active, or asked for and not yet created: a response.create now would be refused."""
        return self.active is not None or self.requested is not None

    @property
    def pending(self) -> bool:
        """A response is active, asked for or queued."""
        return self.busy or bool(self.queue)

    def ask(self, params: P | None) -> bool:
        """A response is wanted. True: send a response.create now (then `sent`); False: it waits in the queue."""
        if self.busy:
            self.queue.append(params)
            return False
        return True

    def sent(self, event_id: str, params: P | None = None) -> None:
        self.requested = event_id
        self.last_sent = (event_id, params)

    def send_failed(self) -> None:
        self.requested = None

    def drop_queue(self) -> list[P | None]:
        """The user moved on (a new turn, a barge-in): replies asked for before would play over it. Returns them."""
        dropped = list(self.queue)
        self.queue.clear()
        return dropped

    def refused(self, event_id: str, code: str) -> None:
        """The service refused a response.create of ours. Refused because one was active (a response the service
        started itself, created between our request and its refusal): asked again, with its parameters (an
        announcement stays one), once that one is done."""
        if event_id == self.requested:
            self.requested = None
        if code == "conversation_already_has_active_response":
            last = self.last_sent
            self.queue.appendleft(last[1] if last is not None and last[0] == event_id else None)

    # -- the service's answers ---------------------------------------------------------------------------------
    def created(self, response_id: str | None) -> bool:
        """`response.created`. True: its audio is to be dropped (our request was cancelled before it came)."""
        drop = response_id is not None and self.cancelled_request is not None and \
            self.cancelled_request == self.requested
        self.active = response_id
        self.cancelled_request = None
        self.requested = None
        self.items = []
        return drop

    def item_added(self, response_id: str | None, item_id: str) -> None:
        if response_id == self.active:
            self.items.append(item_id)

    def finished(self, response_id: str | None, status: str | None) -> Finished[P]:
        """`response.done`."""
        if response_id is not None and response_id in self.done:
            return Finished(duplicate=True)
        if response_id == self.active:
            self.active = None
            self.items = []
        if response_id is not None:
            self.done.append(response_id)
            if status == "cancelled":  # interrupted: the user has moved on, no follow-up for its calls
                self.followups.pop(response_id, None)
            if self.followups.get(response_id) == 0:  # every output went out before the response ended
                del self.followups[response_id]
                self.queue.append(None)
        if self.queue and not self.busy:
            return Finished(send=True, params=self.queue.popleft())
        return Finished(over=not self.busy and not self.queue and response_id not in self.followups)

    # -- barge-in ----------------------------------------------------------------------------------------------
    def cancel_request(self) -> str | None:
        """Cancel the response asked for and not yet created (the service takes events in order and cancels it
        before any output; should audio come anyway, `created` says to drop it). Its event_id, or None."""
        self.cancelled_request = self.requested
        return self.requested

    # -- function calls ----------------------------------------------------------------------------------------
    def call_started(self, response_id: str) -> None:
        """A function call of `response_id` (counted before its handler runs: its answer may come at once)."""
        self.followups[response_id] = self.followups.get(response_id, 0) + 1

    def output_sent(self, response_id: str) -> bool:
        """A call's output went out. True: it was the last of a finished response: ask for the follow-up."""
        if response_id not in self.followups:
            return False
        self.followups[response_id] -= 1
        if self.followups[response_id] == 0 and response_id in self.done:
            del self.followups[response_id]
            return True
        return False
