"""Which background tasks an API process runs, built from its settings and stores.

The sealer is a singleton (one per deployment, elected by its Redis lock). The next
issues add theirs here: the lease reaper and SLA escalation, the webhook outbox and
retention as singletons, the lexicon reload listener per process.
"""

from __future__ import annotations

from api.audit import keyfile
from api.audit.sealer import Sealer, sealer_lock
from api.lexicon_live import LexiconReloader
from api.state import AppState
from api.store import keys
from api.store.replicas import ReplicaAcks
from api.workers.lock import RedisLock
from api.workers.outbox import OutboxWorker, outbox_lock
from api.workers.supervisor import Supervisor


def build_supervisor(state: AppState) -> Supervisor:
    settings = state.settings
    supervisor = Supervisor(state.redis)
    if settings.sealer_enabled:
        lock = sealer_lock(state.redis)
        key = keyfile.load_or_create(settings.audit_key_path)  # one file shared by the host
        sealer = Sealer(state.redis, settings.audit_path, key,
                        tail_keep=settings.audit_redis_tail,
                        retention_days=settings.retention_days, lock=lock,
                        acks=ReplicaAcks.from_settings(settings))
        supervisor.singleton("audit-sealer", settings.sealer_interval_s, sealer.seal_pass,
                             lock=lock)
    add_review_tasks(supervisor, state)
    if settings.webhook_worker_enabled:
        worker = OutboxWorker(state.redis, settings, state.webhooks)
        supervisor.singleton("webhook-outbox", settings.webhook_poll_s, worker.run_round,
                             lock=outbox_lock(state.redis), on_stop=worker.stop)
    return supervisor


def add_review_tasks(supervisor: Supervisor, state: AppState) -> None:
    """The review workflow's singleton: first the old single queue's migration, then each
    round returns expired leases to their queues and applies the SLA (overdue first,
    escalation at twice the SLA); see `api.store.claims` and `api.store.sla`."""
    review, settings = state.review, state.settings
    lock = RedisLock(state.redis, keys.REVIEW_LOCK,
                     ttl_ms=max(5000, int(settings.review_interval_s * 5000)))

    async def review_upkeep() -> None:
        await review.sla.migrate()
        await review.claims.reap()
        await review.sla.upkeep()

    supervisor.singleton("review-upkeep", settings.review_interval_s, review_upkeep, lock=lock)


def add_lexicon_reload(supervisor: Supervisor, reloader: LexiconReloader) -> None:
    """The lexicon reload listener: per process (every process serves the new version).

    Each round waits up to `poll_s` for an announcement, then compares versions, so the
    loop itself needs no pause between rounds."""
    supervisor.every("lexicon-reload", 0.01, reloader.run)
