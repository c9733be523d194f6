"""Composition root: builds the worker and its clients once per execution environment, lazily.

Nothing here runs at import time; tests call ``reset()`` or ``override()`` to replace the wiring.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from adapters.clients import ClientSettings
from adapters.dead_letter import SqsDeadLetterSender
from adapters.event_publisher import EventBridgePublisher
from adapters.idempotency_table import DynamoDbTokenTable
from adapters.payments_api import PaymentsApiClient
from adapters.visibility import SqsVisibility
from domain.ports import DeadLetterSender, EventPublisher, PaymentsApi
from domain.record_state import AdmissionRules
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
class Dependencies:
    settings: Settings
    worker: BatchService
    executor: ThreadPoolExecutor


def build(
    settings: Settings,
    *,
    payments_client: ClientSettings = PAYMENTS_CLIENT,
    wrap_publisher: Callable[[EventPublisher], EventPublisher] | None = None,
    wrap_dead_letters: Callable[[DeadLetterSender], DeadLetterSender] | None = None,
    spans: PortSpans | None = None,
) -> Dependencies:
    """Wire the worker for ``settings``: one pool of threads and connections as large as the concurrency.

    The keyword arguments serve the sandbox's soak: another payments client (shorter timeouts) and
    wrappers around the publisher and the dead-letter sender (injected faults). Lambda uses the defaults, and
    ``spans`` when tracing is on (``handlers.tracing``): a span around each port's call.
    """
    pool = settings.max_concurrency
    executor = ThreadPoolExecutor(max_workers=pool, thread_name_prefix="record")
    publisher: EventPublisher = EventBridgePublisher.create(
        replace(AWS_CLIENT, max_pool_connections=pool),
        bus_name=settings.event_bus_name,
        source=settings.event_source,
    )
    dead_letters: DeadLetterSender = SqsDeadLetterSender.create(
        replace(AWS_CLIENT, max_pool_connections=pool), queue_url=settings.dead_letter_queue_url
    )
    api: PaymentsApi = PaymentsApiClient.create(replace(payments_client, max_pool_connections=pool))
    if spans is not None:
        api, publisher, dead_letters = (
            spans.wrap_api(api),
            spans.wrap_publisher(publisher),
            spans.wrap_dead_letters(dead_letters),
        )
    records = (
        TokenRecords(
            DynamoDbTokenTable.create(replace(AWS_CLIENT, max_pool_connections=pool), settings.idempotency_table_name),
            settings.record_policy,
        )
        if settings.idempotency_table_name
        else None
    )
    worker = BatchService(
        WorkerConfig(
            AdmissionRules(
                event_source=settings.event_source,
                managers=settings.managers,
                max_receive_count=settings.max_receive_count,
                age_limit=settings.age_limit,
            ),
            retry_delay=settings.retry_delay,
        ),
        api=api,
        publisher=wrap_publisher(publisher) if wrap_publisher else publisher,
        dead_letters=wrap_dead_letters(dead_letters) if wrap_dead_letters else dead_letters,
        executor=executor,
        visibility=SqsVisibility.create(replace(AWS_CLIENT, max_pool_connections=pool)),
        records=records,
    )
    return Dependencies(settings=settings, worker=worker, executor=executor)


_lock = threading.Lock()
_current: Dependencies | None = None


def get_dependencies() -> Dependencies:
    """The wiring of this execution environment, built on first use."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                with collector_paused(freeze=True):
                    _current = build(get_settings(), spans=from_environment(os.environ))
    return _current


def override(dependencies: Dependencies) -> None:
    """Use ``dependencies`` from now on (tests, sandbox, benchmarks)."""
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
