"""``python -m sandbox demo --fifo``: the FIFO stack, message groups kept in order through a throttled record.

A few message groups (one per user) of a few requests each are sent interleaved to the FIFO request queue. One
record in the middle of one group is throttled by the API for its first receives (scripted), so the worker
retries it and hands back the rest of its group untouched (CONTRACT section 9), and SQS gives no one the group's
next message meanwhile. The demo then reads, from the fake API's own record (the order of its first call for each
``clientToken``, and the order in which it created sessions), that each group reached the API in the order sent,
and shows record by record that the later records of the throttled group waited for it.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Final

from sandbox.aws.sqs import OutgoingMessage
from sandbox.demo.fates import Fate, account
from sandbox.demo.run import DemoOptions, demo_sandbox, describe_setup
from sandbox.demo.tables import print_table
from sandbox.local_cloud import Sandbox, SandboxConfig

GROUPS: Final = 4
PER_GROUP: Final = 5
THROTTLED_GROUP: Final = 1  # the second group ...
THROTTLED_RECORD: Final = 2  # ... its third record
THROTTLED_RECEIVES: Final = 2  # throttled on every attempt of its first two receives, created on the third


@dataclass(frozen=True, slots=True)
class FifoRequest:
    """One request of the FIFO demo: its group, its place in the group, its token, its message ID once sent."""

    group: str
    number: int  # 1-based place in its group
    client_token: str
    message: OutgoingMessage

    @property
    def name(self) -> str:
        return f"{self.group} #{self.number}"


def fifo_requests(seed: int, groups: int = GROUPS, per_group: int = PER_GROUP) -> list[FifoRequest]:
    """``groups`` x ``per_group`` valid requests, interleaved (#1 of each group, then #2 of each, ...)."""
    rng = random.Random(seed)
    run = f"{rng.getrandbits(48):012x}"
    requests = []
    for number in range(1, per_group + 1):
        for index in range(groups):
            group = f"user-{index + 1:03d}"
            token = f"fifo-demo-{run}-{group}-{number:02d}-{'x' * 8}"
            body = {
                "expiryTimeInMinutes": 60,
                "userId": group,
                "correlationId": f"{group}-{number}",
                "clientToken": token,
            }
            message = OutgoingMessage(json.dumps(body), group_id=group, deduplication_id=token)
            requests.append(FifoRequest(group, number, token, message))
    return requests


@dataclass(frozen=True, slots=True)
class GroupOrder:
    """One group as sent, and as the API saw it."""

    group: str
    sent: tuple[int, ...]
    first_calls: tuple[int, ...]  # the order of the API's first call for each request's token
    sessions: tuple[int, ...]  # the order in which the API created the group's sessions

    @property
    def in_order(self) -> bool:
        return self.first_calls == self.sent and self.sessions == self.sent


@dataclass(frozen=True, slots=True)
class FifoDemoResult:
    """What the FIFO demo saw: every request's fate, each group's order, the API's record."""

    requests: tuple[FifoRequest, ...]
    message_ids: tuple[str, ...]  # of the requests, in the same order
    fates: Mapping[str, Fate]  # by message ID
    groups: tuple[GroupOrder, ...]
    throttled: FifoRequest
    api_stats: Mapping[str, Any]
    held: tuple[str, ...]  # messages the event source held back (a group given twice: never expected)
    later_waited: bool  # the throttled group's later records reached the API only after the throttled one

    def fate_of(self, request: FifoRequest) -> Fate:
        return self.fates[self.message_ids[self.requests.index(request)]]

    @property
    def order_violations(self) -> int:
        return sum(not group.in_order for group in self.groups)

    @property
    def double_sessions(self) -> int:
        tokens = [s["client_token"] for s in self.api_stats["sessions"]]
        return len(tokens) - len(set(tokens))

    @property
    def unfinished(self) -> list[Fate]:
        return [fate for fate in self.fates.values() if fate.outcome is None]

    @property
    def exit_code(self) -> int:
        created = all(fate.outcome == "created" for fate in self.fates.values())
        clean = not self.order_violations and not self.double_sessions and not self.held
        return 0 if created and clean and self.later_waited else 1


def run_fifo_demo(options: DemoOptions | None = None, out: IO[str] | None = None) -> FifoDemoResult:
    """Deploy the FIFO stack, send the groups, throttle one record, report each group's order."""
    options = options or DemoOptions()
    options = dataclasses.replace(options, sandbox=fifo_sandbox(options.sandbox))
    out = out or sys.stdout
    title = "payment-session-worker: the sandbox demo on FIFO queues (message groups in order)"
    with demo_sandbox(options, out, title=title, log_name="demo-fifo-function.log") as (sandbox, started):
        return _fifo_demo(sandbox, options, started, out)


def fifo_sandbox(config: SandboxConfig) -> SandboxConfig:
    """``config`` with both queues FIFO and scripted faults only (the API's random throttling and 5xx off)."""
    stack = dataclasses.replace(config.stack, tuning=dataclasses.replace(config.stack.tuning, fifo_queues=True))
    faults = dataclasses.replace(config.api_faults, throttle_rate=0.0, error_rate=0.0)
    return dataclasses.replace(config, stack=stack, api_faults=faults)


def _fifo_demo(sandbox: Sandbox, options: DemoOptions, started: float, out: IO[str]) -> FifoDemoResult:
    from sandbox.worker_code import payments_attempts  # the worker's code, once its environment is in place

    describe_setup(sandbox, out)
    requests = fifo_requests(options.seed)
    throttled = next(
        r for r in requests if (r.group, r.number) == (f"user-{THROTTLED_GROUP + 1:03d}", THROTTLED_RECORD + 1)
    )
    attempts = payments_attempts()
    sandbox.payments_api.fail_next(
        "ThrottlingException", client_token=throttled.client_token, times=attempts * THROTTLED_RECEIVES
    )
    groups = sorted({r.group for r in requests})
    out.write(
        f"\n{len(groups)} message groups ({', '.join(groups)}) of {PER_GROUP} requests each, sent interleaved;"
        f" {throttled.name} is throttled on all {attempts} attempts of its first {THROTTLED_RECEIVES} receives\n"
    )
    ids = sandbox.send([r.message for r in requests])
    by_id = dict(zip(ids, requests, strict=True))
    deadline = started + options.timeout
    fates = account(ids, [], [], [])
    while time.monotonic() < deadline:
        in_flight = sandbox.event_source.in_flight
        sandbox.tap.read()
        sandbox.dead_letters.read()
        fates = account(ids, sandbox.event_source.invocations, sandbox.tap.events, sandbox.dead_letters.messages)
        if in_flight == 0 and all(f.outcome is not None for f in fates.values()):
            break
        time.sleep(0.2)
    stats = sandbox.payments_api.snapshot()
    result = _result(requests, ids, fates, stats, throttled, tuple(sandbox.event_source.held))
    _report(result, by_id, out)
    return result


def _result(
    requests: Sequence[FifoRequest],
    ids: Sequence[str],
    fates: Mapping[str, Fate],
    stats: Mapping[str, Any],
    throttled: FifoRequest,
    held: tuple[str, ...],
) -> FifoDemoResult:
    by_token = {r.client_token: r for r in requests}
    first_calls = [by_token[t] for t in stats["calls_by_client_token"] if t in by_token]
    sessions = [by_token[s["client_token"]] for s in stats["sessions"] if s["client_token"] in by_token]
    orders = tuple(
        GroupOrder(
            group,
            tuple(r.number for r in requests if r.group == group),
            tuple(r.number for r in first_calls if r.group == group),
            tuple(r.number for r in sessions if r.group == group),
        )
        for group in sorted({r.group for r in requests})
    )
    later = [r for r in requests if r.group == throttled.group and r.number > throttled.number]
    waited = all(
        throttled in order and r in order and order.index(r) > order.index(throttled)
        for order in (first_calls, sessions)
        for r in later
    )
    return FifoDemoResult(tuple(requests), tuple(ids), fates, orders, throttled, stats, held, waited)


def _numbers(values: Sequence[int]) -> str:
    return " ".join(f"#{n}" for n in values) or "-"


def _report(result: FifoDemoResult, by_id: Mapping[str, FifoRequest], out: IO[str]) -> None:
    calls = result.api_stats["calls_by_client_token"]
    sessions = {s["client_token"]: s for s in result.api_stats["sessions"]}
    first_session = min((s["created_at"] for s in sessions.values()), default="")
    rows = []
    for g in result.groups:
        last = max(
            (
                sessions[r.client_token]["created_at"]
                for r in result.requests
                if r.group == g.group and r.client_token in sessions
            ),
            default=None,
        )
        rows.append(
            [
                g.group,
                _numbers(g.sent),
                _numbers(g.first_calls),
                _numbers(g.sessions),
                _since(first_session, last) if last else "-",
                "yes" if g.in_order else "NO",
            ]
        )
    headers = ["group", "sent", "API first calls", "sessions created", "last session (s)", "in order"]
    out.write("\n")
    print_table(out, headers, rows, title="Each message group as sent, and as the payments API saw it")
    rows = []
    for message_id, request in by_id.items():
        if request.group != result.throttled.group:
            continue
        fate = result.fates[message_id]
        session = sessions.get(request.client_token)
        rows.append(
            [
                request.name + ("  (throttled)" if request == result.throttled else ""),
                str(fate.receives),
                str(fate.handed_back),
                str(calls.get(request.client_token, 0)),
                _since(first_session, session["created_at"]) if session else "-",
                fate.path,
            ]
        )
    headers = ["request", "receives", "handed back", "API calls", "session created (s)", "outcome"]
    out.write("\n")
    print_table(out, headers, rows, title=f"The throttled group {result.throttled.group}, record by record")
    waited = "waited for it" if result.later_waited else "did NOT wait for it"
    out.write(
        f"  {result.throttled.name}'s later records {waited}: handed back untouched while it was retried,"
        " then sent to the API after it.\n"
    )
    outcomes = [f.outcome for f in result.fates.values()]
    out.write(
        f"\nrequests {len(result.requests)}, groups {len(result.groups)}, created {outcomes.count('created')},"
        f" order violations {result.order_violations}, lost {len(result.unfinished)},"
        f" double sessions {result.double_sessions}, held by the event source {len(result.held)}\n"
    )


def _since(first: str, moment: str) -> str:
    return f"{(datetime.fromisoformat(moment) - datetime.fromisoformat(first)).total_seconds():.1f}"
