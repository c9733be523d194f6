"""Benchmarks of the worker against bare boto3 baselines, run in the same session; ``python -m bench``.

Every figure is measured beside its baseline and reported as a ratio with its target. Nothing here runs in
``make test``: timings belong to ``make bench`` only.
"""
