"""Prometheus metrics: decisions by outcome and category, latency, queue depth and age,
and the store's health (`moderation_store_up`, unavailable and full answers).

Counters and histograms live in each process (in `PROMETHEUS_MULTIPROC_DIR` when `serve`
runs several workers, so a scrape sees them all); queue depth and the oldest pending age
are read from Redis at scrape time, so every process reports the same shared queue.
`STORE_RESTARTS` is counted in the `serve` process itself (its watchdog), which has
`PROMETHEUS_MULTIPROC_DIR` set before it imports this module when it runs several workers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

DECISIONS = Counter("moderation_decisions_total", "Decisions by outcome and channel",
                    ["decision", "channel"])
CATEGORIES = Counter("moderation_decision_categories_total",
                     "Reasons of non-pass decisions by category", ["category", "decision"])
STORE_UNAVAILABLE = Counter("moderation_store_unavailable_total",
                            "Requests answered in degraded mode (Redis unreachable)")
STORE_RESTARTS = Counter("moderation_store_restarts_total",
                         "Restarts of the embedded Redis by serve's watchdog after it died")
STORE_FULL = Counter("moderation_store_full_total",
                     "Requests (batch: items) refused a write because Redis is out of memory "
                     "(maxmemory reached)")
LATENCY = Histogram("moderation_request_seconds", "Time to answer, by route", ["route"],
                    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

WEBHOOK_DELIVERIES = Counter("moderation_webhook_deliveries_total",
                             "Webhook delivery attempts by outcome: delivered (2xx), failed "
                             "(other status, timeout, network), refused (non-public address), "
                             "dropped (no webhook registered, or the item is gone)",
                             ["outcome"])

CONTENT_TYPE = CONTENT_TYPE_LATEST


def record_decision(decision: dict) -> None:
    DECISIONS.labels(decision["decision"], decision["channel"]).inc()
    if decision["decision"] != "pass":
        for cat in {r.get("category") for r in decision.get("reasons", ())}:
            if cat:
                CATEGORIES.labels(cat, decision["decision"]).inc()


def queue_lines(queues: list | None) -> list[str]:
    """Per review queue: items waiting, overdue ones, and the oldest waiting age."""
    if not queues:
        return []
    lines = []
    for metric, help_, attr in (
            ("moderation_review_queue_depth", "Items waiting in a review queue", "depth"),
            ("moderation_review_overdue_items", "Items waiting past their SLA deadline",
             "overdue"),
            ("moderation_review_oldest_age_seconds", "Time the oldest item has waited in a "
             "review queue", "oldest_age_s")):
        lines += [f"# HELP {metric} {help_}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{queue="{q.name}"}} {getattr(q, attr) or 0}' for q in queues]
    return lines


def render(queue_depth: int | None, oldest_age: float | None, *,
           store_up: bool | None = None, queues: list | None = None) -> bytes:
    """The exposition text: this process's (or all workers') metrics plus the queue gauges.

    `store_up` defaults to "the queue could be read"; /metrics passes "and a write worked".
    """
    if store_up is None:
        store_up = queue_depth is not None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    lines = [
        "# HELP moderation_pending_items Items waiting for review (all review queues)",
        "# TYPE moderation_pending_items gauge",
        f"moderation_pending_items {queue_depth if queue_depth is not None else 'NaN'}",
        "# HELP moderation_oldest_pending_age_seconds Age of the oldest pending item",
        "# TYPE moderation_oldest_pending_age_seconds gauge",
        f"moderation_oldest_pending_age_seconds {oldest_age if oldest_age is not None else 0}",
        "# HELP moderation_store_up 1 when Redis answered this scrape and accepted a write",
        "# TYPE moderation_store_up gauge",
        f"moderation_store_up {1 if store_up else 0}",
        *queue_lines(queues),
    ]
    return text + ("\n".join(lines) + "\n").encode()


def webhook_gauges(counts: dict[str, int] | None) -> bytes:
    """The outbox gauges, read from Redis at scrape time (NaN when Redis did not answer)."""
    failing = counts["failing"] if counts is not None else "NaN"
    waiting = counts["waiting"] if counts is not None else "NaN"
    lines = [
        "# HELP moderation_webhook_failing Webhook deliveries past their first retries "
        "(still retried)",
        "# TYPE moderation_webhook_failing gauge",
        f"moderation_webhook_failing {failing}",
        "# HELP moderation_webhook_outbox Webhook deliveries not yet acknowledged",
        "# TYPE moderation_webhook_outbox gauge",
        f"moderation_webhook_outbox {waiting}",
    ]
    return ("\n".join(lines) + "\n").encode()
