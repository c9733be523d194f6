"""The operator's side of the soak: ``payment-session-worker dlq report`` and ``dlq redrive`` (CONTRACT section 8),
run as an operator runs them, in a process of their own, pointed at the sandbox by the standard AWS SDK
variables, the queues read from the stack's outputs (``--stack``).

A redrive round reads the report, then redrives every ``ErrorCode`` but poison (poison needs its producer
fixed: a redrive only bounces it back), ``(none)`` included: the messages the queue's own redrive policy
moved, to which the command gives the token derived from their message ID. When a round moves nothing, the
operator deletes the poison (runbook, step 2; :func:`delete_poison`, as ``aws sqs delete-message`` would): in
a FIFO DLQ a poison letter at the head of its group hides the letters behind it from every receive, the
command's included, until it is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.aws.server import DEFAULT_REGION
from sandbox.aws.sqs import delete_messages, receive, release_messages
from sandbox.operator_command import COMMAND, run_command
from sandbox.worker_code import POISON_CODES

TIMEOUT_SECONDS: Final = 300.0
DERIVED: Final = "derived"  # the command's tokenSource of a ClientToken it derived from the message ID


class CommandFailed(RuntimeError):
    """The command exited with a status other than the one expected, or printed no JSON."""


@dataclass(frozen=True, slots=True)
class Operator:
    """Runs ``payment-session-worker dlq ...`` against one stack of the sandbox."""

    endpoint_url: str
    stack_name: str
    region: str = DEFAULT_REGION
    max_per_second: float = 500.0

    def run(self, *arguments: str) -> tuple[int, dict[str, Any]]:
        """``payment-session-worker dlq <arguments> --stack NAME --json``: (exit status, its JSON)."""
        argv = ["dlq", *arguments, "--stack", self.stack_name, "--json"]
        done = run_command(argv, endpoint_url=self.endpoint_url, region=self.region, timeout=TIMEOUT_SECONDS)
        try:
            document = json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise CommandFailed(
                f"{COMMAND} {' '.join(argv)}: exit {done.returncode}, no JSON: {done.stderr.strip()}"
            ) from error
        return done.returncode, document

    def report(self) -> dict[str, int]:
        """``dlq report``: the dead letters' count by ``ErrorCode``."""
        status, document = self.run("report")
        if status != 0:
            raise CommandFailed(f"dlq report exited {status}")
        return {entry["errorCode"]: int(entry["count"]) for entry in document["errorCodes"]}

    def redrive(self, codes: list[str]) -> dict[str, Any]:
        """``dlq redrive --error-code CODE ...``: the command's JSON summary; raises unless every letter moved."""
        selection = [part for code in codes for part in ("--error-code", code)]
        status, document = self.run("redrive", *selection, "--max-per-second", f"{self.max_per_second:g}")
        if status != 0:
            raise CommandFailed(f"dlq redrive exited {status}: {document.get('stopped')}, {document.get('failed')}")
        return document


@dataclass(slots=True)
class RedriveRound:
    """One round: the report by ``ErrorCode``, then what the command moved back and how it found each token."""

    report: dict[str, int]
    moved: int = 0
    derived: int = 0  # ClientToken derived from the message ID: moved by the queue's redrive policy
    by_code: dict[str, int] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)  # the ClientToken of each letter moved

    def line(self) -> str:
        codes = ", ".join(f"{code} {count}" for code, count in sorted(self.by_code.items()))
        return f"{self.moved} moved back by the command ({self.derived} tokens derived from the message ID; {codes})"


def redrive_round(operator: Operator) -> RedriveRound:
    """Report, then redrive every code of the report but poison; nothing moved when only poison is left."""
    counts = operator.report()
    round_ = RedriveRound(report=counts)
    codes = sorted(code for code in counts if code not in POISON_CODES)
    if not codes:
        return round_
    document = operator.redrive(codes)
    for message in document["messages"]:
        if message["outcome"] != "moved":
            continue
        round_.moved += 1
        round_.tokens.add(message["clientToken"])
        round_.derived += message["tokenSource"] == DERIVED
        round_.by_code[message["errorCode"]] = round_.by_code.get(message["errorCode"], 0) + 1
    return round_


def delete_poison(sqs: Any, dead_letter_queue_url: str) -> list[dict[str, Any]]:
    """Delete every poison letter of the DLQ (returned, as received); the others are left in it, released.

    Non-poison letters are held hidden while the scan goes on (so that each receive reaches new ones) and
    made visible again at the end; a deleted poison letter no longer holds its FIFO group back.
    """
    deleted: list[dict[str, Any]] = []
    held: list[str] = []
    try:
        while received := receive(sqs, dead_letter_queue_url, wait=1, visibility_timeout=60):
            poison = [m for m in received if _code(m) in POISON_CODES]
            delete_messages(sqs, dead_letter_queue_url, poison)
            deleted += poison
            held += [m["ReceiptHandle"] for m in received if _code(m) not in POISON_CODES]
    finally:
        release_messages(sqs, dead_letter_queue_url, held)
    return deleted


def _code(message: dict[str, Any]) -> str | None:
    value = (message.get("MessageAttributes") or {}).get("ErrorCode", {}).get("StringValue")
    return value if isinstance(value, str) else None
