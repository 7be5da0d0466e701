"""Which background tasks an API process runs, built from its settings and stores.

The sealer is a singleton (one per deployment, elected by its Redis lock). The next
issues add theirs here: the lease reaper and SLA escalation, the webhook outbox and
retention as singletons, the lexicon reload listener per process.
"""

from __future__ import annotations

from api.audit import keyfile
from api.audit.sealer import Sealer, sealer_lock
from api.state import AppState
from api.store.replicas import ReplicaAcks
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
    return supervisor
