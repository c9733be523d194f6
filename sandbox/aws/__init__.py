"""The embedded AWS: moto's server, SQS's own send rules in front of it, the stack deployed, and EventBridge tapped.

One module a part: :mod:`~sandbox.aws.server` (moto in server mode and clients pointed at it),
:mod:`~sandbox.aws.strict_sqs` (SQS's send rules, CONTRACT section 10), :mod:`~sandbox.aws.sqs` (send, drain,
attributes), :mod:`~sandbox.aws.stack` and :mod:`~sandbox.aws.template_values` (``template.yaml`` deployed into
moto's CloudFormation), :mod:`~sandbox.aws.deployed` (what was deployed, read back), :mod:`~sandbox.aws.event_tap`
(the bus as a subscriber sees it) and :mod:`~sandbox.aws.refusals` (entries refused in place, as EventBridge and
SQS refuse them).
"""
