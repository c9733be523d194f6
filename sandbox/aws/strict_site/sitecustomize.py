"""Run by Python at start-up in the processes the sandbox starts with ``strict_sqs.child_environment``
(this directory first on ``PYTHONPATH``): the operator's command, unmodified, sends through SQS's own rules."""

import sandbox  # noqa: F401 - importing the sandbox installs sandbox.aws.strict_sqs
