"""A local fake of Amazon Bedrock AgentCore's ``CreatePaymentSession`` and ``GetPaymentSession`` APIs.

The fake speaks the real wire protocol (rest-json over HTTP/1.1), so an unmodified boto3 client pointed at
it with ``endpoint_url`` works against it. What it knows about each operation it serves (route, success
status, input members and their constraints, error codes and their HTTP statuses, the output shape) is read
at runtime from botocore's service model for ``bedrock-agentcore``, so it follows the model when botocore is
upgraded; the operations served are :data:`~sandbox.agentcore.operation.OPERATION_NAMES`.

Behaviour, and the decisions taken where the model says nothing:

* Authentication: the SigV4 signature is not verified, but the request must carry an ``Authorization``
  header using the ``AWS4-HMAC-SHA256`` scheme. Without one the answer is 403
  ``MissingAuthenticationTokenException``, as AWS answers an unsigned request. A method and path of no
  operation the fake serves answer 404 ``UnknownOperationException``.
* Validation: every constraint of the input shape is enforced (required, length, range, pattern, enum and
  the JSON type of each member). Violations answer 400 ``ValidationException`` with reason
  ``FieldValidationFailed`` and a ``fieldList`` naming every offending member by its dotted path
  (``limits.maxSpendAmount.currency``). A body that is not a JSON object answers reason ``CannotParse``.
  Unknown members are ignored, as AWS rest-json services do, and JSON ``null`` counts as absent.
  Header-bound members are decoded as UTF-8, without the surrounding whitespace HTTP allows.
* Idempotency: the same ``clientToken`` with the same parameters returns the session it created first
  (same body, 201); with different parameters it answers ``ValidationException`` with reason
  ``IdempotentParameterMismatchException``. A request without a token always creates a new session.
* Output: ``userId`` is required in the output shape; when the request had none it is ``""``. ``limits``
  and ``availableLimits`` (equal to the limits at creation) are present only when the request gave limits.
  Every response is checked against the operation's output shape before it is sent.
* ``GetPaymentSession`` returns a session the fake created exactly as ``CreatePaymentSession`` returned it.
  Assumption of the fake (the model does not say): sessions are scoped to their payment manager and user, so
  another manager's ARN, or a ``userId`` header other than the session's, answers 404
  ``ResourceNotFoundException`` as an unknown ID does (see :mod:`.state`).
* Faults: a fixed latency, seeded random throttling (429) and internal errors (500), for every call of every
  operation, and scripted faults (:meth:`SandboxState.fail_next`, :meth:`SandboxState.delay_next`) for the
  next calls of one operation (``operation``, ``CreatePaymentSession`` unless given). Faults are decided
  before the request is validated and before any session is created, so a faulted call creates nothing. The
  random draw is one number per call, so for a given seed the n-th call always has the same fate.
* Control endpoints (not part of the AWS API, no authentication), JSON in and out:
  ``GET /_sandbox/stats[?sessions=false]`` (:meth:`SandboxState.snapshot`), ``POST /_sandbox/faults``
  (any of ``latency_ms``, ``throttle_rate``, ``error_rate``, ``seed``), ``POST /_sandbox/script``
  (``code`` and the keyword arguments of :meth:`SandboxState.fail_next`, ``operation`` included; without
  ``code``, a delay as :meth:`SandboxState.delay_next`) and ``POST /_sandbox/reset``. Invalid settings
  answer 400.

Run it on its own with ``python -m sandbox.agentcore --port 4566``; it prints its endpoint URL.

Modules: :mod:`.operation` (what the model says of the operations, the route table), :mod:`.shapes`
(validation against a shape), :mod:`.wire` (decoding a request, error answers), :mod:`.faults` (random and
scripted faults), :mod:`.state` (sessions, counters), :mod:`.server` (HTTP), ``__main__`` (the command line).
"""

from __future__ import annotations

from sandbox.agentcore.faults import FaultSettings
from sandbox.agentcore.operation import ApiSpec, OperationSpec, load_api_spec, load_operation_spec
from sandbox.agentcore.server import PaymentsApiServer
from sandbox.agentcore.state import SandboxState

__all__ = [
    "ApiSpec",
    "FaultSettings",
    "OperationSpec",
    "PaymentsApiServer",
    "SandboxState",
    "load_api_spec",
    "load_operation_spec",
]
