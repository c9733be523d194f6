"""A soak's :class:`Mix`: shares by fate, checked when it is made, and what it draws."""

from __future__ import annotations

import random
import re

import pytest

from sandbox.soak.workload import DRAWN_FATES, Fate, Mix, build_requests


@pytest.mark.parametrize(
    ("shares", "changes", "message"),
    [
        ({Fate.SLOW: -0.01}, {}, "the share of slow must be between 0 and 1, not -0.01"),
        ({Fate.FINAL: 1.5}, {}, "the share of final must be between 0 and 1, not 1.5"),
        ({Fate.EXHAUSTED: 0.6, Fate.UNPUBLISHED: 0.5}, {}, "the shares of a mix must add up to at most 1, not 1.1"),
        ({Fate.PLAIN: 0.5}, {}, "a mix's shares are by fate, of final, exhausted, slow, slow-every-attempt, "),
        ({Fate.POISON: 0.1}, {}, "not poison"),
        ({"final": 0.1}, {}, "not 'final'"),
        ({}, {"refuse_dead_letters": 2.0}, "refuse_dead_letters must be between 0 and 1, not 2.0"),
        ({}, {"refuse_always": -1.0}, "refuse_always must be between 0 and 1, not -1.0"),
    ],
)
def test_a_mix_with_a_share_out_of_bounds_or_of_no_drawn_fate_is_refused_with_a_clear_error(shares, changes, message):
    # When a mix is made with a share below 0 or above 1, shares over 1 in all, or a share of a fate it does not draw
    # Then it is refused, in words that name the share
    with pytest.raises(ValueError, match=re.escape(message)):
        Mix(shares, **changes)


def test_a_mix_whose_shares_add_up_to_one_is_accepted_and_never_draws_plain():
    # Given shares that add up to 1 only when summed exactly (0.1 + 0.2 + 0.7 is 1.0000000000000002 in floats)
    mix = Mix({Fate.FINAL: 0.1, Fate.SLOW: 0.2, Fate.UNPUBLISHED: 0.7})
    rng = random.Random(3)

    # When it draws
    drawn = {mix.fate(rng)[0] for _ in range(500)}

    # Then every request gets one of its fates, none is left plain
    assert drawn == {Fate.FINAL, Fate.SLOW, Fate.UNPUBLISHED}


@pytest.mark.parametrize("fate", DRAWN_FATES)
def test_a_mix_draws_each_fate_with_one_of_its_codes(fate):
    # Given a mix that gives every request one fate
    mix = Mix({fate: 1.0})
    rng = random.Random(5)

    # When it draws
    drawn = [mix.fate(rng) for _ in range(50)]

    # Then each draw is that fate, with one of its codes, or none ("") when it has no codes
    assert {f for f, _ in drawn} == {fate}
    assert {code for _, code in drawn} == (set(fate.codes) if fate.codes else {""})


def test_a_mix_keeps_the_shares_it_was_made_with():
    # Given a mix made from a dict of shares
    shares = {Fate.SLOW: 0.5}
    mix = Mix(shares)

    # When the dict changes, or someone writes to the mix's shares
    shares[Fate.FINAL] = 0.9
    with pytest.raises(TypeError):
        mix.shares[Fate.FINAL] = 0.9  # type: ignore[index]

    # Then the mix still has the shares it was made with
    assert dict(mix.shares) == {Fate.SLOW: 0.5}


def test_the_dlq_refuses_the_letters_of_the_dead_lettered_fates_only():
    # Given a mix whose DLQ refuses every letter it concerns, on every send
    mix = Mix({Fate.EXHAUSTED: 0.2, Fate.UNPUBLISHED: 0.2, Fate.FINAL: 0.2, Fate.SLOW: 0.2}, refuse_dead_letters=1.0)

    # When the soak's requests are drawn
    requests = build_requests(200, 11, poison_share=0.1, own_source="payments.session-worker", mix=mix)

    # Then the exhausted, unpublished and poison requests have their letters refused, the others none
    assert {r.fate for r in requests} == {*mix.shares, Fate.PLAIN, Fate.POISON}
    for request in requests:
        assert request.dead_letter_refusals == (None if request.fate.dead_lettered else 0), request
    assert {f for f in Fate if f.dead_lettered} == {Fate.EXHAUSTED, Fate.UNPUBLISHED, Fate.POISON}
