"""The soak's seeded draws: a seed gives the same requests, with the same fates in the same order, every time.

The figures below were taken before the fates got their one definition; they hold each scenario to them.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

import pytest

from sandbox.soak.scenarios import BACKSTOP_MIX, DEFAULT_SEED, STANDARD_MIX, scenario
from sandbox.soak.workload import Fate, Request, build_requests

OWN_SOURCE = "payments.session-worker"


def _drawn(drawn: tuple[Fate, str]) -> str:
    """A fate :meth:`Mix.fate` drew, with its code, as ``kind`` or ``kind:code``."""
    fate, code = drawn
    return f"{fate.label}:{code}" if code else fate.label


def _arranged(request: Request) -> str:
    """The fate the soak arranged for ``request``, as ``kind`` or ``kind:code``."""
    return _drawn((request.fate, request.code))


def _requests(name: str, *, short: bool) -> list[Request]:
    options = scenario(name, short=short)
    return build_requests(
        options.requests,
        options.seed,
        poison_share=options.poison_share,
        own_source=OWN_SOURCE,
        mix=options.mix,
        groups=options.groups,
    )


def _digest(requests: list[Request]) -> str:
    lines = (
        f"{r.index} {_arranged(r)} {r.dead_letter_refusals} {r.group} {r.body_token} {r.user_id} {r.body}"
        for r in requests
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def test_the_standard_seed_draws_the_same_first_fates():
    # Given the standard mix and the default seed
    requests = build_requests(20, DEFAULT_SEED, poison_share=0.05, own_source=OWN_SOURCE, mix=STANDARD_MIX)

    # Then the first twenty requests have the fates they always had, in the same order
    assert [_arranged(r) for r in requests] == [
        *["plain"] * 3,
        "slow-every-attempt",
        "plain",
        "poison:malformed",
        *["plain"] * 8,
        "slow",
        "plain",
        "slow",
        *["plain"] * 3,
    ]


def test_a_mix_draws_the_same_fates_from_the_same_generator():
    # Given the backstop mix and a generator seeded with 7
    rng = random.Random(7)

    # When it draws twelve fates
    drawn = [BACKSTOP_MIX.fate(rng) for _ in range(12)]

    # Then they are the ones it always drew, codes included
    throttled, five_xx = "exhausted:ThrottlingException", "exhausted:InternalServerException"
    assert [_drawn(d) for d in drawn] == [
        "unpublished",
        throttled,
        throttled,
        "unpublished",
        throttled,
        five_xx,
        "unpublished",
        five_xx,
        throttled,
        *["plain"] * 3,
    ]


@pytest.mark.parametrize(
    ("name", "short", "fates", "digest"),
    [
        (
            "standard",
            False,
            {"plain": 1621, "slow-every-attempt": 55, "poison": 96, "slow": 100, "exhausted": 72, "final": 56},
            "1cc244fe6781d504",
        ),
        (
            "standard",
            True,
            {"plain": 70, "slow-every-attempt": 3, "poison": 7, "final": 7, "slow": 7, "exhausted": 6},
            "41fe09df6a023773",
        ),
        (
            "backstop",
            False,
            {"plain": 160, "unpublished": 85, "exhausted": 101, "poison": 33, "slow": 21},
            "c704c91cda529f3f",
        ),
        ("backstop", True, {"plain": 16, "unpublished": 4, "exhausted": 5, "poison": 4, "slow": 1}, "c7401d8d8e28753e"),
        (
            "fifo",
            False,
            {"plain": 490, "poison": 27, "slow": 36, "exhausted": 10, "final": 26, "slow-every-attempt": 11},
            "50bc0dedc7787ebd",
        ),
        ("fifo", True, {"plain": 26, "poison": 4, "final": 2, "slow": 4}, "124ea657ebd304e4"),
    ],
)
def test_each_scenario_draws_the_same_requests_from_its_seed(name, short, fates, digest):
    # Given a scenario's options, long or short
    # When its requests are built twice from its seed
    requests, again = _requests(name, short=short), _requests(name, short=short)

    # Then they are the same both times, with the fates by kind, refusals, groups and bodies they always had
    assert _digest(requests) == _digest(again) == digest
    assert Counter(r.fate.label for r in requests) == fates
