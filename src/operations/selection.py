"""Which dead letters a redrive moves (CONTRACT section 8), and what the operator is told before any moves.

A letter is selected when its ``ErrorCode`` is one of ``--error-code`` (any, without it), it came from the
request queue, and ``--limit`` is not reached. It came from the request queue when its ``SourceQueueArn``
(the worker's), else SQS's ``DeadLetterQueueSourceArn``, is that queue's ``QueueArn``; a letter that names no
queue is the request queue's only when SQS lists that queue as the DLQ's only source. The others stay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from domain.errors import PoisonCode, WorkerErrorCode
from operations.letters import Letter
from operations.queues import QueuePair
from operations.text import shown

MAX_CODES_NAMED: Final = 10  # the codes a "matches nothing" line lists
POISON: Final[frozenset[str]] = frozenset(PoisonCode)  # dead-lettered again on arrival unless the cause was fixed


class Place(StrEnum):
    """What a redrive does with a letter it meets."""

    SELECTED = "selected"
    NOT_SELECTED = "not selected"  # another ErrorCode than --error-code asks for
    OTHER_QUEUE = "other queue"  # came from another queue of a shared DLQ
    NO_QUEUE = "no known queue"  # names no queue, and the DLQ has other sources (or they could not be listed)
    OVER_LIMIT = "over limit"  # selected but for --limit
    OUTCOME_UNKNOWN = "outcome unknown"  # an OutcomeUnknown letter, which moves only with --allow-outcome-unknown

    @property
    def elsewhere(self) -> bool:
        """The letter is not the request queue's (as far as the command can tell)."""
        return self in (Place.OTHER_QUEUE, Place.NO_QUEUE)


@dataclass(frozen=True, slots=True)
class Selection:
    pair: QueuePair
    codes: frozenset[str] = frozenset()
    limit: int | None = None
    allow_outcome_unknown: bool = False

    @classmethod
    def of(
        cls,
        pair: QueuePair,
        codes: Collection[str] = (),
        limit: int | None = None,
        *,
        allow_outcome_unknown: bool = False,
    ) -> Selection:
        return cls(pair, frozenset(codes), limit, allow_outcome_unknown)

    def place(self, letter: Letter, selected: int) -> Place:
        """Where ``letter`` goes, ``selected`` letters having been selected before it."""
        if self.codes and letter.code not in self.codes:
            return Place.NOT_SELECTED
        origin = letter.source_queue_arn
        if origin is None and not self.pair.sole_source:
            return Place.NO_QUEUE
        if origin is not None and origin != self.pair.requests.arn:
            return Place.OTHER_QUEUE
        if letter.code == WorkerErrorCode.OUTCOME_UNKNOWN and not self.allow_outcome_unknown:
            return Place.OUTCOME_UNKNOWN
        if self.limit is not None and selected >= self.limit:
            return Place.OVER_LIMIT
        return Place.SELECTED


def unmatched(codes: Iterable[str], met: Counter[tuple[str, Place]]) -> list[str]:
    """One phrase per ``--error-code`` that selects no letter of the request queue (a whole scan's ``met``)."""
    own = {code for (code, place), _ in met.items() if place in (Place.SELECTED, Place.OVER_LIMIT)}
    elsewhere = Counter({code: n for (code, place), n in met.items() if place.elsewhere})
    present = sorted({code for code, _ in met})
    phrases = []
    for code in sorted(set(codes) - own):
        name = f"--error-code {shown(code)}"
        if elsewhere[code]:
            phrases.append(f"{name}: only letters of other queues have it ({elsewhere[code]})")
            continue
        same = [other for other in present if other != code and other.casefold() == code.casefold()]
        if same:
            phrases.append(f"{name} matches no letter; codes are case-sensitive: did you mean {shown(same[0])}?")
            continue
        listed = ", ".join(shown(other) for other in present[:MAX_CODES_NAMED])
        more = f" and {len(present) - MAX_CODES_NAMED} more" if len(present) > MAX_CODES_NAMED else ""
        phrases.append(f"{name} matches no letter (present: {listed or 'none'}{more})")
    return phrases


def poison(codes: Iterable[str]) -> Counter[str]:
    """The poison ``ErrorCode``s among the letters a redrive selects, counted."""
    return Counter(code for code in codes if code in POISON)
