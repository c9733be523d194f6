"""A soak's :class:`SoakOptions`: its message groups and its stack's FIFO queues agree, or it is not made."""

from __future__ import annotations

import pytest

from sandbox.soak.scenarios import scenario, soak_stack


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("standard", {"groups": 3}),
        ("fifo", {"groups": 0}),
        ("standard", {"stack": soak_stack(fifo=True)}),
    ],
    ids=["groups on standard queues", "FIFO queues without groups", "FIFO stack without groups"],
)
def test_options_whose_message_groups_and_fifo_queues_disagree_are_refused(name, changes):
    # When a scenario is changed so that its requests have groups its queues cannot keep, or none that FIFO needs
    # Then the options are refused, in words that say why
    with pytest.raises(ValueError, match="message groups need FIFO queues, and FIFO queues need message groups"):
        scenario(name, **changes)
