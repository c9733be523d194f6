"""EventBridge ``PutEvents``: up to 10 entries a call, per-entry failures mapped back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from adapters.batch_call import Answers, BatchCall
from adapters.clients import ClientSettings, make_client
from adapters.deadline import DeadlineGuard
from domain.events import EventEntry


class EventBridgePublisher:
    """Implements the domain's ``EventPublisher`` port."""

    def __init__(self, client: Any, guard: DeadlineGuard, *, bus_name: str, source: str) -> None:
        self._client = client
        self._call = BatchCall("PutEvents", failed="PutEvents failed", guard=guard)
        self._bus_name = bus_name
        self._source = source

    @classmethod
    def create(cls, settings: ClientSettings, *, bus_name: str, source: str) -> EventBridgePublisher:
        client = make_client("events", settings)
        guard = DeadlineGuard(settings.read_timeout)
        guard.install(client)
        return cls(client, guard, bus_name=bus_name, source=source)

    def _entry(self, entry: EventEntry) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EventBusName": self._bus_name,
            "Source": self._source,
            "DetailType": entry.detail_type.value,
            "Detail": json.dumps(entry.detail, separators=(",", ":"), ensure_ascii=False),
            "Resources": list(entry.resources),
        }
        if entry.trace_header:
            out["TraceHeader"] = entry.trace_header
        return out

    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        return self._call(entries, self._put_events, deadline=deadline)

    def _put_events(self, entries: Sequence[EventEntry]) -> Answers:
        response = self._client.put_events(Entries=[self._entry(entry) for entry in entries])
        results = response.get("Entries", [])
        if len(results) != len(entries):
            return ["PutEvents answered for a different number of entries"] * len(entries)
        return [
            f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}" if result.get("ErrorCode") else None
            for result in results
        ]
