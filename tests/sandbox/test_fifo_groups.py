"""The event source's FIFO bookkeeping (sandbox.lambda_.fifo_groups): groups in flight, held and handed-back messages.

Against moto the hold never fires (moto keeps a group in flight to one receive, tests/e2e/test_event_source.py);
these tests give the bookkeeping the receives SQS never answers, to show it keeps the rule anyway.
"""

from __future__ import annotations

from typing import Any

from sandbox.lambda_.fifo_groups import HIDE_CUSHION, FifoGroups


def message(message_id: str, group: str | None) -> dict[str, Any]:
    attributes = {"MessageGroupId": group} if group is not None else {}
    return {"MessageId": message_id, "ReceiptHandle": f"receipt-{message_id}", "Attributes": attributes}


def test_a_message_of_a_group_running_elsewhere_is_held_and_waits_for_its_visibility():
    # Given g1's first message running in one invocation
    groups = FifoGroups(visibility_timeout=10)
    run, held = groups.admit([message("a1", "g1"), message("b1", "g2")], received_at=100.0)
    assert ([m["MessageId"] for m in run], held) == (["a1", "b1"], [])

    # When a receive returns g1's next message and g3's first
    run, held = groups.admit([message("a2", "g1"), message("c1", "g3")], received_at=101.0)

    # Then g1's is held, not run, and waits until its visibility timeout ends; g3's runs
    assert [m["MessageId"] for m in run] == ["c1"]
    assert [m["MessageId"] for m in held] == ["a2"]
    assert groups.running_groups == {"g1", "g2", "g3"}
    groups.hidden(groups.waiting_of(["a2"]))
    assert groups.due(now=110.0, margin=0.5) == []
    assert [(w.message_id, w.receipt_handle, w.visible_at) for w in groups.due(now=110.5, margin=0.5)] == [
        ("a2", "receipt-a2", 111.0)
    ]


def test_settling_frees_the_groups_and_keeps_the_handed_back_messages_waiting_oldest_first():
    # Given one invocation with two groups, one of them handed back after a retry
    groups = FifoGroups(visibility_timeout=10)
    batch = [message("a1", "g1"), message("a2", "g1"), message("b1", "g2")]
    groups.admit(batch, received_at=100.0)

    # When it settles with g1's records handed back, and they are hidden in the queue
    waiting = groups.settle(batch, {"a1", "a2"}, received_at=100.0)
    groups.hidden(waiting)

    # Then no group runs, g1's next receive is not held, and g1's records wait, oldest first
    assert groups.running_groups == frozenset()
    assert groups.waiting == 2
    assert [w.message_id for w in groups.due(now=109.6, margin=0.5)] == ["a1", "a2"]
    assert groups.waiting == 0


def test_a_message_received_again_stops_waiting_and_standard_messages_are_never_held():
    # Given a handed-back message waiting, and messages without a group (a standard queue)
    groups = FifoGroups(visibility_timeout=10)
    groups.admit([message("a1", "g1")], received_at=100.0)
    groups.settle([message("a1", "g1")], {"a1"}, received_at=100.0)

    # When it is received again along with messages of no group
    run, held = groups.admit([message("a1", "g1"), message("x", None), message("y", None)], received_at=111.0)

    # Then all run and nothing waits any more
    assert ([m["MessageId"] for m in run], held, groups.waiting) == (["a1", "x", "y"], [], 0)


def test_settling_returns_the_handed_back_messages_to_hide_until_a_cushion_after_their_visibility():
    # Given an invocation of two records received at 100 s with a 10 s visibility timeout
    groups = FifoGroups(visibility_timeout=10)
    batch = [message("a1", "g1"), message("a2", "g1")]
    groups.admit(batch, received_at=100.0)

    # When it settles at 103 s with a2 handed back
    back = groups.settle(batch, {"a2"}, received_at=100.0)

    # Then a2 is to stay hidden 7 s (SQS's rest of its timeout) plus the cushion, after which it would return
    # by itself; the event source releases it first, so moto never times it out
    assert [(w.message_id, w.receipt_handle, w.visible_at) for w in back] == [("a2", "receipt-a2", 110.0)]
    assert back[0].hide_seconds(now=103.0) == 7 + HIDE_CUSHION
    assert back[0].hide_seconds(now=103.0, cushion=0.0) == 7
    assert back[0].hide_seconds(now=115.5, cushion=0.0) == 0


def test_held_messages_can_be_looked_up_to_hide_and_stopping_takes_every_waiting_message():
    # Given g1 running, a later receive of g1's next message (held), and g2's handed back
    groups = FifoGroups(visibility_timeout=10)
    groups.admit([message("a1", "g1"), message("b1", "g2")], received_at=100.0)
    groups.settle([message("b1", "g2")], {"b1"}, received_at=100.0)
    _run, held = groups.admit([message("a2", "g1")], received_at=101.0)

    # When the event source looks up the held one, then stops
    looked_up = groups.waiting_of(m["MessageId"] for m in held)
    taken = groups.take_waiting()

    # Then the held one is found with its own receipt, and stopping takes both, soonest visible first
    assert [(w.message_id, w.visible_at) for w in looked_up] == [("a2", 111.0)]
    assert [w.message_id for w in taken] == ["b1", "a2"]
    assert groups.waiting == 0


def test_a_handed_back_message_is_not_released_before_it_is_hidden():
    # Given a message handed back whose hide in the queue has not been done yet
    groups = FifoGroups(visibility_timeout=1)
    groups.admit([message("a1", "g1")], received_at=100.0)
    waiting = groups.settle([message("a1", "g1")], {"a1"}, received_at=100.0)

    # Then no receive may release it yet (the hide, coming after, would undo the release)
    assert groups.due(now=200.0, margin=0.0) == []
    # And once it is hidden, it is due
    groups.hidden(waiting)
    assert [w.message_id for w in groups.due(now=200.0, margin=0.0)] == ["a1"]
