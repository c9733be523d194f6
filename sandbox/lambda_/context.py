"""The one fake of Lambda's context object, for the sandbox's event source, ``sandbox invoke``, tests and bench.

It holds what the handler and Powertools read: names, memory size, request ID and a real deadline, so that
``get_remaining_time_in_millis()`` counts down as Lambda's does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_FUNCTION_NAME: Final = "payment-session-worker"
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_ACCOUNT: Final = "123456789012"


@dataclass
class LambdaContext:
    """Enough of Lambda's context object for the handler and Powertools; the deadline is real."""

    timeout_seconds: float = 30.0
    function_name: str = DEFAULT_FUNCTION_NAME
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    clock: Callable[[], float] = time.monotonic
    deadline: float = field(default=0.0)  # clock() at which the invocation times out; set from the timeout

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = self.clock() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (never negative)."""
        return max(0, int((self.deadline - self.clock()) * 1000))
