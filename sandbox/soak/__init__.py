"""Soak: thousands of requests through the sandbox, faults at every boundary, then the invariants.

``python -m sandbox.soak`` (``make soak``) runs three scenarios in turn (``--scenario NAME`` runs one;
``sandbox/soak/scenarios.py`` says what each does): **standard**, **backstop** (SQS's redrive policy moves
what the worker could not dead-letter) and **fifo** (FIFO queues, message groups). ``--requests N``,
``--pollers K`` (default 4, concurrent "Lambda instances"), ``--seed S``, ``--short`` (the version
``make test`` runs).

The sandbox is the real one, a :class:`sandbox.local_cloud.Sandbox`: moto in server mode, ``template.yaml``
deployed into it (with a visibility timeout and a function timeout of seconds, so that retries take seconds),
the local SQS event source running the real handler, the fake payments API over HTTP, and an EventBridge tap.
Faults, and how they are injected:

* payments API: random throttling (429) and 5xx (the fake's seeded ``throttle_rate``/``error_rate``); per
  request, scripted by client token: answers slower than the client's read timeout (``delay_next``, some on
  every attempt, so the session is created while the worker has given up), final errors, and throttling or
  5xx on every attempt of every receive until the worker (or, in the backstop scenario, SQS) dead-letters it;
* the worker's own ports, passed into its composition root (:class:`FaultyPorts`): ``PutEvents`` failing as
  a whole call, per entry, or with its answer lost after the events went out; the DLQ send failing the same
  three ways; and, by request, every event refused (the session exists, its announcement cannot go out) or
  the dead letter refused on several receives in a row (:class:`sandbox.aws.refusals.Refusals`);
* invocations, by wrapping the handler (:class:`InvocationFaults`): a short deadline in the context for
  some (records are cut off mid-batch), and some lost after the handler returned (Lambda hands the whole
  batch back, as when an invocation dies after its work);
* duplicate deliveries: the visibility timeout (2 or 3 s) is shorter than the slowest invocations (not in
  the FIFO scenario, whose visibility timeout outlasts the function's, as the template's does);
* the DLQ redriven back to the request queue by the operator's command, ``payment-session-worker dlq
  redrive`` (:mod:`sandbox.soak.operator`, in a process of its own), every ``ErrorCode`` but poison; one round
  runs under faults, then the cause is "fixed" (faults off) and the DLQ is redriven until only poison is left;
* poison bodies mixed in (malformed JSON, unknown fields, wrong types, a foreign payment manager, the
  worker's own events, broken envelopes).

The worker runs on :class:`FaultyPorts` (its AWS ports, two of them faulty), with a payments client
whose read timeout is 1 s (production: 10 s), so that "slower than the client timeout" costs 1.5 s.

Invariants checked at the end (exit status 1 when one fails): every request accounted for (created, failed
or dead-lettered; the request queue drained, nothing in flight) and ended exactly once; one session per
request and per client token at the API; no poison at the API (every call carries a valid request's token, no
session carries a poison body's data); every created session announced at least once, and none announced as
failed; on FIFO, the API saw each group's requests in the order they were sent.
"""

from __future__ import annotations

from sandbox.soak.injection import NO_FAULTS, CallFaults, FaultyPorts, InvocationFaults
from sandbox.soak.operator import Operator, RedriveRound, redrive_round
from sandbox.soak.report import Accounting, SoakReport, account_requests, order_violations
from sandbox.soak.run import run_soak
from sandbox.soak.scenarios import SCENARIOS, SoakOptions, scenario
from sandbox.soak.workload import SHORT_REQUESTS, Fate, Mix, Request, build_requests

__all__ = [
    "NO_FAULTS",
    "SCENARIOS",
    "SHORT_REQUESTS",
    "Accounting",
    "CallFaults",
    "Fate",
    "FaultyPorts",
    "InvocationFaults",
    "Mix",
    "Operator",
    "RedriveRound",
    "Request",
    "SoakOptions",
    "SoakReport",
    "account_requests",
    "build_requests",
    "order_violations",
    "redrive_round",
    "run_soak",
    "scenario",
]
