"""Prometheus metrics of one process: turns, turn latency, handoffs, deliveries, LLM tokens, errors.

Callers record through :data:`METRICS` (``METRICS.observe_turn(...)``); ``GET /metrics`` on the web process
serves :meth:`RapportMetrics.render` in Prometheus's text format. Each process (web, worker) keeps its own
counts; Prometheus adds them up per dyno, as it does for any multi-process service.

Labels are small closed sets — platform, outcome, reason, component, error type — never a customer,
conversation or message id: every distinct label value is a time series kept forever, and an id in a
label would also put who wrote to the bot into the metrics store.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "METRICS", "RapportMetrics", "TokenKind", "TurnOutcome"]

# The classic text format, which every Prometheus (and Heroku's and Grafana's agents) reads; what
# generate_latest writes. prometheus-client's CONTENT_TYPE_LATEST names 1.0.0 since 0.22.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. Dense around the measured p50 (40 ms) and the p99 target (250 ms), so both can be read off.
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class TurnOutcome(StrEnum):
    ANSWERED = "answered"  # a reply was composed
    HANDED_OFF = "handed_off"  # the turn opened (or continued) a handoff to a person
    SILENT = "silent"  # no reply by design: a duplicate, an agent has the conversation
    FAILED = "failed"  # the turn raised; the error handler logged it


class TokenKind(StrEnum):
    PROMPT = "prompt"
    COMPLETION = "completion"


class RapportMetrics:
    """The metrics, in a registry of their own (tests build a fresh one; the process uses :data:`METRICS`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        # Resident memory and CPU of this process: what a 512 MB dyno runs out of first.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.turns = Counter("rapport_turns", "Turns finished, by platform and outcome.",
                             ["platform", "outcome"], registry=self.registry)
        self.turn_seconds = Histogram("rapport_turn_seconds", "Time one turn takes, from identifying the customer "
                                      "to its reply stored in the outbox, by platform.", ["platform"], buckets=LATENCY_BUCKETS,
                                      registry=self.registry)
        self.handoffs = Counter("rapport_handoffs", "Handoffs to a person opened, by platform and reason.",
                                ["platform", "reason"], registry=self.registry)
        self.deliveries = Counter("rapport_deliveries", "Replies confirmed sent by the platform.", ["platform"],
                                  registry=self.registry)
        self.delivery_failures = Counter("rapport_delivery_failures", "Send attempts that failed, by platform and "
                                         "reason (rate_limited, unavailable, rejected, ...).",
                                         ["platform", "reason"], registry=self.registry)
        self.llm_tokens = Counter("rapport_llm_tokens", "Tokens sent to and received from the LLM.", ["kind"],
                                  registry=self.registry)
        self.errors = Counter("rapport_errors", "Unexpected errors that reached the error handler, by component "
                              "and exception type.", ["component", "error"], registry=self.registry)

    def observe_turn(self, platform: str, outcome: TurnOutcome, seconds: float) -> None:
        """One finished turn: counted under its outcome, its duration in the latency histogram."""
        self.turns.labels(platform, TurnOutcome(outcome).value).inc()
        self.turn_seconds.labels(platform).observe(max(seconds, 0.0))

    def handoff_opened(self, platform: str, reason: str) -> None:
        """``reason``: the escalation's kind (asked for a person, negative sentiment, repeated misses, ...)."""
        self.handoffs.labels(platform, reason).inc()

    def delivered(self, platform: str) -> None:
        self.deliveries.labels(platform).inc()

    def delivery_failed(self, platform: str, reason: str) -> None:
        self.delivery_failures.labels(platform, reason).inc()

    def tokens_used(self, prompt: int, completion: int) -> None:
        """Token counts of one LLM call, as its usage reports them."""
        self.llm_tokens.labels(TokenKind.PROMPT.value).inc(max(prompt, 0))
        self.llm_tokens.labels(TokenKind.COMPLETION.value).inc(max(completion, 0))

    def error(self, component: str, error: BaseException) -> None:
        """An unexpected error in ``component`` (engine, delivery, slack, telegram, discord, web, ...).
        The exception's type only: its message may quote what a customer wrote."""
        self.errors.labels(component, type(error).__name__).inc()

    def render(self) -> bytes:
        """Every metric in Prometheus's text exposition format (serve with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


METRICS = RapportMetrics()
