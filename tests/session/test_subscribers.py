"""The session's subscribers (rtaudiod/session/subscribers.py) on their own: any number, removed in any order, each
hearing only its topics; `audio.output` only by name; one that raises does not stop the others."""

from __future__ import annotations

import logging

from rtaudiod.session.subscribers import Subscribers


def test_each_subscriber_hears_its_topics_and_leaves_in_any_order():
    subs = Subscribers()
    heard: dict[str, list[str]] = {"a": [], "b": [], "all": []}
    off_a = subs.subscribe({"state"}, lambda t, d: heard["a"].append(t))
    off_b = subs.subscribe({"vad", "state"}, lambda t, d: heard["b"].append(t))
    off_all = subs.subscribe(None, lambda t, d: heard["all"].append(t))
    subs.emit("state", {})
    subs.emit("vad", {})
    off_a()  # the first to subscribe leaves first: the others stay (a chain of wrappers would have lost them)
    subs.emit("state", {})
    off_all()
    off_all()  # idempotent
    subs.emit("vad", {})
    off_b()
    subs.emit("state", {})
    assert heard == {"a": ["state"], "b": ["state", "vad", "state", "vad"], "all": ["state", "vad", "state"]}
    assert not subs.wants("state")


def test_audio_output_is_only_for_those_who_name_it():
    subs = Subscribers()
    got: list[str] = []
    subs.subscribe(None, lambda t, d: got.append(t))
    assert subs.wants("raw") and not subs.wants("audio.output")
    subs.emit("audio.output", {"pcm": b"\0\0", "item_id": None})
    assert got == []
    off = subs.subscribe({"audio.output"}, lambda t, d: got.append(d["item_id"]))
    assert subs.wants("audio.output")
    subs.emit("audio.output", {"pcm": b"\0\0", "item_id": "item_1"})
    off()
    assert got == ["item_1"] and not subs.wants("audio.output")


def test_a_subscriber_that_raises_is_logged_and_the_others_still_hear(caplog):
    subs = Subscribers()
    got: list[str] = []

    def broken(topic, data):
        raise RuntimeError("a bug in an observer")

    subs.subscribe({"error"}, broken)
    subs.subscribe({"error"}, lambda t, d: got.append(d["code"]))
    with caplog.at_level(logging.ERROR, logger="rtaudiod.session"):
        subs.emit("error", {"code": "x"})
    assert got == ["x"] and "a subscriber of 'error' failed" in caplog.text
