"""Adapters: the only place boto3 is imported. Each is named for what it talks to."""
