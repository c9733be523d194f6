"""The cold start's one tweak (handlers/cold_start.py): the collector pauses, and is handed back as it was found."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from handlers.cold_start import collector_paused
from tests.support import MANAGER_ARN, ROOT

CODE = """
import gc, sys
if sys.argv[1] == "off":
    gc.disable()
before = gc.isenabled()
import handlers.create_payment_session
from handlers import dependencies
after_import = gc.isenabled()
dependencies.get_dependencies()
print(before, after_import, gc.isenabled(), gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("state", "expected"), [("on", "True"), ("off", "False")])
def test_importing_the_handler_and_building_the_wiring_leave_the_collector_as_they_found_it(state, expected):
    # Given a fresh interpreter with the worker's environment, its collector on or off
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OTEL_TRACES_EXPORTER": "none",
        "PAYMENT_MANAGER_ARN": MANAGER_ARN,
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    }

    # When it imports the handler module, then builds the wiring as the first invocation does
    done = subprocess.run(
        [sys.executable, "-c", CODE, state], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    # Then the collector is as it was after each step, and what the cold start built is frozen
    assert done.stdout.split() == [expected, expected, expected, "True"]


def test_the_collector_is_off_inside_the_pause_and_back_on_after_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_inside_a_pause_does_not_turn_the_collector_on_early():
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_pause_hands_the_collector_back_even_when_the_block_raises():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the build failed")
    assert gc.isenabled()
