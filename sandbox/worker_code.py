"""The sandbox's one door into the worker's code (``src/``): every name the sandbox takes from it.

The event source runs the handler the template names, by import path, after the function's environment is in
place; everything else the sandbox needs of the worker (its composition root and its AWS ports, around which
the demo and the soak put ports of their own; the request token, the poison codes, the payments client's
attempts; the payments API's service and operation names) is imported here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from adapters.clients import ClientSettings
from domain.dead_letter import DeadLetter, LetterAttribute
from domain.errors import PoisonCode
from domain.events import EventEntry
from domain.ports import (
    CREATE_PAYMENT_SESSION,
    GET_PAYMENT_SESSION,
    PAYMENTS_SERVICE,
    DeadLetterSender,
    EventPublisher,
)
from domain.records import InboundRecord
from domain.tokens import first_delivery_token
from handlers import dependencies
from handlers.dependencies import PAYMENTS_CLIENT, Dependencies, Ports, aws_ports
from handlers.settings import Settings, load_settings, parse_settings

__all__ = [
    "CLIENT_TOKEN_ATTRIBUTE",
    "CREATE_PAYMENT_SESSION",
    "GET_PAYMENT_SESSION",
    "PAYMENTS_SERVICE",
    "POISON_CODES",
    "ClientSettings",
    "DeadLetter",
    "DeadLetterSender",
    "Dependencies",
    "EventEntry",
    "EventPublisher",
    "InboundRecord",
    "Ports",
    "Settings",
    "aws_ports",
    "build_dependencies",
    "cold_start",
    "first_delivery_token",
    "load_settings",
    "parse_settings",
    "payments_attempts",
    "real_handler",
    "use_dependencies",
    "wire_worker",
]

POISON_CODES: Final = frozenset(code.value for code in PoisonCode)
CLIENT_TOKEN_ATTRIBUTE: Final = LetterAttribute.CLIENT_TOKEN.value
build_dependencies: Final = dependencies.build
use_dependencies: Final = dependencies.override


def cold_start() -> None:
    """Forget the worker's cached settings and clients: the next invocation is a cold start."""
    dependencies.reset()


def wire_worker(ports: Callable[[Settings], Ports]) -> Dependencies:
    """Run the worker on the ports ``ports`` builds from its settings (call once the function's environment is
    in place, e.g. after the event source started: its start is a cold start)."""
    settings = load_settings()
    wired = build_dependencies(settings, ports(settings))
    use_dependencies(wired)
    return wired


def payments_attempts() -> int:
    """Attempts per receive of the worker's payments client (its SDK retries included)."""
    return PAYMENTS_CLIENT.total_max_attempts


def real_handler() -> Any:
    """The worker's Lambda handler (imported on first call: the function's environment must be in place)."""
    from handlers.create_payment_session import lambda_handler

    return lambda_handler
