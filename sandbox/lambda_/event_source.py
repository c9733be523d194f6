"""A local SQS event source mapping: what Lambda does between the request queue and the handler.

Each poller thread is one "Lambda instance": it long-polls the request queue, fills a batch up to the
mapping's ``BatchSize`` within its ``MaximumBatchingWindowInSeconds``, invokes the real handler (imported
from the template's ``Handler`` and ``CodeUri``) with a Lambda-like context whose deadline is the function's
``Timeout``, then deletes what succeeded. Records in ``batchItemFailures`` are left alone: they come back
after the queue's visibility timeout, and the queue's redrive policy applies to them as in AWS.

As in Lambda, a whole batch is handed back when the handler raises, overruns its timeout, or answers with
an invalid partial-batch response (an ``itemIdentifier`` that is missing, empty or not in the batch).

The function's environment (from the deployed template) is applied to ``os.environ`` before the handler
is imported or called, with the SDK pointed at moto and at the fake payments API. All pollers share the
process, hence one environment and one composition root (``handlers.dependencies``): they behave like
several invocations of one execution environment's code, each with its own deadline.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Self

from sandbox.aws.deployed import DeployedStack
from sandbox.aws.server import client
from sandbox.aws.sqs import MAX_BATCH, delete_messages, queue_depth, receive, release_messages
from sandbox.lambda_.context import LambdaContext
from sandbox.lambda_.environment import (
    ThreadRoutedStream,
    applied_environment,
    bind_handlers_to,
    function_environment,
    routed_stdout,
)
from sandbox.lambda_.fifo_groups import FifoGroups, Waiting, check_fifo_mapping, hide_waiting
from sandbox.lambda_.sqs_event import settle_response, to_lambda_record
from sandbox.service import Service

LOG: Final = logging.getLogger("sandbox.lambda_.event_source")
DEFAULT_POLLERS: Final = 5  # Lambda starts five pollers for a standard queue
Handler = Callable[[dict[str, Any], Any], Any]

# The function's environment is process-wide (os.environ), so one event source runs at a time per process.
_running: set[int] = set()
_running_guard = threading.Lock()

# moto's ReceiveMessage is not atomic: pollers woken together by a new message can all receive it (a
# duplicate delivery SQS itself makes only rarely). One lock per queue, shared by every event source in the
# process, makes receives atomic as SQS's are; the pollers still process their batches concurrently.
_receive_locks: dict[tuple[str, str], threading.Lock] = {}
_receive_locks_guard = threading.Lock()


def _receive_lock(endpoint_url: str, queue_url: str) -> threading.Lock:
    with _receive_locks_guard:
        return _receive_locks.setdefault((endpoint_url, queue_url), threading.Lock())


# ---------------------------------------------------------------------------------------------------------
# Invocations
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation of the handler by the event source, and what became of its records."""

    poller: int
    request_id: str
    started_at: float  # epoch seconds
    duration: float  # seconds
    message_ids: tuple[str, ...]
    receive_counts: tuple[int, ...]
    batch_item_failures: tuple[str, ...]
    deleted: tuple[str, ...]
    error: str | None = None  # set when the whole batch was handed back

    @property
    def handed_back(self) -> tuple[str, ...]:
        """Message IDs left in the queue (they return after the visibility timeout)."""
        deleted = set(self.deleted)
        return tuple(m for m in self.message_ids if m not in deleted)


def import_handler(stack: DeployedStack) -> Handler:
    """The template's ``Handler`` from its ``CodeUri`` (imported now: call after the environment is set)."""
    module_name, attribute = stack.function.module_and_attribute
    code_dir = stack.function.code_dir
    if code_dir is not None and str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


# ---------------------------------------------------------------------------------------------------------
# The event source
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    receive_errors: int = 0
    held: list[str] = field(default_factory=list)


class SqsEventSource(Service):
    """Lambda's SQS event source mapping for the deployed stack, with ``pollers`` concurrent instances.

    ``with SqsEventSource(stack, payments_endpoint=api.endpoint_url) as source:`` polls until the block
    ends. Options (each defaults to what the template deployed):

    * ``pollers``: concurrent invocations (default: the mapping's ``ScalingConfig.MaximumConcurrency``, else 5);
    * ``timeout``: seconds an invocation may run (default: the function's ``Timeout``);
    * ``visibility_timeout``: passed on ``ReceiveMessage`` (default: none, so the queue's own applies);
    * ``handler``: called instead of the template's handler (e.g. a wrapper that injects faults);
    * ``environment``: variables applied after the function's own (e.g. an endpoint of a proxy);
    * ``output``: where the function's stdout (JSON logs, EMF metrics) goes; default: this process's stdout;
    * ``on_invocation``: called after each invocation with its :class:`Invocation`;
    * ``poll_wait_seconds``: long-poll length of each ``ReceiveMessage``, hence the latency of ``stop()``;
    * ``reset_dependencies``: start and stop with a cold start (``handlers.dependencies.reset()``). To run
      the handler on a wiring of your own, ``start()`` first (the environment is then in place), then
      ``handlers.dependencies.override(...)``.

    On a FIFO request queue it keeps SQS's and Lambda's FIFO rules (:mod:`sandbox.lambda_.fifo_groups`): the mapping's
    limits (``BatchSize`` <= 10, no batching window: a :class:`StackError` otherwise), each batch in the
    queue's order, no group given to two invocations at once, and a group's handed-back messages served again
    from its oldest. Records carry ``MessageGroupId``, ``MessageDeduplicationId`` and ``SequenceNumber``.
    """

    def __init__(
        self,
        stack: DeployedStack,
        *,
        payments_endpoint: str,
        pollers: int | None = None,
        timeout: float | None = None,
        visibility_timeout: int | None = None,
        handler: Handler | None = None,
        environment: Mapping[str, str] | None = None,
        output: IO[str] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        poll_wait_seconds: int = 1,
        reset_dependencies: bool = True,
    ) -> None:
        self.stack = stack
        self.payments_endpoint = payments_endpoint
        mapping = stack.event_source
        self.pollers = pollers if pollers is not None else (mapping.maximum_concurrency or DEFAULT_POLLERS)
        if self.pollers < 1:
            raise ValueError("pollers must be at least 1")
        self.timeout = float(timeout if timeout is not None else stack.function.timeout)
        self.visibility_timeout = visibility_timeout
        self.batch_size = mapping.batch_size
        self.batching_window = float(mapping.maximum_batching_window)
        self.poll_wait_seconds = max(0, min(20, poll_wait_seconds))
        self.environment = function_environment(stack, payments_endpoint=payments_endpoint, overrides=environment)
        if "MAX_CONCURRENCY" not in (environment or {}):
            # Each Lambda instance has a pool of MAX_CONCURRENCY threads of its own; the pollers here share
            # one process, so one pool, sized for all of them lest one batch wait on another's records.
            per_instance = int(self.environment.get("MAX_CONCURRENCY", "10"))
            self.environment["MAX_CONCURRENCY"] = str(per_instance * self.pollers)
        self._handler = handler
        self._reset_dependencies = reset_dependencies
        self._output = output
        self._on_invocation = on_invocation
        self._queue = stack.request_queue
        self.fifo = self._queue.fifo
        self._groups: FifoGroups | None = None
        if self.fifo:
            check_fifo_mapping(self.batch_size, self.batching_window)
            self._groups = FifoGroups(visibility_timeout or self._queue.visibility_timeout)
        self._receive_lock = _receive_lock(stack.endpoint_url, self._queue.url)
        self._sqs = client("sqs", stack.endpoint_url, stack.region)
        self._counters = _Counters()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._exit = contextlib.ExitStack()
        self._router: ThreadRoutedStream | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Apply the environment, import the handler (cold start), start the pollers; returns ``self``."""
        if self._threads:
            raise RuntimeError("the event source is already running")
        if not self.stack.event_source.enabled_in_template:
            raise RuntimeError(f"{self.stack.event_source.logical_id} is disabled in the template")
        with _running_guard:
            if _running:
                raise RuntimeError("another event source is running in this process (they share os.environ)")
            _running.add(id(self))
        self._exit.callback(_running.discard, id(self))
        self._stopping.clear()
        try:
            self._router = self._exit.enter_context(routed_stdout(self._output))
            self._exit.enter_context(applied_environment(self.environment))
            if self._reset_dependencies:
                from sandbox.worker_code import cold_start  # the worker's code, once its environment is in place

                self._exit.callback(cold_start)
                cold_start()
            if self._handler is None:
                self._handler = import_handler(self.stack)
            if self._router is not None:
                bind_handlers_to(self._router)
        except BaseException:
            self._exit.close()
            raise
        for index in range(self.pollers):
            thread = threading.Thread(target=self._poll, args=(index,), name=f"lambda-{index}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Let each poller finish its invocation, stop them, restore the environment (idempotent)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        if self._groups is not None:  # the messages still waiting come back when SQS would have made them visible
            hide_waiting(self._sqs, self._queue.url, self._groups.take_waiting(), cushion=0.0)
        self._exit.close()

    # -- observation ---------------------------------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        """Every invocation so far, in completion order."""
        with self._counters.lock:
            return list(self._counters.invocations)

    @property
    def in_flight(self) -> int:
        """Invocations running now."""
        with self._counters.lock:
            return self._counters.in_flight

    @property
    def held(self) -> list[str]:
        """FIFO: message IDs received while their group ran in another invocation, so not invoked (SQS never
        returns those; this stays empty unless the SQS emulation breaks that rule)."""
        with self._counters.lock:
            return list(self._counters.held)

    @property
    def receive_errors(self) -> int:
        """``ReceiveMessage`` calls that failed (the poller backs off and tries again)."""
        with self._counters.lock:
            return self._counters.receive_errors

    def queue_depth(self) -> dict[str, int]:
        """The request queue's approximate counts: ``visible``, ``in_flight`` (not visible), ``delayed``."""
        return queue_depth(self._sqs, self._queue.url)

    def is_drained(self) -> bool:
        """Nothing in the request queue (visible, in flight or delayed) and no invocation running."""
        return not any(self.queue_depth().values()) and self.in_flight == 0

    def wait_until_drained(self, timeout: float, interval: float = 0.2) -> bool:
        """Poll :meth:`is_drained` until it holds twice in a row or ``timeout`` passes; returns whether it held."""
        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            streak = streak + 1 if self.is_drained() else 0
            if streak >= 2:
                return True
            time.sleep(interval)
        return False

    # -- polling -------------------------------------------------------------------------------------------

    def _poll(self, index: int) -> None:
        if self._router is not None:
            self._router.route(self._output)
        sqs = client("sqs", self.stack.endpoint_url, self.stack.region)
        while not self._stopping.is_set():
            received_at = time.monotonic()
            try:
                messages: Sequence[Mapping[str, Any]] = self._receive_batch(sqs)
            except Exception:  # a poller never dies; Lambda's keep polling too
                LOG.exception("ReceiveMessage failed on poller %d", index)
                with self._counters.lock:
                    self._counters.receive_errors += 1
                self._stopping.wait(1.0)
                continue
            if messages and self._groups is not None:
                messages, held = self._groups.admit(messages, received_at=received_at)
                if held:
                    self._hide(sqs, self._groups, self._groups.waiting_of(m["MessageId"] for m in held))
                    with self._counters.lock:
                        self._counters.held.extend(m["MessageId"] for m in held)
            if messages:
                self.invoke(messages, poller=index, sqs=sqs, received_at=received_at)

    def _hide(self, sqs: Any, groups: FifoGroups, waiting: list[Waiting]) -> None:
        """Hide handed-back (or held) messages in moto, then let a receive release them: in that order, or a
        release between the two would be undone by the hide."""
        hide_waiting(sqs, self._queue.url, waiting)
        groups.hidden(waiting)

    def _release_due(self, sqs: Any, groups: FifoGroups, wait: int) -> None:
        """FIFO, before a receive: make visible the handed-back messages whose visibility timeout ends before
        this receive's long poll could (see :mod:`sandbox.lambda_.fifo_groups`), so moto never times one out."""
        due = groups.due(time.monotonic(), margin=wait + 1.0)
        try:
            release_messages(sqs, self._queue.url, [w.receipt_handle for w in due])
        except Exception:  # they come back by their visibility timeout instead
            LOG.exception("ChangeMessageVisibilityBatch failed")

    def _receive(self, sqs: Any, count: int, wait: int) -> list[dict[str, Any]]:
        if not self._receive_lock.acquire(timeout=max(1.0, float(wait))):
            return []  # another poller is receiving; try again (and notice a stop) on the next turn
        try:
            if self._groups is not None:
                self._release_due(sqs, self._groups, wait)
            return receive(
                sqs, self._queue.url, wait=wait, visibility_timeout=self.visibility_timeout, max_messages=count
            )
        finally:
            self._receive_lock.release()

    def _receive_batch(self, sqs: Any) -> list[dict[str, Any]]:
        """One long poll; then, with a batching window, more receives until the batch is full or the window ends."""
        batch = self._receive(sqs, self.batch_size, self.poll_wait_seconds)
        if not batch or self.batching_window <= 0:
            return batch
        window_end = time.monotonic() + self.batching_window
        while len(batch) < self.batch_size and not self._stopping.is_set():
            left = window_end - time.monotonic()
            if left <= 0:
                break
            more = self._receive(sqs, self.batch_size - len(batch), int(min(self.poll_wait_seconds, left)))
            if more:
                batch.extend(more)
            else:
                self._stopping.wait(min(0.05, max(0.0, left)))
        return batch

    def invoke(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        poller: int = -1,
        sqs: Any = None,
        received_at: float | None = None,
    ) -> Invocation:
        """Invoke the handler once with ``messages`` (as received) and settle them: delete what succeeded.

        ``received_at``: monotonic time just before they were received (default: now).
        """
        handler = self._handler
        if handler is None:
            raise RuntimeError("start() the event source first")
        sqs = sqs or self._sqs
        records = [to_lambda_record(m, queue_arn=self._queue.arn, region=self.stack.region) for m in messages]
        message_ids = tuple(r["messageId"] for r in records)
        request_id = str(uuid.uuid4())
        started_at, started = time.time(), time.monotonic()
        with self._counters.lock:
            self._counters.in_flight += 1
        try:
            response, error, duration = self._run(handler, records, poller, request_id, started)
            reports = self.stack.event_source.reports_batch_item_failures
            if error is None:
                failures, error = settle_response(response, message_ids, reports_batch_item_failures=reports)
            else:
                failures = ()
            failed = set(message_ids) if error is not None else set(failures)
            deleted = self._settle(sqs, messages, failed, started if received_at is None else received_at)
            invocation = Invocation(
                poller=poller,
                request_id=request_id,
                started_at=started_at,
                duration=duration,
                message_ids=message_ids,
                receive_counts=tuple(int(r["attributes"].get("ApproximateReceiveCount", 0)) for r in records),
                batch_item_failures=failures,
                deleted=deleted,
                error=error,
            )
            with self._counters.lock:
                self._counters.invocations.append(invocation)
        finally:
            with self._counters.lock:
                self._counters.in_flight -= 1
        if self._on_invocation is not None:
            self._on_invocation(invocation)
        return invocation

    def _run(
        self, handler: Handler, records: list[dict[str, Any]], poller: int, request_id: str, started: float
    ) -> tuple[Any, str | None, float]:
        """The handler's response on a Lambda context (a log stream per poller), or its error as Lambda reports a
        function error or a timeout (the batch is handed back); and the duration since ``started``."""
        function = self.stack.function
        context = LambdaContext(
            timeout_seconds=self.timeout,
            function_name=function.name,
            memory_limit_in_mb=function.memory_size,
            aws_request_id=request_id,
            region=self.stack.region,
            account=self.stack.account_id,
            log_stream_name=f"sandbox/lambda-{poller}",
        )
        error: str | None = None
        try:
            response = handler({"Records": records}, context)
        except Exception as exc:  # noqa: BLE001 - a function error hands the batch back, as in Lambda
            response, error = None, f"{type(exc).__name__}: {exc}"
        duration = time.monotonic() - started
        if error is None and duration > self.timeout:
            error = f"Task timed out after {self.timeout:.2f} seconds"
        return response, error, duration

    def _settle(
        self, sqs: Any, messages: Sequence[Mapping[str, Any]], failed: set[str], received_at: float
    ) -> tuple[str, ...]:
        """Hand back what ``failed`` (FIFO: the groups' timers), delete the rest; returns the IDs deleted."""
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        if self._groups is not None:
            self._hide(sqs, self._groups, self._groups.settle(messages, failed, received_at=received_at))
        return self._delete(sqs, succeeded)

    def _delete(self, sqs: Any, messages: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
        """``DeleteMessageBatch`` by tens; returns the IDs deleted (a stale receipt leaves its message in)."""
        deleted: list[str] = []
        for start in range(0, len(messages), MAX_BATCH):
            try:
                deleted.extend(delete_messages(sqs, self._queue.url, messages[start : start + MAX_BATCH]))
            except Exception:  # undeleted messages simply come back, as in Lambda
                LOG.exception("DeleteMessageBatch failed")
        return tuple(deleted)
