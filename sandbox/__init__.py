"""Local stand-ins for the AWS services payment-session-worker talks to."""
