"""Entries of chosen requests refused in place (``sandbox/aws/refusals.py``), as the demo and the soak script them."""

from __future__ import annotations

from sandbox.aws.refusals import Refusals
from sandbox.demo.round_trip import REFUSED, refusing_events_of
from sandbox.worker_code import EventEntry
from tests.fakes.ports import FakeEventPublisher


def _event(correlation_id: str) -> EventEntry:
    detail = {"clientToken": f"t-{correlation_id}", "correlationId": correlation_id}
    return EventEntry("PaymentSessionCreated", detail, ())


def test_refusals_refuse_a_request_the_scripted_number_of_times_or_until_lifted():
    refusals = Refusals(lambda entry: str(entry))
    refusals.script("twice", 2)
    refusals.script("always", None)

    taken = [refusals.take(entry) for entry in ("twice", "twice", "twice", "always", "always", "other")]
    refusals.lift()

    assert taken == [True, True, False, True, True, False]
    assert not refusals.take("always")
    assert refusals.refused == 4


def test_the_demos_publisher_refuses_a_requests_events_in_place_on_every_call_until_lifted():
    # Given the worker's publisher refusing the events of the request with correlationId "refused"
    inner = FakeEventPublisher()
    publisher = refusing_events_of(inner, {"refused"})
    entries = [_event("refused"), _event("other"), _event("refused")]

    # When the worker publishes its events twice, then once more after the refusals are lifted
    first = publisher.publish(entries, deadline=0.0)
    second = publisher.publish(entries[:1], deadline=0.0)
    publisher.refusals.lift()
    lifted = publisher.publish(entries, deadline=0.0)

    # Then the request's events are refused in their place each time (the real publisher never sees them, nor
    # a call of refused events only), the others are published, and after the lift every event is
    assert (first, second, lifted) == ([REFUSED, None, REFUSED], [REFUSED], [None, None, None])
    assert inner.calls == [[entries[1]], entries]
    assert publisher.refusals.refused == 3
