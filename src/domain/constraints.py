"""Constraints of the AWS APIs the worker calls: ``CreatePaymentSession`` as botocore's service model states
them (API 2024-02-28), and the entries one batch call of SQS or EventBridge takes.

``tests/unit/test_model_agreement.py`` loads the models and proves every figure here agrees with them (SQS's
batch limit is documented, not modelled: its figure is EventBridge's, which the model states).
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

PAYMENT_MANAGER_ARN_PATTERN: Final = (
    r"arn:(aws|aws-[a-z0-9-]+):bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:"
    r"payment-manager/[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?-[a-z0-9]{10}"
)
PAYMENT_MANAGER_ARN_MIN: Final = 66
PAYMENT_MANAGER_ARN_MAX: Final = 2048

USER_ID_MIN: Final = 0
USER_ID_MAX: Final = 120

AGENT_NAME_MIN: Final = 0
AGENT_NAME_MAX: Final = 256

EXPIRY_MIN: Final = 15
EXPIRY_MAX: Final = 480

CLIENT_TOKEN_PATTERN: Final = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}"
CLIENT_TOKEN_MIN: Final = 33
CLIENT_TOKEN_MAX: Final = 256

# limits.maxSpendAmount.value (AmountValue): a string of 1..40 characters matching this pattern.
AMOUNT_VALUE_PATTERN: Final = r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?"
AMOUNT_VALUE_MIN: Final = 1
AMOUNT_VALUE_MAX: Final = 40

# GetPaymentSession's paymentSessionId: what a dead letter's PaymentSessionId must look like to be looked up.
PAYMENT_SESSION_ID_PATTERN: Final = r"payment-session-[0-9a-zA-Z-]{15}"
PAYMENT_SESSION_ID_MIN: Final = 31
PAYMENT_SESSION_ID_MAX: Final = 31

Currency = Literal["USD"]
CURRENCIES: Final = get_args(Currency)

# Our own rule (CONTRACT section 1), not the model's: correlationId is echoed in events and logs.
CORRELATION_ID_MIN: Final = 1
CORRELATION_ID_MAX: Final = 128

# Entries one batch call takes: EventBridge ``PutEvents``, SQS ``SendMessageBatch`` and
# ``ChangeMessageVisibilityBatch`` (CONTRACT section 10). Every batch of the worker is cut to it.
MAX_BATCH_ENTRIES: Final = 10

# AWS patterns are whole-value matches.
PAYMENT_MANAGER_ARN_RE: Final = re.compile(PAYMENT_MANAGER_ARN_PATTERN)
CLIENT_TOKEN_RE: Final = re.compile(CLIENT_TOKEN_PATTERN)
AMOUNT_VALUE_RE: Final = re.compile(AMOUNT_VALUE_PATTERN)
PAYMENT_SESSION_ID_RE: Final = re.compile(PAYMENT_SESSION_ID_PATTERN)
