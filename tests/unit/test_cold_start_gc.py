"""The cold start runs without the cyclic garbage collector, and the first build turns it back on."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import MANAGER_ARN, ROOT

CODE = """
import gc
import handlers.create_payment_session
from handlers import dependencies
during_import = gc.isenabled()
dependencies.get_dependencies()
print(during_import, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def test_the_collector_is_off_while_the_handler_loads_and_back_on_once_the_clients_are_built():
    # Given a fresh interpreter with the worker's environment (nothing is called: building makes no request)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PAYMENT_MANAGER_ARN": MANAGER_ARN,
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    }

    # When it imports the handler module, then builds the wiring as the first invocation does
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True, timeout=60)

    # Then the collector was off during the import, is on afterwards, and what was built is frozen
    assert done.stdout.split() == ["False", "True", "True"]
