"""High availability on Redis Sentinel (CONTRACTS.md), with real processes only: a primary,
two replicas, three Sentinels and two `moderation serve` processes on free loopback ports
(scripts/ha/ha_set.py). 8 clients post review-bound items to both API processes; replication
is cut (each replica's link to the primary is closed and the replica frozen with SIGSTOP, so
nothing written from then on reaches it), the primary is killed with SIGKILL and the
Sentinels promote a replica.

With MIN_REPLICA_ACKS=1: no 500 at any time, every item answered 200 is readable afterwards
through either process, both serve again within 10 s of the promotion, the audit chain
verifies, and the sealer (a singleton task) moves to the other process when its holder is
killed. With MIN_REPLICA_ACKS=0 the same run reports the window of acknowledged items that
was lost (no assertion that it is zero)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api_test_support import bearer

from api.store import keys

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ha_set", REPO / "scripts" / "ha" / "ha_set.py")
assert _spec is not None and _spec.loader is not None
ha_set = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ha_set)

CONTENT = "身份证110101199003074514"  # personal data: `review`, the item waits in the queue
CLIENTS = 8


@dataclass
class Answer:
    data_id: str
    api: int
    t: float
    status: int | str  # "EXC: …" when no HTTP answer came
    body: dict


class Traffic:
    """8 clients posting new review-bound items, alternating between the API processes."""

    def __init__(self, ha: ha_set.HaSet, key: str) -> None:
        self.ha, self.key = ha, key
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(c,), daemon=True)
                         for c in range(CLIENTS)]

    def _client(self, c: int) -> None:
        with httpx.Client(timeout=10) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                api, data_id = (c + n) % 2, f"c{c}-{n}"
                try:
                    r = http.post(self.ha.api_url(api) + "/v1/moderate", headers=bearer(self.key),
                                  json={"data_id": data_id, "channel": "post",
                                        "content": CONTENT})
                    status, body = r.status_code, r.json()
                except (httpx.HTTPError, ValueError) as exc:
                    status, body = f"EXC: {type(exc).__name__}", {}
                with self._lock:
                    self.answers.append(Answer(data_id, api, time.monotonic(), status, body))
                if status != 200:
                    time.sleep(0.02)

    def start(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def finish(self) -> list[Answer]:
        self.stop.set()
        for t in self._threads:
            t.join(30)
        return list(self.answers)

    def first_200_after(self, api: int, t: float) -> float | None:
        with self._lock:
            times = [a.t for a in self.answers if a.api == api and a.status == 200 and a.t > t]
        return min(times) if times else None


def _cut_replication_then_kill_primary(ha: ha_set.HaSet, cut_s: float) -> tuple[int, float]:
    """Freeze the replicas (SIGSTOP), then close their links from the primary's side, so
    nothing written from now on reaches them (a frozen replica cannot reconnect); let the
    clients write for `cut_s`, SIGKILL the primary, then let the replicas run again.
    Returns (old primary port, monotonic time of the kill)."""
    primary = ha.primary_port()
    assert primary is not None
    replicas = [p for p in ha.redis_ports if p != primary]
    for port in replicas:
        os.kill(ha.procs[ha.node(port)].pid, signal.SIGSTOP)
    ha._redis(primary).client_kill_filter(_type="replica")
    assert int(ha._redis(primary).info("replication")["connected_slaves"]) == 0
    time.sleep(cut_s)
    ha.procs[ha.node(primary)].kill()
    t_kill = time.monotonic()
    for port in replicas:
        os.kill(ha.procs[ha.node(port)].pid, signal.SIGCONT)
    return primary, t_kill


def _wait_promotion(ha: ha_set.HaSet, old: int, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = ha.primary_port()
        if port is not None and port != old:
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError("no replica was promoted")


def _readable(ha: ha_set.HaSet, key: str, data_ids: list[str]) -> dict[str, list[int]]:
    """data_id -> the status of GET /v1/items/{data_id} on each API process."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def get(data_id: str) -> tuple[str, list[int]]:
        if not hasattr(local, "http"):  # one keep-alive client per thread
            local.http = httpx.Client(timeout=10)
            clients.append(local.http)
        return data_id, [local.http.get(ha.api_url(i) + f"/v1/items/{data_id}",
                                        headers=bearer(key)).status_code for i in (0, 1)]

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            return dict(pool.map(get, data_ids))
    finally:
        for http in clients:
            http.close()


def _verify(ha: ha_set.HaSet, timeout: float = 20) -> tuple[int, dict]:
    """`moderation audit verify` through the Sentinels, once nothing waits to be sealed."""
    deadline = time.monotonic() + timeout
    while True:
        out = ha.cli("audit", "verify", "--data-dir", str(ha.root / "cli"))
        report = json.loads(out.stdout or "{}")
        if (report.get("unsealed") == 0 and report.get("sealed_in_redis", 0) + report.get(
                "archived", 0) > 0) or time.monotonic() > deadline:
            return out.returncode, report
        time.sleep(0.3)


@pytest.fixture
def ha_run(tmp_path):
    started: list[ha_set.HaSet] = []

    def run(acks: int) -> tuple[ha_set.HaSet, str]:
        ha = ha_set.HaSet(tmp_path / "ha", acks=acks, api_env={
            "MODERATION_ARGON2_TIME_COST": "1", "MODERATION_ARGON2_MEMORY_KIB": "1024",
            "MODERATION_SEALER_INTERVAL_S": "0.2"})
        started.append(ha)
        ha.start_store()
        created = ha.cli("apikey", "create", "portal-ha", "--data-dir", str(tmp_path / "cli"))
        assert created.returncode == 0, created.stderr  # the CLI found the primary too
        ha.start_apis(timeout=90)
        return ha, created.stdout.strip()

    yield run
    for ha in started:
        ha.stop()


def _failover_run(ha: ha_set.HaSet, key: str) -> dict:
    """Traffic, cut, kill, promotion, recovery; the figures the tests check or report."""
    traffic = Traffic(ha, key).start()
    time.sleep(1.0)
    old, t_kill = _cut_replication_then_kill_primary(ha, cut_s=1.0)
    t_promo = _wait_promotion(ha, old)
    deadline = t_promo + 15
    while time.monotonic() < deadline and any(
            traffic.first_200_after(i, t_promo) is None for i in (0, 1)):
        time.sleep(0.05)
    time.sleep(0.5)  # a little traffic on the new primary
    answers = traffic.finish()
    recovered = [traffic.first_200_after(i, t_promo) for i in (0, 1)]
    ok = [a.data_id for a in answers if a.status == 200]
    readable = _readable(ha, key, ok)
    lost = sorted(d for d, codes in readable.items() if codes != [200, 200])
    return {"answers": answers, "t_kill": t_kill, "t_promo": t_promo,
            "recovered_after_promotion_s": [None if r is None else round(r - t_promo, 2)
                                            for r in recovered],
            "ok": ok, "lost": lost, "readable": readable}


def test_no_acknowledged_item_is_lost_when_the_primary_dies(ha_run):
    ha, key = ha_run(acks=1)
    run = _failover_run(ha, key)
    answers = run["answers"]
    statuses = {a.status for a in answers}
    print(f"\nacks=1: {len(answers)} answers {sorted(map(str, statuses))}, "
          f"{len(run['ok'])} acknowledged, promotion {run['t_promo'] - run['t_kill']:.2f} s "
          f"after the kill, serving again {run['recovered_after_promotion_s']} s after it")
    assert statuses <= {200, 503}, (statuses, _unhandled(ha))  # never 500 or a drop
    for a in answers:
        if a.status == 503:
            assert a.body["error"]["code"] == "store_unavailable", a.body
            assert a.body["decision"]["decision"] == "review", a.body
    # the cut was real: while replicas were cut off, writes were not confirmed (503)
    assert any(a.status == 503 and a.t < run["t_kill"] for a in answers)
    assert run["lost"] == [], f"{len(run['lost'])} acknowledged items lost: {run['lost'][:5]}"
    assert all(r is not None and r <= 10 for r in run["recovered_after_promotion_s"]), run
    rc, report = _verify(ha)
    assert rc == 0 and report["first_break"] is None, report
    assert report["unsealed"] == 0
    _sealer_moves_when_its_holder_dies(ha, key)


def _sealer_moves_when_its_holder_dies(ha: ha_set.HaSet, key: str) -> None:
    """The audit sealer (a singleton task) runs in one API process; SIGKILL that one and
    the other takes the lock within its TTL (5 s), on the promoted primary."""
    primary = ha._redis(ha.primary_port())
    token = primary.get(keys.AUDIT_LOCK)
    assert token, "no process holds the sealer lock"
    os.kill(ha.procs["api0"].pid, signal.SIGSTOP)  # does the lock stop being renewed?
    try:
        time.sleep(1.0)
        holder = 0 if primary.pttl(keys.AUDIT_LOCK) < 4200 else 1
    finally:
        os.kill(ha.procs["api0"].pid, signal.SIGCONT)
    ha.procs[f"api{holder}"].kill()
    t_dead = time.monotonic()
    other = 1 - holder
    r = httpx.post(ha.api_url(other) + "/v1/moderate", headers=bearer(key),
                   json={"data_id": "after-holder-died", "channel": "post", "content": CONTENT},
                   timeout=10)
    assert r.status_code == 200, r.text
    while primary.get(keys.AUDIT_LOCK) in (token, None):
        assert time.monotonic() - t_dead < 5 + 2, "the sealer lock was not taken over"
        time.sleep(0.05)
    rc, report = _verify(ha)
    assert rc == 0 and report["unsealed"] == 0, report


def test_without_acks_the_window_before_the_kill_can_be_lost(ha_run):
    """MIN_REPLICA_ACKS=0: an item answered 200 while replication was cut may be gone after
    the failover. Reported, not asserted: this is the window README documents."""
    ha, key = ha_run(acks=0)
    run = _failover_run(ha, key)
    answers = run["answers"]
    in_cut = [a for a in answers if a.status == 200 and a.t < run["t_kill"]]
    rc, report = _verify(ha)
    print(f"\nacks=0: {len(run['ok'])} acknowledged, {len(run['lost'])} of them lost after the "
          f"failover ({len(in_cut)} acknowledged before the kill); serving again "
          f"{run['recovered_after_promotion_s']} s after the promotion; audit verify exit "
          f"{rc}: {report.get('first_break')}")
    assert {a.status for a in answers} <= {200, 503}, _unhandled(ha)  # never a 500
    assert all(r is not None and r <= 10 for r in run["recovered_after_promotion_s"]), run


def _unhandled(ha) -> str:
    """The API processes' logged unhandled errors (with their tracebacks), to name a 500."""
    lines = []
    for log in sorted(ha.root.glob("api*/serve.log")):
        lines += [ln[:2000] for ln in log.read_text(errors="replace").splitlines()
                  if "unhandled error" in ln]
    return "\n".join(lines[:5]) or "no unhandled error logged"
