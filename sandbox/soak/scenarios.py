"""The soak's scenarios, each a :class:`SoakOptions`: ``standard``, ``backstop`` and ``fifo``, long (``make soak``)
or short (``make test``).

* **standard**: faults at every boundary; the DLQ redriven by ``payment-session-worker``, one round under
  faults, then the cause fixed and rounds until only poison is left.
* **backstop**: the worker's DLQ sends refused, by request, on several receives in a row: most on every
  receive until SQS's redrive policy moves the message (``maxReceiveCount``, the template's
  ``MaxReceiveCount`` + 3), some on 1 to 3 (the worker's own send gets through on a backstop receive). Half of
  the requests it concerns had their session created and every event refused. The cause is fixed, then the
  command brings the letters back: those SQS moved carry no ``ClientToken``, so it derives the token from
  the message ID, which SQS kept.
* **fifo**: both queues FIFO, the requests in message groups that interleave, faults at every boundary; the
  API must see each group's requests in the order they were sent.
* **fair**: a fair queue (CONTRACT section 9): standard queues, each request sent with its tenant's
  ``MessageGroupId``, one noisy tenant sending half of them; faults at every boundary. Nothing is held back
  for a group, dead letters keep it, and every send passes SQS's own rules (``sandbox/aws/strict_sqs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.agentcore import FaultSettings
from sandbox.aws.stack import StackSpec, Tuning, max_receive_count_parameters
from sandbox.soak.injection import NO_FAULTS, CallFaults
from sandbox.soak.workload import SHORT_REQUESTS, STANDARD_MIX, Fate, Mix, Request, build_requests
from sandbox.worker_code import ClientSettings

SCENARIOS: Final = ("standard", "backstop", "fifo", "fair")
DEFAULT_SEED: Final = 20261126
# A 1 s read timeout (production: 10 s), so an answer slower than the client timeout costs 1.5 s, not 15.
SOAK_PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=1.0, total_max_attempts=3)
API_FAULTS: Final = FaultSettings(throttle_rate=0.05, error_rate=0.05)
PUBLISHER_FAULTS: Final = CallFaults(fail_call=0.03, fail_entry=0.03, lose_answer=0.02)
DEAD_LETTER_FAULTS: Final = CallFaults(fail_call=0.1, fail_entry=0.05, lose_answer=0.03)
BACKSTOP_MIX: Final = Mix(
    {Fate.EXHAUSTED: 0.25, Fate.UNPUBLISHED: 0.25, Fate.SLOW: 0.05}, refuse_dead_letters=1.0, refuse_always=0.75
)
# The options that shape the requests, named as ``build_requests`` names its parameters.
WORKLOAD_OPTIONS: Final = ("poison_share", "mix", "groups", "tenants", "noisy_share")
FIFO_MIX: Final = Mix({Fate.FINAL: 0.03, Fate.EXHAUSTED: 0.02, Fate.SLOW: 0.05, Fate.SLOW_EVERY_ATTEMPT: 0.02})


def soak_stack(
    name: str = "payment-session-worker-soak",
    *,
    function_timeout: int = 10,
    visibility_timeout: int = 3,
    max_receive_count: int | None = None,
    fifo: bool = False,
) -> StackSpec:
    """``template.yaml`` as the soak deploys it, under ``name``: the function's and the request queue's timeouts
    of seconds, so that retries take seconds; ``max_receive_count`` the template's ``MaxReceiveCount``
    parameter (``None``: its default); ``fifo``: both queues FIFO."""
    return StackSpec(
        name=name,
        parameters=max_receive_count_parameters(max_receive_count),
        tuning=Tuning(function_timeout=function_timeout, visibility_timeout=visibility_timeout, fifo_queues=fifo),
    )


@dataclass(frozen=True)
class SoakOptions:
    """Knobs of a soak run; the defaults are the standard ``make soak``, :func:`scenario` gives each one."""

    scenario: str = "standard"
    short: bool = False
    requests: int = 2_000
    pollers: int = 4
    seed: int = DEFAULT_SEED
    poison_share: float = 0.05
    mix: Mix = STANDARD_MIX
    groups: int = 0  # message groups; above 0 the stack's queues are FIFO, and only then
    tenants: int = 0  # a fair queue's tenants (standard queues); above 0 each request carries its tenant's group
    noisy_share: float = 0.5  # of the requests, what the noisy tenant sends (with tenants)
    stack: StackSpec = field(default_factory=soak_stack)
    payments_client: ClientSettings = SOAK_PAYMENTS_CLIENT
    slow_answer_ms: float = 1_500
    api_faults: FaultSettings = API_FAULTS  # the fake payments API's random faults, seeded with ``seed``
    publisher_faults: CallFaults = PUBLISHER_FAULTS
    dead_letter_faults: CallFaults = DEAD_LETTER_FAULTS
    short_deadline_rate: float = 0.08
    lost_invocation_rate: float = 0.02
    fixed_before_redrive: bool = False  # fix the cause before the first redrive round, not after it
    max_redrive_rounds: int = 6
    max_backlog: int = 100
    phase_timeout: float = 480.0
    function_log: str | None = None

    def __post_init__(self) -> None:
        if self.stack.tuning.fifo_queues != self.fifo:
            raise ValueError("message groups need FIFO queues, and FIFO queues need message groups")
        if self.tenants and self.fifo:
            raise ValueError("tenants are a fair queue's, on standard queues: not with FIFO message groups")

    @property
    def fifo(self) -> bool:
        return self.groups > 0

    def build_requests(self, *, own_source: str) -> list[Request]:
        """The run's requests and their fates, drawn from ``seed`` (``own_source``: the worker's event source)."""
        workload = {name: getattr(self, name) for name in WORKLOAD_OPTIONS}
        return build_requests(self.requests, self.seed, own_source=own_source, **workload)

    def command(self) -> str:
        size = "--short" if self.short else f"--requests {self.requests}"
        return f"python -m sandbox.soak --scenario {self.scenario} {size} --pollers {self.pollers} --seed {self.seed}"


def _standard(short: bool) -> dict[str, Any]:
    if not short:
        return {}
    # Denser faults (so that each kind fires) and a 2 s visibility timeout; dead-lettered on the third receive:
    # exhausted requests take seconds.
    return {
        "requests": SHORT_REQUESTS,
        "stack": soak_stack(visibility_timeout=2, max_receive_count=3),
        "poison_share": 0.08,
        "publisher_faults": CallFaults(fail_call=0.05, fail_entry=0.05, lose_answer=0.05),
        "dead_letter_faults": CallFaults(fail_call=0.15, fail_entry=0.1, lose_answer=0.1),
        "lost_invocation_rate": 0.08,
        "phase_timeout": 90.0,
    }


def _backstop(short: bool) -> dict[str, Any]:
    # The DLQ's refusals are the faults here (no random ones on top); the rest as in the standard run, lighter.
    stack_name = "payment-session-worker-soak-backstop"
    changes: dict[str, Any] = {
        "requests": 400,
        "poison_share": 0.08,
        "mix": BACKSTOP_MIX,
        "publisher_faults": CallFaults(fail_call=0.02, fail_entry=0.02, lose_answer=0.01),
        "dead_letter_faults": NO_FAULTS,
        "short_deadline_rate": 0.05,
        "fixed_before_redrive": True,
        "stack": soak_stack(stack_name),
    }
    if short:
        # The worker dead-letters on the first receive, SQS moves after the fourth: seconds with a 2 s timeout.
        stack = soak_stack(stack_name, visibility_timeout=2, max_receive_count=1)
        changes |= {"requests": 30, "stack": stack, "phase_timeout": 90.0}
    return changes


def _fifo(short: bool) -> dict[str, Any]:
    # The visibility timeout outlasts the function's, as the template's does (200 s over 30 s): a record is
    # not delivered again while an invocation holds it, which in FIFO would let its group's next one overtake.
    stack_name = "payment-session-worker-soak-fifo"
    changes: dict[str, Any] = {
        "requests": 600,
        "groups": 30,
        "poison_share": 0.04,
        "mix": FIFO_MIX,
        "stack": soak_stack(stack_name, function_timeout=6, visibility_timeout=8, fifo=True),
        "dead_letter_faults": CallFaults(fail_call=0.05, fail_entry=0.05, lose_answer=0.02),
    }
    if short:
        changes |= {
            "requests": 36,
            "groups": 6,
            "poison_share": 0.1,
            "stack": soak_stack(stack_name, function_timeout=4, visibility_timeout=5, max_receive_count=2, fifo=True),
            "phase_timeout": 90.0,
        }
    return changes


def _fair(short: bool) -> dict[str, Any]:
    # Six tenants, the noisy one sending half the requests, on standard queues; the standard run's faults.
    changes: dict[str, Any] = {
        "requests": 600,
        "tenants": 6,
        "stack": soak_stack("payment-session-worker-soak-fair"),
    }
    if short:
        stack = soak_stack("payment-session-worker-soak-fair", visibility_timeout=2, max_receive_count=3)
        changes |= {"requests": 60, "tenants": 4, "poison_share": 0.1, "stack": stack, "phase_timeout": 90.0}
    return changes


_CHANGES: Final = {"standard": _standard, "backstop": _backstop, "fifo": _fifo, "fair": _fair}


def scenario(name: str, *, short: bool = False, **changes: Any) -> SoakOptions:
    """The options of scenario ``name`` (one of :data:`SCENARIOS`), long or short, with ``changes`` on top."""
    if name not in _CHANGES:
        raise ValueError(f"no soak scenario {name!r}: one of {', '.join(SCENARIOS)}")
    return SoakOptions(scenario=name, short=short, **{**_CHANGES[name](short), **changes})
