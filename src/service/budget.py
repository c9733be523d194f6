"""How an invocation's remaining time is shared between the API calls and what must follow them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Budget:
    """Shares of the time left, in seconds.

    After the API calls the worker still publishes events, dead-letters and announces, so it keeps back a
    *finish reserve* that scales with the time the invocation has: ``finish_share`` of it, never more than
    ``finish_max``. An invocation with 30 s left keeps 4 s; one with 2.5 s keeps 0.75 s, so that a short
    timeout still creates what it can instead of handing every record back.
    """

    finish_share: float = 0.3
    finish_max: float = 4.0
    min_start: float = 0.1  # a call does not start with less than this left before its deadline

    def api_deadline(self, now: float, deadline: float) -> float:
        """The ``clock()`` value by which the API calls of this batch (or FIFO record) must be done."""
        left = max(0.0, deadline - now)
        return deadline - min(self.finish_max, left * self.finish_share)

    def api_wait(self, api_deadline: float, deadline: float) -> float:
        """How long past ``api_deadline`` to wait for a call's answer: a call bounded by it ends a little after."""
        return api_deadline + (deadline - api_deadline) / 4
