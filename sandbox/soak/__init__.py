"""Soak: thousands of requests through the sandbox, faults at every boundary, then the invariants.

``python -m sandbox.soak`` (``make soak``): ``--requests N`` (default 2000), ``--pollers K`` (default 4,
concurrent "Lambda instances"), ``--seed S``, ``--short`` (150 requests: the version ``make test`` runs).

The sandbox is the real one: moto in server mode, ``template.yaml`` deployed into it (with a 3 s visibility
timeout and a 10 s function timeout, so that retries take seconds), the local SQS event source running the
real handler, the fake payments API over HTTP, and an EventBridge tap. Faults, and how they are injected:

* payments API: random throttling (429) and 5xx (the fake's seeded ``throttle_rate``/``error_rate``); per
  request, scripted by client token: answers slower than the client's read timeout (``delay_next``, some on
  every attempt, so the session is created while the worker has given up), final errors, and throttling or
  5xx on every attempt of every receive until the worker dead-letters it;
* the worker's own ports, by composition (:func:`wire`): ``PutEvents`` failing as a whole call, per entry,
  or with its answer lost after the events went out; the DLQ send failing the same three ways;
* invocations, by wrapping the handler (:class:`InvocationFaults`): a short deadline in the context for
  some (records are cut off mid-batch), and some lost after the handler returned (Lambda hands the whole
  batch back, as when an invocation dies after its work);
* duplicate deliveries: the visibility timeout (3 s) is shorter than the slowest invocations;
* a DLQ redrive back to the request queue (:func:`redrive`): new message IDs, attributes kept; a message the
  queue's own redrive policy moved (no ``ClientToken`` attribute) gets the token the worker derived from its
  message ID, which SQS keeps when it moves a message. One round runs under faults, then the cause is
  "fixed" (faults off) and the DLQ is redriven until only poison is left;
* poison bodies mixed in (malformed JSON, unknown fields, wrong types, a foreign payment manager, the
  worker's own events, broken envelopes).

The worker runs on :func:`wire` (``dependencies.build`` with the faulty ports), with a payments client
whose read timeout is 1 s (production: 10 s), so that "slower than the client timeout" costs 1.5 s.

Invariants checked at the end (exit status 1 when one fails): every request accounted for (created, failed
or dead-lettered; the request queue drained, nothing in flight); one session per request and per client
token at the API; no poison at the API (every call carries a valid request's token, no session carries a
poison body's data); every created session announced at least once.
"""

from __future__ import annotations

from sandbox.soak.injection import NO_FAULTS, CallFaults, InvocationFaults, Wiring, wire
from sandbox.soak.redrive import RedriveRound, redrive
from sandbox.soak.report import SoakReport, account_requests
from sandbox.soak.run import SoakOptions, run_soak
from sandbox.soak.workload import SHORT_REQUESTS, Request, build_requests

__all__ = [
    "NO_FAULTS",
    "SHORT_REQUESTS",
    "CallFaults",
    "InvocationFaults",
    "RedriveRound",
    "Request",
    "SoakOptions",
    "SoakReport",
    "Wiring",
    "account_requests",
    "build_requests",
    "redrive",
    "run_soak",
    "wire",
]
