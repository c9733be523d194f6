"""Pure domain of the worker: request rules, idempotency, outcomes, events. No boto3, no Powertools."""
