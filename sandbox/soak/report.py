"""What a soak saw, its figures and its invariants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sandbox.demo.fair_tenants import NOISY as NOISY_TENANT
from sandbox.soak.injection import FaultCounts, InvocationFaultCounts
from sandbox.soak.workload import FINAL_CODES, TRANSIENT_CODES, Fate, Request

API_ERROR_CODES: Final = frozenset((*FINAL_CODES, *TRANSIENT_CODES))
# Causes for which the worker did not know whether the API had created the session (an answer lost).
UNKNOWN_ANSWER_CODES: Final = frozenset(("Timeout", "NetworkError"))


@dataclass
class SoakReport:
    """The figures of a soak and its invariants."""

    scenario: str
    command: str
    requests: int
    poison: int
    pollers: int
    seed: int
    fates: Counter[Fate]  # what the soak arranged
    accounting: Accounting
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
    redriven: int
    derived_tokens: int  # redriven letters whose token the command derived from the message ID
    redrive_rounds: int
    publisher: FaultCounts
    dead_letter_sends: FaultCounts
    refused_events: int
    refused_letters: int
    invocation_faults: InvocationFaultCounts
    duration: float
    fifo: bool = False
    drain_seconds: float | None = None  # from the first send until the request queue drained (before redrives)
    tenant_drain: dict[str, float] = field(default_factory=dict)  # fair queue: tenant -> seconds to its last event
    notes: list[str] = field(default_factory=list)  # phases that did not finish in time, a command that failed

    @property
    def outcomes(self) -> Counter[str]:
        return self.accounting.outcomes

    @property
    def lost(self) -> list[int]:
        return self.accounting.lost

    @property
    def failures(self) -> list[str]:
        """Each broken invariant, in words."""
        account = self.accounting
        broken = list(self.notes)
        if account.lost:
            broken.append(f"{len(account.lost)} requests lost (e.g. #{', #'.join(map(str, account.lost[:5]))})")
        if any(self.queue_left.values()):
            broken.append(f"the request queue is not drained: {self.queue_left}")
        checks = (
            (account.double_sessions, "double sessions"),
            (account.poison_at_api, "API calls or sessions carry poison or an unknown token"),
            (account.unannounced, "created sessions never announced"),
            (account.announced_as_failed, "created sessions announced as failed"),
            (account.ended_twice, "requests that ended more than once"),
            (account.letters_off_group, "dead letters without their group, or deduplicated on a standard queue"),
            # Order is FIFO's promise only: a fair queue's tenants are standard records.
            (account.order_violations if self.fifo else 0, "requests the API saw before an earlier one of their group"),
        )
        broken += [f"{count} {what}" for count, what in checks if count]
        return broken

    @property
    def ok(self) -> bool:
        return not self.failures

    def table(self) -> str:
        """The figures as a Markdown table: the run, what became of the requests, the faults injected."""
        rows = [*self._run_rows(), *self._outcome_rows(), *self._fault_rows()]
        if self.drain_seconds:
            rows.append(("time to drain the requests (before redrives)", self._drain()))
        rows.append(("duration", f"{self.duration:.0f} s"))
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)

    def _run_rows(self) -> list[tuple[str, str]]:
        """What was sent, and how the sandbox carried it."""
        return [
            ("scenario", f"{self.scenario}{' (FIFO queues)' if self.fifo else ''}"),
            ("requests", f"{self.requests} ({self.requests - self.poison} valid, {self.poison} poison)"),
            *([("message groups", str(self.accounting.groups))] if self.fifo else []),
            *([("fair queue tenants", self._tenants())] if self.tenant_drain else []),
            ("pollers (Lambda instances)", str(self.pollers)),
            ("API calls", f"{self.api_calls} ({self.idempotent_replays} idempotent replays)"),
            ("retries (records handed back to SQS)", str(self.handed_back)),
            ("deliveries (receives of a record)", f"{self.deliveries} in {self.invocations} invocations"),
            (
                "redriven by payment-session-worker dlq redrive",
                f"{self.redriven} in {self.redrive_rounds} rounds ({self.derived_tokens} moved by SQS's redrive "
                "policy, their token derived from the message ID)",
            ),
        ]

    def _outcome_rows(self) -> list[tuple[str, str]]:
        """What became of the requests, each invariant's count among them."""
        account = self.accounting
        return [
            ("created", str(account.outcomes["created"])),
            ("failed", str(account.outcomes["failed"])),
            ("dead-lettered", str(account.outcomes["dead-lettered"])),
            ("lost (must be 0)", str(len(account.lost))),
            ("double sessions (must be 0)", str(account.double_sessions)),
            ("ended more than once (must be 0)", str(account.ended_twice)),
            ("created but announced as failed (must be 0)", str(account.announced_as_failed)),
            (
                "announced failed on a lost answer (could not know)",
                str(account.failed_on_lost_answer),
            ),
            *([("order violations in a group (must be 0)", str(account.order_violations))] if self.fifo else []),
            ("poison or unknown tokens at the API (must be 0)", str(account.poison_at_api)),
            ("created sessions never announced (must be 0)", str(account.unannounced)),
            ("events published (duplicate announcements)", f"{self.events} ({account.duplicate_announcements})"),
        ]

    def _fault_rows(self) -> list[tuple[str, str]]:
        """The faults injected at each boundary."""
        faults = self.api_faults
        other_faults = sum(v for k, v in faults.items() if k not in TRANSIENT_CODES)
        return [
            (
                "faults: API",
                f"{faults.get('ThrottlingException', 0)} throttled, {faults.get('InternalServerException', 0)} 5xx, "
                f"{other_faults} final, {self.scripted_delays} slower than the client timeout",
            ),
            (
                "faults: PutEvents",
                f"{self.publisher.failed_calls} whole calls, {self.publisher.failed_entries} entries, "
                f"{self.publisher.lost_answers} answers lost (of {self.publisher.calls} calls), "
                f"{self.refused_events} events refused",
            ),
            (
                "faults: DLQ send",
                f"{self.dead_letter_sends.failed_calls} whole calls, {self.dead_letter_sends.failed_entries} "
                f"messages, {self.dead_letter_sends.lost_answers} answers lost "
                f"(of {self.dead_letter_sends.calls} calls), {self.refused_letters} letters refused",
            ),
            (
                "faults: invocations",
                f"{self.invocation_faults.short_deadlines} short deadlines, "
                f"{self.invocation_faults.lost_after_work} lost after their work, "
                f"{self.whole_batches_handed_back} whole batches handed back",
            ),
        ]

    def _tenants(self) -> str:
        tenants = self.accounting.tenant_requests
        return f"{len(tenants)}, {NOISY_TENANT} noisy with {tenants[NOISY_TENANT]} of the {self.requests} requests"

    def _drain(self) -> str:
        text = f"{self.drain_seconds:.0f} s"
        quiet = [seconds for tenant, seconds in self.tenant_drain.items() if tenant != NOISY_TENANT]
        if quiet and NOISY_TENANT in self.tenant_drain:
            text += (
                f"; the quiet tenants' last event at {max(quiet):.0f} s, "
                f"the noisy tenant's at {self.tenant_drain[NOISY_TENANT]:.0f} s"
            )
        return text


def tenant_drain_times(
    requests: Sequence[Request], events: Sequence[tuple[float, Mapping[str, Any]]], *, since: float
) -> dict[str, float]:
    """Per tenant (a request's group): seconds from ``since`` (epoch) until its requests' last event was read."""
    tenant_of = {r.token: r.group for r in requests if r.group is not None}
    last: dict[str, float] = {}
    for read_at, event in events:
        tenant = tenant_of.get(str(event["detail"]["clientToken"]))
        if tenant is not None:
            last[tenant] = max(last.get(tenant, 0.0), read_at - since)
    return dict(sorted(last.items()))


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def order_violations(
    requests: Sequence[Request], calls_by_token: Mapping[str, int], *, through_dlq: Set[str] = frozenset()
) -> tuple[int, int]:
    """(groups, requests the API first saw after a request sent later in their group).

    ``calls_by_token`` is in the order the API first saw each token (the fake keeps it so). Requests whose
    token is in ``through_dlq`` are left out: a message that goes to the DLQ leaves its group's order (SQS
    FIFO's rule), and its redrive puts it at the end of the group.
    """
    first_call = {token: position for position, token in enumerate(calls_by_token)}
    by_group: dict[str, list[int]] = {}
    for request in sorted(requests, key=lambda r: r.index):
        position = first_call.get(request.token)
        if request.group is not None and position is not None and request.token not in through_dlq:
            by_group.setdefault(request.group, []).append(position)
    violations = 0
    for positions in by_group.values():
        earliest_after = len(first_call)
        for position in reversed(positions):
            violations += position > earliest_after
            earliest_after = min(earliest_after, position)
    return len({r.group for r in requests if r.group is not None}), violations


@dataclass
class Accounting:
    """What became of each request, and each invariant's count of breaches."""

    outcomes: Counter[str]
    lost: list[int]  # indexes of requests that ended nowhere
    double_sessions: int
    poison_at_api: int
    unannounced: int  # created sessions never announced
    duplicate_announcements: int
    # a PaymentSessionCreationFailed read after the request's session was created, for a cause other than
    # an error answer of the API or an answer lost (e.g. EventPublishFailed: the worker had the session)
    announced_as_failed: int
    # the same for an answer lost (Timeout, NetworkError): the worker could not know (retryable: true)
    failed_on_lost_answer: int
    ended_twice: int  # requests with more than one end: a session, a final failure, a letter left in the DLQ
    groups: int = 0
    order_violations: int = 0
    tenant_requests: Counter[str] = field(default_factory=Counter)  # requests by group (FIFO group or tenant)
    # dead letters without their request's MessageGroupId, or with a deduplication ID on a standard queue
    letters_off_group: int = 0


@dataclass
class _Announcements:
    """What the events said: each session announced, each final failure, and the failures announced after the
    session existed."""

    created_ids: Counter[str] = field(default_factory=Counter)  # announcements by paymentSessionId
    announced_tokens: Counter[str] = field(default_factory=Counter)  # PaymentSessionCreated by clientToken
    final_failures: set[str] = field(default_factory=set)  # clientTokens announced failed, not retryable
    as_failed: int = 0  # see Accounting.announced_as_failed
    on_lost_answer: int = 0  # see Accounting.failed_on_lost_answer


def _sessions_by_token(sessions: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_token: dict[str, list[Mapping[str, Any]]] = {}
    for session in sessions:
        by_token.setdefault(str(session["client_token"]), []).append(session)
    return by_token


def _announcements(
    events: Sequence[tuple[float, Mapping[str, Any]]], sessions_by_token: Mapping[str, Sequence[Mapping[str, Any]]]
) -> _Announcements:
    """Read the events (each with the epoch second it was read at) against the sessions the API created."""
    seen = _Announcements()
    for read_at, event in events:
        detail = event["detail"]
        token = detail["clientToken"]
        if event["detail-type"] == "PaymentSessionCreated":
            seen.created_ids[detail["paymentSession"]["paymentSessionId"]] += 1
            seen.announced_tokens[token] += 1
            continue
        if detail["error"]["retryable"] is False:
            seen.final_failures.add(token)
        if detail["error"]["code"] in API_ERROR_CODES:
            continue  # the API answered this receive with an error: it could not know of a session
        if any(_epoch(str(s["created_at"])) <= read_at for s in sessions_by_token.get(token, [])):
            if detail["error"]["code"] in UNKNOWN_ANSWER_CODES:
                seen.on_lost_answer += 1
            else:
                seen.as_failed += 1
    return seen


def _ends(
    requests: Sequence[Request], created: Set[str], final_failures: Set[str], dead_bodies: Set[str]
) -> tuple[Counter[str], list[int], int]:
    """(outcomes, the indexes of the requests that ended nowhere, the requests that ended more than once)."""
    outcomes: Counter[str] = Counter()
    lost: list[int] = []
    ended_twice = 0
    for request in requests:
        ends = [request.token in created, request.token in final_failures, request.body in dead_bodies]
        ended_twice += sum(ends) > 1
        if ends[0]:
            outcomes["created"] += 1
        elif ends[1]:
            outcomes["failed"] += 1
        elif ends[2]:
            outcomes["dead-lettered"] += 1
        else:
            lost.append(request.index)
    return outcomes, lost, ended_twice


def _double_sessions(sessions: Sequence[Mapping[str, Any]], by_token: Mapping[str, Sequence[Any]]) -> int:
    """Sessions beyond the first of one user (one request each), and beyond the first of one client token."""
    by_user = Counter(str(session["request"].get("userId", "")) for session in sessions)
    double = sum(n - 1 for n in by_user.values() if n > 1)
    return double + sum(len(found) - 1 for found in by_token.values() if len(found) > 1)


def _poison_at_api(
    requests: Sequence[Request], sessions: Sequence[Mapping[str, Any]], calls_by_token: Mapping[str, int]
) -> int:
    """Calls with a token no valid request carries, and sessions made of a poison body's data."""
    valid_tokens = {r.token for r in requests if not r.poison}
    poison = sum(1 for token in calls_by_token if token not in valid_tokens)
    return poison + sum(1 for s in sessions if str(s["request"].get("userId", "")).startswith("poison-"))


def account_requests(
    requests: Sequence[Request],
    *,
    sessions: Sequence[Mapping[str, Any]],
    calls_by_token: Mapping[str, int],
    events: Sequence[tuple[float, Mapping[str, Any]]],
    dead_letters: Sequence[Mapping[str, Any]],
    redriven_tokens: Set[str] = frozenset(),
    fifo: bool = False,
) -> Accounting:
    """Each request's end, from the API's sessions and calls, the events (each with the epoch second it was
    read at) and the letters left in the DLQ."""
    sessions_by_token = _sessions_by_token(sessions)
    seen = _announcements(events, sessions_by_token)
    dead_bodies = {str(m["Body"]) for m in dead_letters}
    outcomes, lost, ended_twice = _ends(requests, sessions_by_token.keys(), seen.final_failures, dead_bodies)
    through_dlq = set(redriven_tokens) | {r.token for r in requests if r.body in dead_bodies}
    groups, violations = order_violations(requests, calls_by_token, through_dlq=through_dlq)
    return Accounting(
        outcomes=outcomes,
        lost=lost,
        double_sessions=_double_sessions(sessions, sessions_by_token),
        poison_at_api=_poison_at_api(requests, sessions, calls_by_token),
        unannounced=sum(1 for s in sessions if seen.created_ids[s["payment_session_id"]] == 0),
        duplicate_announcements=sum(n - 1 for n in seen.announced_tokens.values() if n > 1),
        announced_as_failed=seen.as_failed,
        failed_on_lost_answer=seen.on_lost_answer,
        ended_twice=ended_twice,
        groups=groups,
        order_violations=violations,
        tenant_requests=Counter(r.group for r in requests if r.group is not None),
        letters_off_group=letters_off_group(requests, dead_letters, fifo=fifo),
    )


def letters_off_group(requests: Sequence[Request], dead_letters: Sequence[Mapping[str, Any]], *, fifo: bool) -> int:
    """Dead letters (as received) that lost their request's group, or carry a deduplication ID off FIFO."""
    group_of = {r.body: r.group for r in requests}
    off = 0
    for letter in dead_letters:
        system = letter.get("Attributes") or {}
        group = group_of.get(str(letter["Body"]))
        off += (group is not None and system.get("MessageGroupId") != group) or (
            not fifo and "MessageDeduplicationId" in system
        )
    return off
