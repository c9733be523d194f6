"""What a soak saw, its figures and its invariants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.soak.injection import FaultCounts, InvocationFaultCounts
from sandbox.soak.workload import Request


@dataclass
class SoakReport:
    """The figures of a soak and its invariants."""

    command: str
    requests: int
    poison: int
    pollers: int
    seed: int
    fates: Counter[str]  # what the soak arranged, by kind (plain, slow, final, exhausted, poison, ...)
    outcomes: Counter[str]
    lost: list[int]
    double_sessions: int
    poison_at_api: int
    unannounced: int
    queue_left: dict[str, int]
    api_calls: int
    api_faults: dict[str, int]
    scripted_delays: int
    sessions: int
    idempotent_replays: int
    deliveries: int
    handed_back: int
    whole_batches_handed_back: int
    invocations: int
    events: int
    duplicate_announcements: int
    redriven: int
    stamped: int
    redrive_rounds: int
    publisher: FaultCounts
    dead_letter_sends: FaultCounts
    invocation_faults: InvocationFaultCounts
    duration: float
    notes: list[str] = field(default_factory=list)  # phases that did not finish in time

    @property
    def failures(self) -> list[str]:
        """Each broken invariant, in words."""
        broken = list(self.notes)  # a phase that did not finish in time
        if self.lost:
            broken.append(f"{len(self.lost)} requests lost (e.g. #{', #'.join(map(str, self.lost[:5]))})")
        if any(self.queue_left.values()):
            broken.append(f"the request queue is not drained: {self.queue_left}")
        if self.double_sessions:
            broken.append(f"{self.double_sessions} double sessions")
        if self.poison_at_api:
            broken.append(f"{self.poison_at_api} API calls or sessions carry poison or an unknown token")
        if self.unannounced:
            broken.append(f"{self.unannounced} created sessions never announced")
        return broken

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        faults = self.api_faults
        rows = [
            ("requests", f"{self.requests} ({self.requests - self.poison} valid, {self.poison} poison)"),
            ("pollers (Lambda instances)", str(self.pollers)),
            ("API calls", f"{self.api_calls} ({self.idempotent_replays} idempotent replays)"),
            ("retries (records handed back to SQS)", str(self.handed_back)),
            ("deliveries (receives of a record)", f"{self.deliveries} in {self.invocations} invocations"),
            (
                "redriven from the DLQ",
                f"{self.redriven} in {self.redrive_rounds} rounds ({self.stamped} token-stamped)",
            ),
            ("created", str(self.outcomes["created"])),
            ("failed", str(self.outcomes["failed"])),
            ("dead-lettered", str(self.outcomes["dead-lettered"])),
            ("lost (must be 0)", str(len(self.lost))),
            ("double sessions (must be 0)", str(self.double_sessions)),
            ("poison or unknown tokens at the API (must be 0)", str(self.poison_at_api)),
            ("created sessions never announced (must be 0)", str(self.unannounced)),
            ("events published (duplicate announcements)", f"{self.events} ({self.duplicate_announcements})"),
            (
                "faults: API",
                f"{faults.get('ThrottlingException', 0)} throttled, {faults.get('InternalServerException', 0)} 5xx, "
                f"{sum(v for k, v in faults.items() if k not in ('ThrottlingException', 'InternalServerException'))} "
                f"final, {self.scripted_delays} slower than the client timeout",
            ),
            (
                "faults: PutEvents",
                f"{self.publisher.failed_calls} whole calls, {self.publisher.failed_entries} entries, "
                f"{self.publisher.lost_answers} answers lost (of {self.publisher.calls} calls)",
            ),
            (
                "faults: DLQ send",
                f"{self.dead_letter_sends.failed_calls} whole calls, {self.dead_letter_sends.failed_entries} "
                f"messages, {self.dead_letter_sends.lost_answers} answers lost "
                f"(of {self.dead_letter_sends.calls} calls)",
            ),
            (
                "faults: invocations",
                f"{self.invocation_faults.short_deadlines} short deadlines, "
                f"{self.invocation_faults.lost_after_work} lost after their work, "
                f"{self.whole_batches_handed_back} whole batches handed back",
            ),
            ("duration", f"{self.duration:.0f} s"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)


def account_requests(
    requests: Sequence[Request],
    *,
    sessions: Sequence[Mapping[str, Any]],
    calls_by_token: Mapping[str, int],
    events: Sequence[Mapping[str, Any]],
    dead_letters: Sequence[Mapping[str, Any]],
) -> tuple[Counter[str], list[int], int, int, int, int]:
    """(outcomes, lost request indexes, double sessions, poison at the API, unannounced, duplicate announcements)."""
    valid_tokens = {r.token for r in requests if not r.poison}
    sessions_by_token: dict[str, list[Mapping[str, Any]]] = {}
    sessions_by_user: Counter[str] = Counter()
    for session in sessions:
        sessions_by_token.setdefault(str(session["client_token"]), []).append(session)
        sessions_by_user[str(session["request"].get("userId", ""))] += 1
    created_ids: Counter[str] = Counter()
    final_failures: set[str] = set()
    announced_tokens: Counter[str] = Counter()
    for event in events:
        detail = event["detail"]
        if event["detail-type"] == "PaymentSessionCreated":
            created_ids[detail["paymentSession"]["paymentSessionId"]] += 1
            announced_tokens[detail["clientToken"]] += 1
        elif detail["error"]["retryable"] is False:
            final_failures.add(detail["clientToken"])
    dead_bodies = {str(m["Body"]) for m in dead_letters}

    outcomes: Counter[str] = Counter()
    lost: list[int] = []
    for request in requests:
        if request.token in sessions_by_token:
            outcomes["created"] += 1
        elif request.token in final_failures:
            outcomes["failed"] += 1
        elif request.body in dead_bodies:
            outcomes["dead-lettered"] += 1
        else:
            lost.append(request.index)

    double = sum(n - 1 for n in sessions_by_user.values() if n > 1)
    double += sum(len(found) - 1 for found in sessions_by_token.values() if len(found) > 1)
    poison_at_api = sum(1 for token in calls_by_token if token not in valid_tokens)
    poison_at_api += sum(1 for s in sessions if str(s["request"].get("userId", "")).startswith("poison-"))
    unannounced = sum(1 for s in sessions if created_ids[s["payment_session_id"]] == 0)
    duplicates = sum(n - 1 for n in announced_tokens.values() if n > 1)
    return outcomes, lost, double, poison_at_api, unannounced, duplicates
