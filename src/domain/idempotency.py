"""The rules of the worker's idempotency record (issue 25): what a delivery does with the item it finds, and
what the item becomes after the API call. Pure; the item and its table are in ``domain/token_record.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.errors import ApiError, Reach
from domain.outcomes import ApiObservation, Created
from domain.token_record import InProgress, ItemState, OutcomeUnknown, Replay, Reused, TokenItem


@dataclass(frozen=True, slots=True)
class TakeOver:
    """An attempted item whose holder is gone, within the window: hold it (one conditional write), then send."""

    item: TokenItem


Judgement = TakeOver | Replay | InProgress | OutcomeUnknown | Reused


def judge(found: TokenItem, *, request_hash: str, now: int, window_ms: int, sendable: bool) -> Judgement:
    """What a delivery does with the token's item it found (``now`` in epoch milliseconds).

    - another effective request: reused (failed, not sent);
    - created: replayed (no call; the recorded session announced again, whatever the request's age);
    - attempted, its holder still running: in progress (retried, not sent);
    - attempted, holder gone, first attempt within the window: taken over and sent again with the same token;
    - attempted, first attempt older than the window, or the request too old to send (``sendable`` false):
      the outcome is unknown (dead-lettered, not sent, not failed: a session may exist).
    """
    if found.request_hash != request_hash:
        return Reused()
    if found.state is ItemState.CREATED and found.session is not None:
        return Replay(found.session)
    if now < found.holder_deadline:
        return InProgress(found.holder_deadline)
    if sendable and now - found.first_attempt_at < window_ms:
        return TakeOver(found)
    return OutcomeUnknown(found.first_attempt_at)


class Settlement(Enum):
    """What the record becomes after the API call."""

    CREATED = "created"  # the API returned a session
    REMOVE = "remove"  # the answer proves nothing was created (a 4xx, throttling included), or nothing was sent
    # The outcome is unknown (timeout, 5xx, connection error) and the call is over: stays attempted, its holder
    # lets go, so a later delivery within the window sends again rather than waiting for the holder's deadline.
    RELEASE = "release"
    # The call had not returned when the invocation stopped waiting (it may still reach the API): stays attempted
    # and held until the holder's deadline, so no other delivery sends it meanwhile.
    KEEP = "keep"


def settlement(api: ApiObservation) -> Settlement:
    """What the attempted item becomes once the API call of its holder is over."""
    match api:
        case Created():
            return Settlement.CREATED
        case ApiError(reach=Reach.ANSWERED, http_status=int(status)) if status < 500:
            return Settlement.REMOVE
        case ApiError(reach=Reach.NOT_SENT):
            return Settlement.REMOVE
        case ApiError(reach=Reach.IN_FLIGHT):
            return Settlement.KEEP
        case _:
            return Settlement.RELEASE
