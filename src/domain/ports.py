"""What the domain needs from the outside world; adapters implement these, tests use fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from domain.dead_letter import DeadLetter
from domain.events import EventEntry


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    """Hide one received message for ``seconds`` from now (``ChangeMessageVisibility`` on its receipt handle)."""

    message_id: str
    receipt_handle: str
    queue_arn: str
    seconds: int


# The payments API behind ``PaymentsApi``, as botocore's service model names it and its two operations (the
# port's two methods): spans name the calls by them, the operator's command makes its client by the service's
# name, and the sandbox's fake serves these operations.
PAYMENTS_SERVICE: Final = "bedrock-agentcore"
CREATE_PAYMENT_SESSION: Final = "CreatePaymentSession"
GET_PAYMENT_SESSION: Final = "GetPaymentSession"


class PaymentsApi(Protocol):
    def create_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        """Create a session; return the API's ``paymentSession``.

        Raises ``ApiError``: the API's answer, or a call without one (``ApiError.reach``: a timeout, a network error).
        No attempt starts after ``deadline`` (a ``time.monotonic()`` value).
        """
        ...

    def get_payment_session(self, params: Mapping[str, Any], *, deadline: float) -> Mapping[str, Any]:
        """Look a session up; return the API's ``paymentSession``. Raises as ``create_payment_session`` does."""
        ...


class EventPublisher(Protocol):
    def publish(self, entries: Sequence[EventEntry], *, deadline: float) -> list[str | None]:
        """Publish at most ``MAX_BATCH_ENTRIES`` entries in one call; per entry ``None`` when accepted, else why not.

        A failure of the whole call is reported on every entry rather than raised.
        """
        ...


class DeadLetterSender(Protocol):
    def send(self, letters: Sequence[DeadLetter], *, deadline: float) -> list[str | None]:
        """Send at most ``MAX_BATCH_ENTRIES`` messages to the dead-letter queue; per message ``None`` when sent,
        else why not."""
        ...


class VisibilitySetter(Protocol):
    def hide(self, changes: Sequence[VisibilityChange], *, deadline: float) -> list[str | None]:
        """Set at most ``MAX_BATCH_ENTRIES`` received messages' visibility in one call; per message ``None`` when
        set, else why not."""
        ...
