"""The sandbox assembled: moto, the fake payments API, ``template.yaml`` deployed, the event source, a tap, the DLQ.

``python -m sandbox up`` runs one until Ctrl-C; the demo runs its load through one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Self

from sandbox.agentcore import FaultSettings, PaymentsApiServer
from sandbox.aws.deployed import DeployedStack
from sandbox.aws.event_tap import EventTap
from sandbox.aws.server import MotoMode, MotoServer, client
from sandbox.aws.sqs import OutgoingMessage, QueueReader, send_messages
from sandbox.aws.stack import StackSpec, deploy_stack
from sandbox.lambda_.event_source import Handler, Invocation, SqsEventSource
from sandbox.service import Service, started


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How to assemble a :class:`Sandbox`. Ports 0 mean free ports; ``aws_endpoint`` reuses a running moto.

    ``stack`` is deployed into moto, in its region (moto's and the clients' too). ``handler``,
    ``environment``, ``invocation_timeout`` and ``receive_visibility_timeout`` go to the
    :class:`SqsEventSource` (``handler``, ``environment``, ``timeout``, ``visibility_timeout``).
    """

    stack: StackSpec = field(default_factory=StackSpec)
    host: str = "127.0.0.1"
    aws_port: int = 0
    payments_port: int = 0
    aws_endpoint: str | None = None
    moto_mode: MotoMode = "process"
    pollers: int | None = None
    poll_wait_seconds: int = 1
    api_faults: FaultSettings = field(default_factory=FaultSettings)  # the fake payments API's random faults
    function_output: IO[str] | None = None
    handler: Handler | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    invocation_timeout: float | None = None
    receive_visibility_timeout: int | None = None


class Sandbox(Service):
    """Everything on one machine: moto, the fake payments API, the stack, the event source, a tap, the DLQ.

    ``with Sandbox(SandboxConfig(...)) as sandbox:`` starts it all; ``sandbox.send(...)`` enqueues requests.
    Invocations are reported to ``on_invocation`` (from the pollers' threads) as well as kept.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        on_invocation: Callable[[Invocation], None] | None = None,
        moto: MotoServer | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._on_invocation = on_invocation
        self._own_moto = moto is None and self.config.aws_endpoint is None
        self.moto = moto or MotoServer(
            self.config.host, self.config.aws_port, mode=self.config.moto_mode, region=self.config.stack.region
        )
        self.payments_api = PaymentsApiServer(self.config.host, self.config.payments_port, self.config.api_faults)
        self._stack: DeployedStack | None = None
        self._event_source: SqsEventSource | None = None
        self._tap: EventTap | None = None
        self._dead_letters: QueueReader | None = None

    @property
    def aws_endpoint(self) -> str:
        """moto's endpoint URL."""
        return self.config.aws_endpoint or self.moto.endpoint_url

    @property
    def stack(self) -> DeployedStack:
        """The deployed stack."""
        return started(self._stack)

    @property
    def event_source(self) -> SqsEventSource:
        """The local SQS event source running the real handler."""
        return started(self._event_source)

    @property
    def tap(self) -> EventTap:
        """The worker's events as a subscriber receives them."""
        return started(self._tap)

    @property
    def dead_letters(self) -> QueueReader:
        """A reader of the dead-letter queue; what it reads stays there, hidden until ``release()``."""
        return started(self._dead_letters)

    def start(self) -> Self:
        """Start moto and the payments API, deploy the stack, install the tap, start the event source."""
        try:
            if self._own_moto:
                self.moto.start()
            self.payments_api.start()
            endpoint = self.aws_endpoint
            self._stack = deploy_stack(endpoint, self.config.stack)
            self._tap = EventTap(self._stack).start()
            self._dead_letters = QueueReader(endpoint, self._stack.dead_letter_queue.url, self._stack.region, keep=True)
            self._event_source = SqsEventSource(
                self._stack,
                payments_endpoint=self.payments_api.endpoint_url,
                pollers=self.config.pollers,
                output=self.config.function_output,
                on_invocation=self._on_invocation,
                poll_wait_seconds=self.config.poll_wait_seconds,
                handler=self.config.handler,
                environment=self.config.environment,
                timeout=self.config.invocation_timeout,
                visibility_timeout=self.config.receive_visibility_timeout,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the event source, the payments API and moto (idempotent)."""
        if self._event_source is not None:
            self._event_source.stop()
            self._event_source = None
        self.payments_api.stop()
        if self._own_moto:
            self.moto.stop()

    def send(self, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Enqueue ``messages`` on the request queue; returns their message IDs."""
        sqs = client("sqs", self.aws_endpoint, self.config.stack.region)
        return send_messages(sqs, self.stack.request_queue.url, messages)
