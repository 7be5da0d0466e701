"""Background work of an API process, under one supervisor started in the lifespan.

Tasks that must run once per deployment (the audit sealer now; the lease reaper, SLA
escalation, webhook outbox and retention later) hold a Redis lock with a TTL that they
renew, so exactly one process runs each while any is alive; per-process tasks run
everywhere. See `supervisor.Supervisor`.
"""
