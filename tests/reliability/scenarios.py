"""Crash, fault and disk-full scenarios against real relay and sandbox processes on
loopback. Each returns its figures; the acknowledged-means-delivered check is the same
for all: every messageId answered 200 must reach the sandbox, duplicates counted.

Short forms run in CI (tests/reliability/test_reliability.py); the long form is
`python -m tests.reliability --long` (docs/RELIABILITY.md has its latest figures).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack import WRITE_KEY, sandbox, write_config
from tests.helpers.processes import CLI, Server, start_server

BATCH = 10
FAST_RETRIES = {"backoff_base": 0.05, "backoff_max": 0.5}


@dataclass
class Load:
    """Threads posting batches of uniquely named events; what got a 200 is `acked`."""

    url: str
    threads: int = 4
    batch: int = BATCH
    pad: int = 0  # bytes of filler per event (disk-full fills faster)
    rate: float = 0.0  # events a second across threads; 0: as fast as the relay answers
    tag: str = "r"
    acked: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        self._workers = [
            threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    def _run(self, thread: int) -> None:
        number = 0
        with httpx.Client(auth=(WRITE_KEY, ""), timeout=15) as client:
            while not self._stop.is_set():
                ids = [f"{self.tag}-{thread}-{number}-{i}" for i in range(self.batch)]
                number += 1
                body = {
                    "batch": [
                        {
                            "type": "track",
                            "messageId": mid,
                            "userId": f"user-{thread}",
                            "event": f"Reliability {self.tag} t{thread}",
                            "properties": {
                                "kameleoonVisitorCode": f"vc-{thread}",
                                "pad": "x" * self.pad,
                            },
                        }
                        for mid in ids
                    ]
                }
                try:
                    status = client.post(f"{self.url}/v1/batch", json=body).status_code
                except httpx.HTTPError:
                    status = "transport error"
                    time.sleep(0.05)
                with self._lock:
                    self.statuses[status] += 1
                    if status == 200:
                        self.acked.update(ids)
                if self.rate:
                    time.sleep(self.batch * self.threads / self.rate)


def delivered_ids(sandbox_db: Path, prefix: str) -> set[str]:
    """The messageIds the sandbox accepted, from its own store (its messages table: one
    row per messageId, what it counts duplicates against), read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{sandbox_db}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 5000")
        rows = db.execute(
            "SELECT message_id FROM messages WHERE message_id LIKE ?", (f"{prefix}-%",)
        ).fetchall()
    return {row[0] for row in rows}


def await_delivery(sandbox_db: Path, acked: set[str], prefix: str, timeout: float) -> set[str]:
    """The acknowledged ids still missing after `timeout` (empty: all delivered)."""
    deadline = time.monotonic() + timeout
    missing = set(acked)
    while time.monotonic() < deadline:
        missing = acked - delivered_ids(sandbox_db, prefix)
        if not missing:
            break
        time.sleep(0.5)
    return missing


def sandbox_stats(sandbox_url: str) -> dict[str, Any]:
    return httpx.get(f"{sandbox_url}/api/stats", timeout=10).json()


def serve(config: Path, directory: Path, port: int | None = None) -> Server:
    return start_server(
        ["serve", "--config", str(config)],
        directory / "relay.log",
        port=port,
        health_path="/health",
    )


def _figures(load: Load, missing: set[str], box: Server, **extra: Any) -> dict[str, Any]:
    stats = sandbox_stats(box.url)
    return {
        "requests": sum(load.statuses.values()),
        "statuses": {str(k): v for k, v in sorted(load.statuses.items(), key=str)},
        "acknowledged": len(load.acked),
        "delivered": len(load.acked) - len(missing),
        "lost": len(missing),
        "lost_sample": sorted(missing)[:5],
        "duplicates": stats.get("duplicates", 0),
        **extra,
    }


def kills(
    directory: Path,
    count: int,
    seed: int = 11,
    gap: tuple[float, float] = (0.5, 2.5),
    threads: int = 4,
    database: str | None = None,
) -> dict[str, Any]:
    """Sustained ingest with the relay SIGKILLed `count` times at random moments. With a
    PostgreSQL `database`, the lease is 10 minutes: each restart must give back the work
    the killed relay held (its identity says it died), not wait for the lease; the
    sandbox answers after 100 ms then, so that each kill finds claimed work unsent."""
    rng = random.Random(seed)
    with sandbox(directory, *(("--latency-ms", "100") if database else ())) as box:
        extra: dict[str, Any] = {}
        delivery = dict(FAST_RETRIES)
        if database:
            extra["database"] = database
            delivery["lease"] = "10m"
        config = write_config(directory, box.url, delivery=delivery, **extra)
        server = serve(config, directory)
        load = Load(server.url, threads=threads, tag="kill").start()
        started = time.monotonic()
        survived = 0
        try:
            for _ in range(count):
                time.sleep(rng.uniform(*gap))
                server.proc.kill()  # SIGKILL: no shutdown, no flush
                server.proc.wait(10)
                server = serve(config, directory, port=server.port)
                survived += 1
            time.sleep(rng.uniform(*gap))
        finally:
            load.stop()
        seconds = time.monotonic() - started
        try:
            missing = await_delivery(directory / "sandbox.db", load.acked, "kill", timeout=120)
        finally:
            server.stop()
        return _figures(
            load,
            missing,
            box,
            kills=survived,
            seconds=round(seconds, 1),
            events_per_second=round(len(load.acked) / seconds),
        )


def delivery_process(server: Server, not_these: tuple[int, ...] = ()) -> int:
    """The PID of `serve`'s running delivery process (one that logged its start)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True)
        for pid in map(int, found.stdout.split()):
            if pid not in not_these and f"delivery process {pid} started" in server.log():
                return pid
        time.sleep(0.05)
    raise AssertionError(f"no delivery process started:\n{server.log()[-2000:]}")


def _accepted(box: Server) -> int:
    return int(sandbox_stats(box.url)["accepted"])


def delivery_kills(
    directory: Path,
    count: int,
    database: str | None = None,
    seed: int = 13,
    gap: tuple[float, float] = (1.0, 3.0),
    rate: float = 400.0,
) -> dict[str, Any]:
    """Sustained ingest with `serve`'s delivery process SIGKILLed `count` times while it
    holds work (the sandbox answers after 50 ms). `serve` restarts it and gives its claims
    back at once: the lease (10 minutes here) is never waited for. Per kill: the seconds
    until the sandbox accepts events again, and the deliveries in flight just before."""
    rng = random.Random(seed)
    with sandbox(directory, "--latency-ms", "50") as box:
        extra = {"database": database} if database else {}
        config = write_config(
            directory, box.url, delivery={**FAST_RETRIES, "processes": 1, "lease": "10m"}, **extra
        )
        with _running(config, directory) as server:
            load = Load(server.url, threads=4, tag="dkill", rate=rate).start()
            resumed: list[float] = []
            in_flight: list[int] = []
            pids: tuple[int, ...] = ()
            try:
                for _ in range(count):
                    time.sleep(rng.uniform(*gap))
                    pid = delivery_process(server, pids)
                    pids += (pid,)
                    stats = httpx.get(f"{server.url}/api/stats", timeout=10).json()
                    in_flight.append(stats["deliveries"]["in_flight"])
                    os.kill(pid, signal.SIGKILL)
                    killed_at, before = time.monotonic(), _accepted(box)
                    while _accepted(box) <= before and time.monotonic() - killed_at < 120:
                        time.sleep(0.05)
                    resumed.append(round(time.monotonic() - killed_at, 2))
                time.sleep(rng.uniform(*gap))
            finally:
                load.stop()
            missing = await_delivery(directory / "sandbox.db", load.acked, "dkill", timeout=120)
            restarts = server.log().count("was killed by SIGKILL")
        return _figures(
            load,
            missing,
            box,
            kills=count,
            restarts_logged=restarts,
            resumed_seconds=resumed,
            in_flight_at_kills=in_flight,
            store="postgresql" if database else "sqlite",
        )


SOAK_RATE = 300.0  # events a second

FAULTS = {
    "error_rate": 0.30,
    "rate_limit_rate": 0.10,
    "retry_after": 1,
    "timeout_rate": 0.05,
    "hang_seconds": 2.0,
    "reset_rate": 0.05,
}


def fault_soak(
    directory: Path, seconds: float, threads: int = 4, rate: float = SOAK_RATE
) -> dict[str, Any]:
    """Ingest at `rate` events a second while the sandbox answers 30% 503, 10% 429 +
    Retry-After, 5% timeouts and 5% connection resets; then faults off, and every
    acknowledged event must arrive.

    The rate is held below what delivery sustains under these faults (about 600 events
    a second on the 2-core CI machine), so the soak measures faults, not a backlog.
    """
    with sandbox(directory) as box:
        config = write_config(directory, box.url, delivery={**FAST_RETRIES, "timeout": "1s"})
        with (
            contextlib.closing(serve(config, directory))
            if False
            else _running(config, directory) as server
        ):
            httpx.post(f"{box.url}/api/faults", json=FAULTS, timeout=10).raise_for_status()
            load = Load(server.url, threads=threads, tag="soak", rate=rate).start()
            time.sleep(seconds)
            load.stop()
            faults = sandbox_stats(box.url)["faults"]
            httpx.delete(f"{box.url}/api/faults", timeout=10)
            drain = 120 + len(load.acked) / 200  # generous: a slow machine is not a loss
            missing = await_delivery(directory / "sandbox.db", load.acked, "soak", timeout=drain)
            return _figures(load, missing, box, seconds=seconds, faults_injected=faults)


@contextlib.contextmanager
def _running(config: Path, directory: Path) -> Iterator[Server]:
    server = serve(config, directory)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[str | None]:
    """A small tmpfs at `path`; yields None, or why it cannot be mounted here."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        yield f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def disk_full(directory: Path, size: str = "3m", seconds: float = 40) -> dict[str, Any]:
    """Ingest onto a store on a tiny tmpfs until it is full: 503s, never a 200 for an
    event not stored. Then the disk is grown, the relay restarted, and every
    acknowledged event must be delivered."""
    disk = directory / "disk"
    with tmpfs(disk, size) as reason:
        if reason:
            return {"skipped": reason}
        with sandbox(directory) as box:
            config = write_config(
                directory, box.url, delivery=FAST_RETRIES, database=f"sqlite:///{disk / 'relay.db'}"
            )
            with _running(config, directory) as server:
                load = Load(server.url, threads=2, batch=50, pad=400, tag="disk").start()
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and load.statuses[503] < 20:
                    time.sleep(0.2)
                load.stop()
            full_statuses = {str(k): v for k, v in load.statuses.items()}
            subprocess.run(["mount", "-o", "remount,size=256m", str(disk)], check=True)
            with _running(config, directory):
                missing = await_delivery(directory / "sandbox.db", load.acked, "disk", timeout=120)
            return _figures(load, missing, box, disk=size, statuses_while_full=full_statuses)


def fill(disk: Path) -> None:
    """Take every free byte of the filesystem at `disk` (a file the test removes)."""
    with open(disk / "filler", "ab") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()


def disk_full_recovery(
    directory: Path, size: str = "4m", grow_to: str = "32m", seconds: float = 60
) -> dict[str, Any]:
    """The store on a tiny tmpfs, filled by ingest, with a delivery process and a 10-minute
    lease: while full, reads (/api/deliveries, /metrics) answer and /health says `disk
    full` steadily; then the disk grows, and without a restart every acknowledged event
    is delivered, ingest answers 200 and /health is ok again. (Grown to 12 MB, the ~3,500
    events 4 MB hold, with their delivery records, could leave under the 1 MB that
    /health wants free: `disk full` again, rightly.)"""
    disk = directory / "disk"
    with tmpfs(disk, size) as reason:
        if reason:
            return {"skipped": reason}
        with sandbox(directory) as box:
            config = write_config(
                directory,
                box.url,
                delivery={**FAST_RETRIES, "processes": 1, "lease": "10m"},
                database=f"sqlite:///{disk / 'relay.db'}",
            )
            with _running(config, directory) as server:
                load = Load(server.url, threads=2, batch=50, pad=400, tag="full").start()
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and load.statuses[503] < 20:
                    time.sleep(0.2)
                reads: Counter = Counter()
                health: list[Any] = []
                for _ in range(10):  # the load goes on: the disk stays full
                    for path in ("/api/deliveries?limit=5", "/metrics", "/api/stats"):
                        status = httpx.get(server.url + path, timeout=15).status_code
                        reads[f"{path.split('?')[0]} {status}"] += 1
                    answer = httpx.get(f"{server.url}/health")
                    health.append([answer.status_code, answer.json().get("reasons")])
                    time.sleep(0.3)
                load.stop()
                full_statuses = {str(k): v for k, v in load.statuses.items()}
                subprocess.run(["mount", "-o", f"remount,size={grow_to}", str(disk)], check=True)
                grown = time.monotonic()
                missing = await_delivery(directory / "sandbox.db", load.acked, "full", timeout=120)
                drained = round(time.monotonic() - grown, 1)
                after = httpx.post(
                    f"{server.url}/v1/track",
                    json={"type": "track", "event": "After", "userId": "after"},
                    auth=(WRITE_KEY, ""),
                    timeout=15,
                ).status_code
                healthy = _poll(lambda: httpx.get(f"{server.url}/health").status_code == 200, 30)
                log = server.log()
            return _figures(
                load,
                missing,
                box,
                disk=size,
                grown_to=grow_to,
                statuses_while_full=full_statuses,
                reads_while_full=dict(reads),
                health_while_full=health,
                drained_seconds_after_growing=drained,
                ingest_after=after,
                healthy_after=healthy,
                tracebacks_logged=log.count("Traceback"),
                log_lines=len(log.splitlines()),
                restarts=log.count("restarting in"),
            )


def _poll(probe: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.2)
    return False


def full_disk_start(directory: Path, size: str = "2m") -> dict[str, Any]:
    """`serve` with its store on a full disk: its exit code and what it printed."""
    disk = directory / "disk"
    with tmpfs(disk, size) as reason:
        if reason:
            return {"skipped": reason}
        config = write_config(
            directory, "http://127.0.0.1:9", database=f"sqlite:///{disk / 'relay.db'}"
        )
        fill(disk)
        done = subprocess.run(
            [*CLI, "serve", "--config", str(config), "--port", "9"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return {"exit": done.returncode, "stderr": done.stderr, "stdout": done.stdout}
