"""Composition root: the worker from its settings and its ports, built once per execution environment, lazily.

``build(settings, ports)`` wires the worker on whatever ports it is given: Lambda's are the AWS ones,
``aws_ports(settings)``; tests, the sandbox's soak and the benchmarks pass fakes or faulty ones in. Nothing
here runs at import time; tests call ``reset()`` or ``override()`` to replace the wiring.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from adapters.clients import ClientSettings
from adapters.dead_letter import SqsDeadLetterSender
from adapters.event_publisher import EventBridgePublisher
from adapters.idempotency_table import DynamoDbTokenTable
from adapters.payments_api import PaymentsApiClient
from adapters.visibility import SqsVisibility
from domain.ports import DeadLetterSender, EventPublisher, PaymentsApi, VisibilitySetter
from domain.record_state import AdmissionRules
from domain.token_record import TokenTable
from handlers.cold_start import collector_paused
from handlers.settings import Settings, get_settings
from handlers.tracing import from_environment
from service.batch import BatchService, WorkerConfig
from service.idempotency import TokenRecords

if TYPE_CHECKING:
    from handlers.port_spans import PortSpans

# The payments API is the slow dependency: a longer read timeout, three attempts in all.
PAYMENTS_CLIENT: Final = ClientSettings(connect_timeout=2.0, read_timeout=10.0, total_max_attempts=3)
# EventBridge and SQS answer in milliseconds; their budget is the finish reserve of the invocation.
AWS_CLIENT: Final = ClientSettings(connect_timeout=1.0, read_timeout=3.0, total_max_attempts=3)


@dataclass(frozen=True, slots=True)
class Ports:
    """Everything the worker calls outside itself. ``records``: the idempotency table (``None``: no record)."""

    api: PaymentsApi
    publisher: EventPublisher
    dead_letters: DeadLetterSender
    visibility: VisibilitySetter
    records: TokenTable | None = None


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    worker: BatchService
    executor: ThreadPoolExecutor


def aws_ports(settings: Settings, *, payments_client: ClientSettings = PAYMENTS_CLIENT) -> Ports:
    """The botocore adapters ``settings`` name, each client's pool of connections as large as the concurrency.

    ``payments_client``: the payments API's timeouts and attempts (the sandbox's soak passes shorter ones).
    """
    pool = settings.max_concurrency
    aws = replace(AWS_CLIENT, max_pool_connections=pool)
    table = settings.idempotency_table_name
    return Ports(
        api=PaymentsApiClient.create(replace(payments_client, max_pool_connections=pool)),
        publisher=EventBridgePublisher.create(aws, bus_name=settings.event_bus_name, source=settings.event_source),
        dead_letters=SqsDeadLetterSender.create(aws, queue_url=settings.dead_letter_queue_url),
        visibility=SqsVisibility.create(aws),
        records=DynamoDbTokenTable.create(aws, table) if table else None,
    )


def build(settings: Settings, ports: Ports, *, spans: PortSpans | None = None) -> Dependencies:
    """Wire the worker for ``settings`` on ``ports``, with one pool of threads as large as the concurrency.

    ``spans`` (when tracing is on, ``handlers.tracing``): a span around each call of the API, the publisher
    and the dead-letter sender.
    """
    executor = ThreadPoolExecutor(max_workers=settings.max_concurrency, thread_name_prefix="record")
    if spans is not None:
        ports = replace(
            ports,
            api=spans.wrap_api(ports.api),
            publisher=spans.wrap_publisher(ports.publisher),
            dead_letters=spans.wrap_dead_letters(ports.dead_letters),
        )
    rules = AdmissionRules(
        event_source=settings.event_source,
        managers=settings.managers,
        max_receive_count=settings.max_receive_count,
        age_limit=settings.age_limit,
    )
    worker = BatchService(
        WorkerConfig(rules, retry_delay=settings.retry_delay),
        api=ports.api,
        publisher=ports.publisher,
        dead_letters=ports.dead_letters,
        executor=executor,
        visibility=ports.visibility,
        records=None if ports.records is None else TokenRecords(ports.records, settings.record_policy),
    )
    return Dependencies(settings=settings, worker=worker, executor=executor)


_lock = threading.Lock()
_current: Dependencies | None = None


def get_dependencies() -> Dependencies:
    """The wiring of this execution environment, built on first use: the AWS ports, traced when asked."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                with collector_paused(freeze=True):
                    settings = get_settings()
                    _current = build(settings, aws_ports(settings), spans=from_environment(os.environ))
    return _current


def override(dependencies: Dependencies) -> None:
    """Use ``dependencies`` from now on (tests, sandbox, benchmarks: ``build`` on ports of their own)."""
    global _current
    reset()
    _current = dependencies


def reset() -> None:
    """Forget the wiring and the settings: the next invocation is a cold start again."""
    global _current
    with _lock:
        if _current is not None:
            _current.executor.shutdown(wait=False, cancel_futures=True)
        _current = None
    get_settings.cache_clear()
