"""The figures of `GET /v1/stats`: counts by status and queue, overdue items, time to
verdict, verdicts per reviewer per day, QA agreement with a 95 % Wilson interval, and the
webhook outbox (`api.store.outbox.counts`).

Counts of waiting items come from the queues themselves; `approved` and `rejected` are
totals of final verdicts given (kept by the verdict script), since decided items expire.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from api.store import keys, outbox
from api.store.queues import APPEALS, ESCALATED, QA, queue_stats

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without a sample): unlike the normal
    approximation it stays inside [0, 1] and is honest for small samples and p near 0 or 1."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(agree: int, n: int) -> dict[str, Any]:
    interval = wilson(agree, n)
    err = wilson(n - agree, n)
    return {"n": n, "agree": agree,
            "agreement": round(agree / n, 6) if n else None,
            "agreement_interval95": [round(x, 6) for x in interval] if interval else None,
            "machine_error_rate": round((n - agree) / n, 6) if n else None,
            "machine_error_interval95": [round(x, 6) for x in err] if err else None}


def qa_figures(raw: dict[str, str]) -> dict[str, Any]:
    out = _rate(int(raw.get("agree", 0)), int(raw.get("n", 0)))
    groups: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        parts = field.rsplit(":", 2)
        if len(parts) == 3:
            groups.setdefault(f"{parts[0]}:{parts[1]}", {})[parts[2]] = int(value)
    out["by_channel_decision"] = {k: _rate(v.get("agree", 0), v.get("n", 0))
                                  for k, v in sorted(groups.items())}
    return out


async def stats(r: aioredis.Redis, channels: list[str], *, days: int = 14) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    queues = [*channels, ESCALATED, APPEALS, QA]
    per_queue = await queue_stats(r, queues, now_ms)
    today = datetime.now(UTC).date()
    day_names = [(today - timedelta(days=d)).isoformat() for d in range(days)]
    pipe = r.pipeline(transaction=False)
    pipe.zcard(keys.CLAIMS)
    pipe.hgetall(keys.REVIEW_COUNTS)
    pipe.lrange(keys.REVIEW_TTV, 0, -1)
    pipe.hgetall(keys.REVIEW_QA)
    for d in day_names:
        pipe.hgetall(keys.verdicts_day(d))
    claimed, counts, ttv, qa_raw, *per_day = await pipe.execute()
    depth = {q.name: q.depth for q in per_queue}
    ttv_s = [int(x) / 1000 for x in ttv]
    return {
        "by_status": {
            "pending": sum(depth[c] for c in channels),
            "claimed": int(claimed),
            "escalated": depth[ESCALATED],
            "appealed": depth[APPEALS],
            "approved": int(counts.get("approved", 0)),
            "rejected": int(counts.get("rejected", 0)),
        },
        "queues": {q.name: q.to_dict() for q in per_queue},
        "overdue": sum(q.overdue for q in per_queue),
        "median_time_to_verdict_s": round(statistics.median(ttv_s), 3) if ttv_s else None,
        "time_to_verdict_sample": len(ttv_s),
        "verdicts_per_reviewer_per_day": {
            d: {u: int(n) for u, n in sorted(v.items())}
            for d, v in zip(day_names, per_day, strict=True) if v},
        "qa": qa_figures(qa_raw),
        "webhooks": await outbox.counts(r),
    }
