"""Local stand-ins for the AWS services payment-session-worker talks to.

Importing the package puts SQS's own send rules in front of moto for every botocore session the process makes
afterwards (``sandbox.aws.strict_sqs``): the sandbox, the soak, the worker's processes and every test send only
what SQS itself accepts.
"""

from sandbox.aws import strict_sqs

strict_sqs.install()
