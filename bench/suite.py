"""`kameleoon-relay bench`: every benchmark in one process tree, one table, one JSON.

Phases, in order (each relay phase on its own database unless --database says otherwise):

1. pipeline     our compiled pipeline (bench_engine.ours) against the same steps in Node
                with Segment's published packages (bench_reference.js, "ref core"); the
                request bodies both build for the event are compared byte for byte.
2. ingest       the relay (`serve`, its delivery parked: see PARKED) takes POST /v1/batch,
                100 events a request, 16 connections, from the load generator; the
                ceiling is a do-nothing Starlette app (ceiling_app.py) on the same server
                stack (runner.run), same generator, same bodies.
3. e2e ceiling  the load generator posts the relay's own delivery body (built by our
                pipeline, messageIds varying) to the sink, at delivery.concurrency.
4. drain        a relay with delivery parked takes a backlog of N events over HTTP and is
                killed; a relay pointed at the sink starts on that database; the rate is
                N-1 requests over the sink's time from its first request to its Nth.
5. drain far   the same drain to a sink 100 ms away (`FAR_LATENCY_MS`): what adaptive
                concurrency keeps of the drain when Kameleoon is on the internet.
6. rate limited a backlog of `LIMITED_USERS` users' events drained into a sink 20 ms
                away that answers 429 + Retry-After: 1 above `LIMITED_RATE` requests/s:
                delivered/s against that limit, and the share of 429s among the requests
                sent. A minute of it in full (the relay learns the limit once, in 1-3 s).
7. under ingest a fresh relay delivering to the sink while ingest is paced (open loop)
                at half the measured ingest maximum; the sink's received rate over a
                window, the relay's backlog (pending+retrying+in_flight) at both ends.
8. ordering     many users' events into the sandbox answering 20% 503 (not in smoke).
9. Data API far bench_data_api.py's window (not in smoke): a backlog drained by the Data
                API destination (batched) and by Kameleoon (Actions), 100 ms away.

The sink (sink.py) is a raw-asyncio Kameleoon-compatible endpoint, its own process; its
maximum with the fastest client is the e2e ceiling, reported beside the drain figure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_data_api  # noqa: E402
import bench_engine  # noqa: E402
import bench_ordering  # noqa: E402
import loadgen  # noqa: E402
from loadgen import MARKER, LoadResult, Template  # noqa: E402
from machine import describe, machine_info  # noqa: E402

from kameleoon_relay.delivery.processes import die_with_parent  # noqa: E402

WRITE_KEY = "wk_bench"
API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
SITECODE = "demosite01"
BATCH = 100
INGEST_CONNECTIONS = 16
# Delivery parked: one slot, held by a request to a socket that listens but never
# accepts; the other deliveries wait as pending. A short lease, so that after the
# relay is killed the next relay on the database claims that one again at once.
PARKED = {"concurrency": 1, "timeout": 3600, "lease": 0.1}
FAR_LATENCY_MS = 100  # Kameleoon from a relay in another region
LIMITED_RATE = 300  # requests/s the rate-limited sink lets through
LIMITED_LATENCY_MS = 20
# A site's visitors, not one: with per-user order one user's last events (under the
# hot-user escape's 200) go one round trip at a time, a tail that would measure that.
LIMITED_USERS = 1000
ORDERING_PER_USER = 6  # events per user in the ordering window


class BenchError(Exception):
    """A benchmark could not run or its result is wrong; the message says which."""


@dataclass(frozen=True)
class Mode:
    name: str
    pipeline_iterations: int
    pipeline_rounds: int
    load_seconds: int  # each closed-loop measurement (wrk: whole seconds)
    warmup_seconds: int  # before each (0: none)
    drain_events: int
    limited_events: int
    ordering_users: int  # the ordering window: this many users, ORDERING_PER_USER events each
    under_warmup: float
    under_window: float
    data_api_events: tuple[int, int] = (0, 0)  # Data API window (data api, actions); 0: none
    overlap_start: bool = False  # run the pipeline while the servers start


MODES = {
    "full": Mode("full", 20000, 3, 10, 2, 60000, 18000, 1000, 3.0, 15.0, (20_000, 1600)),
    "quick": Mode("quick", 5000, 1, 3, 1, 5000, 1500, 500, 2.0, 5.0, (4000, 480)),
    # No ordering window in smoke: its retries alone take longer than a smoke run.
    "smoke": Mode("smoke", 500, 1, 1, 0, 300, 150, 0, 0.3, 1.0, overlap_start=True),
}


# -- child processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Spec:
    """A server to start: `argv --host 127.0.0.1 --port PORT`, up when `health` answers."""

    name: str
    argv: list[str]
    health: str
    port: int


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Children:
    """Every process the suite starts; `close()` stops those still running."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[Child] = []

    def start(self, spec: Spec, timeout: float = 30) -> Child:
        return self.start_many([spec], timeout)[0]

    def start_many(
        self, specs: list[Spec], timeout: float = 30, meanwhile: Callable[[], None] | None = None
    ) -> list[Child]:
        """Starts them all at once, runs `meanwhile()`, then waits until each answers."""
        started = [(self._spawn(spec), spec.health) for spec in specs]
        if meanwhile is not None:
            meanwhile()
        deadline = time.monotonic() + timeout
        for child, health in started:
            self._wait_up(child, health, deadline, timeout)
        return [child for child, _ in started]

    def _spawn(self, spec: Spec) -> Child:
        log_path = self.directory / f"{spec.name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*spec.argv, "--host", "127.0.0.1", "--port", str(spec.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        child = Child(spec.name, proc, spec.port, log_path)
        self.running.append(child)
        return child

    @staticmethod
    def _wait_up(child: Child, health: str, deadline: float, timeout: float) -> None:
        while True:
            if child.proc.poll() is not None:
                raise BenchError(
                    f"{child.name} exited at start ({child.proc.returncode}):\n{child.log_tail()}"
                )
            try:
                httpx.get(child.url + health, timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{child.name} did not answer in {timeout:g} s:\n{child.log_tail()}"
                    ) from None
                time.sleep(0.03)

    def stop(self, child: Child, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if child.proc.poll() is None:
            child.proc.send_signal(sig)
            try:
                child.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        with contextlib.suppress(ValueError):
            self.running.remove(child)

    def close(self) -> None:
        for child in list(reversed(self.running)):
            self.stop(child, timeout=5)


def listening_socket() -> socket.socket:
    """Accepts TCP connections (in the kernel's backlog) but never answers: parks delivery."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


# -- bodies ----------------------------------------------------------------------------------


def template_event() -> dict[str, Any]:
    event = orjson.loads(bench_engine.EVENT_FILE.read_bytes())
    event["messageId"] = MARKER
    return event


def ingest_template() -> Template:
    item = orjson.dumps(template_event())
    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    return Template.around(
        item,
        "/v1/batch",
        {"authorization": f"Basic {auth}", "content-type": "application/json"},
        items=BATCH,
        head=b'{"batch":[',
        tail=b"]}",
    )


def delivery_template(sink_url: str) -> Template:
    """The request the relay sends for the event: our pipeline's body and headers."""
    from kameleoon_relay.config import parse_config
    from kameleoon_relay.ingest import as_js_value
    from kameleoon_relay.pipeline import Pipeline

    config = parse_config(relay_document(sink_url, "sqlite:///unused.db", {}))
    planned = Pipeline(config).plan(as_js_value(template_event()), "web")
    request = planned[0].request
    if len(planned) != 1 or request is None:
        raise BenchError(f"the benchmark event should make one request, not {planned!r}")
    return Template.around(request.body, "/segmentio", dict(request.headers))


def relay_document(endpoint_base: str, database: str, delivery: dict[str, Any]) -> dict[str, Any]:
    return {
        "sources": [{"name": "web", "write_key": WRITE_KEY}],
        "destinations": [
            {
                "name": "kameleoon",
                "type": "kameleoon-actions",
                "endpoint": f"{endpoint_base}/segmentio",
                "settings": {"apiKey": API_KEY, "sitecode": SITECODE},
            }
        ],
        "database": database,
        "delivery": delivery,
    }


# -- the suite -----------------------------------------------------------------------------


class Suite:
    """The phases, in `run()`'s order; `results` gathers the figures and their details.

    Servers for later phases are started together at the beginning (idle ones only poll
    their queue a few times a second), except when the phases share one database.
    """

    def __init__(
        self,
        mode: Mode,
        directory: Path,
        database: str | None,
        say: Callable[[str], None],
        concurrency: int | str = "adaptive",
        tool: str = "auto",
        processes: int | str = "auto",
    ) -> None:
        self.mode = mode
        self.processes = processes
        self.directory = directory
        self.database = database
        self.say = say
        self.concurrency = concurrency
        self.children = Children(directory)
        self.run_id = uuid.uuid4().hex[:10]
        if tool == "auto":
            tool = "wrk" if loadgen.wrk_path() else "python"
        elif tool == "wrk" and not loadgen.wrk_path():
            raise BenchError("wrk is not installed (apt-get install wrk)")
        self.tool = tool
        self.wrk_log: list[str] = []
        self.results: dict[str, Any] = {}
        self.parking = listening_socket()
        self.parked_url = f"http://127.0.0.1:{self.parking.getsockname()[1]}"
        self.sink_url = f"http://127.0.0.1:{free_port()}"
        self.far_url = f"http://127.0.0.1:{free_port()}"
        self.limited_url = f"http://127.0.0.1:{free_port()}"
        self.started: dict[str, Child] = {}

    @property
    def shared_database(self) -> bool:
        return self.database is not None and "{phase}" not in self.database

    def close(self) -> None:
        self.children.close()
        self.parking.close()

    # servers

    def database_for(self, phase: str) -> str:
        if self.database is None:
            return f"sqlite:///{self.directory / phase}.db"
        return self.database.replace("{phase}", phase)

    def relay_spec(self, name: str, phase: str, endpoint: str, delivery: dict[str, Any]) -> Spec:
        config = self.directory / f"{name}.yaml"
        document = relay_document(endpoint, self.database_for(phase), delivery)
        config.write_text(yaml.safe_dump(document))
        argv = [sys.executable, "-m", "kameleoon_relay", "serve", "--config", str(config)]
        return Spec(name, argv, "/health", free_port())

    @property
    def connections(self) -> int:
        """The e2e ceiling's connections: a fixed concurrency, else the old default."""
        return self.concurrency if isinstance(self.concurrency, int) else 16

    def sink_spec(self, name: str, url: str, *options: str) -> Spec:
        argv = [sys.executable, str(HERE / "sink.py"), *options]
        return Spec(name, argv, "/count", int(url.rsplit(":", 1)[1]))

    def specs(self) -> dict[str, Spec]:
        delivering = {"concurrency": self.concurrency, "processes": self.processes}
        far = ("--latency-ms", str(FAR_LATENCY_MS))
        limited = ("--latency-ms", str(LIMITED_LATENCY_MS), "--rate-limit", str(LIMITED_RATE))
        return {
            "sink_far": self.sink_spec("sink-far", self.far_url, *far),
            "sink_limited": self.sink_spec("sink-limited", self.limited_url, *limited),
            "fill_far": self.relay_spec("relay-far-fill", "far", self.parked_url, PARKED),
            "drain_far": self.relay_spec("relay-far", "far", self.far_url, delivering),
            "fill_limited": self.relay_spec(
                "relay-limited-fill", "limited", self.parked_url, PARKED
            ),
            "limited": self.relay_spec("relay-limited", "limited", self.limited_url, delivering),
            "ceiling": Spec(
                "ceiling-app", [sys.executable, str(HERE / "ceiling_app.py")], "/health",
                free_port(),
            ),
            "sink": Spec(
                "sink", [sys.executable, str(HERE / "sink.py")], "/count",
                int(self.sink_url.rsplit(":", 1)[1]),
            ),
            "ingest": self.relay_spec("relay-ingest", "ingest", self.parked_url, PARKED),
            "fill": self.relay_spec("relay-drain-fill", "drain", self.parked_url, PARKED),
            "drain": self.relay_spec("relay-drain", "drain", self.sink_url, delivering),
        }  # fmt: skip

    def prestart(self) -> None:
        """Every server but the drain relay (it needs the filled database), at once.

        In smoke mode the pipeline runs while they start (its figures are rough anyway).
        """
        self._specs = self.specs()
        keys = ["ceiling", "sink", "sink_far", "sink_limited"]
        if not self.shared_database:
            keys += ["ingest", "fill", "fill_far", "fill_limited"]
        children = self.children.start_many(
            [self._specs[key] for key in keys],
            meanwhile=self.pipeline if self.mode.overlap_start else None,
        )
        self.started = dict(zip(keys, children, strict=True))
        self.results["sink"] = {
            "kind": "minimal raw-asyncio Kameleoon-compatible endpoint (bench/sink.py), "
            "its own process",
            "loop": _sink_loop(),
            "url": f"{self.sink_url}/segmentio",
        }

    def server(self, key: str) -> Child:
        """The started server `key`, or started now."""
        if key not in self.started:
            self.started[key] = self.children.start(self._specs[key])
        return self.started[key]

    def stop(self, key: str, sig: int = signal.SIGTERM) -> None:
        child = self.started.pop(key, None)
        if child is not None:
            self.children.stop(child, sig)

    # measuring

    def tag(self, what: str) -> str:
        return f"{self.run_id}-{what}"

    def measure_max(self, url: str, template: Template, connections: int, what: str) -> LoadResult:
        mode = self.mode
        if mode.warmup_seconds:
            loadgen.max_rate(
                url, template, connections, mode.warmup_seconds, self.tag(what + "w"),
                self.wrk_log, self.tool,
            )  # fmt: skip
        result = loadgen.max_rate(
            url, template, connections, mode.load_seconds, self.tag(what), self.wrk_log, self.tool
        )
        if result.ok_requests == 0:
            raise BenchError(f"{what}: no request answered 2xx ({result.statuses})")
        return result

    @staticmethod
    def stats(relay: Child) -> dict[str, Any]:
        return httpx.get(relay.url + "/api/stats", timeout=10).json()

    @staticmethod
    def backlog(stats: dict[str, Any]) -> int:
        d = stats["deliveries"]
        return d.get("pending", 0) + d.get("retrying", 0) + d.get("in_flight", 0)

    def sink_count(self, url: str | None = None) -> dict[str, Any]:
        return httpx.get((url or self.sink_url) + "/count", timeout=10).json()

    def sink_reset(self, target: int = 0, url: str | None = None) -> None:
        httpx.post((url or self.sink_url) + f"/reset?target={target}", timeout=10)

    # phases

    def pipeline(self) -> None:
        mode = self.mode
        body = bench_engine.our_body()
        ours: list[float] = []
        node: list[float] = []
        for _ in range(mode.pipeline_rounds):
            elapsed, _ = bench_engine.ours(mode.pipeline_iterations)
            ours.append(mode.pipeline_iterations / elapsed)
            try:
                ref = bench_engine.reference_run(mode.pipeline_iterations)
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                raise BenchError(
                    f"the Node reference did not run ({detail}); it needs node and "
                    "`cd tests/oracle && npm install`"
                ) from exc
            node.append(mode.pipeline_iterations / ref["coreSeconds"])
            theirs = ref["coreBody"].encode()
            if theirs != body:
                at = next(
                    (i for i, (a, b) in enumerate(zip(body, theirs, strict=False)) if a != b),
                    min(len(body), len(theirs)),
                )
                raise BenchError(
                    "pipeline: our request body differs from the Node reference's at byte "
                    f"{at}:\n ours: {body[max(0, at - 40) : at + 40]!r}\n"
                    f" node: {theirs[max(0, at - 40) : at + 40]!r}"
                )
        self.results["pipeline"] = {
            "iterations": mode.pipeline_iterations,
            "rounds": mode.pipeline_rounds,
            "ours_events_per_s": [round(x) for x in ours],
            "node_events_per_s": [round(x) for x in node],
            "bodies_equal": True,
            "body_bytes": len(body),
        }
        self.results["pipeline_events_per_s"] = round(statistics.median(ours), 1)
        self.results["node_pipeline_events_per_s"] = round(statistics.median(node), 1)

    def ingest_ceiling(self) -> None:
        app = self.server("ceiling")
        try:
            result = self.measure_max(app.url, ingest_template(), INGEST_CONNECTIONS, "ceiling")
        finally:
            self.stop("ceiling")
        self.results["ingest_ceiling"] = result.to_dict()
        self.results["ingest_ceiling_events_per_s"] = round(result.items_per_s, 1)

    def ingest(self) -> None:
        relay = self.server("ingest")
        try:
            result = self.measure_max(relay.url, ingest_template(), INGEST_CONNECTIONS, "in")
            stats = self.stats(relay)
        finally:
            self.stop("ingest", signal.SIGKILL)  # its one delivery never ends
        self.results["ingest"] = {
            **result.to_dict(),
            "delivery": "parked (one slot held by a never-answering endpoint)",
            "relay_events_received": stats["events"]["received"],
        }
        self.results["ingest_events_per_s"] = round(result.items_per_s, 1)

    def e2e_ceiling(self) -> None:
        self.server("sink")
        self.sink_reset()
        template = delivery_template(self.sink_url)
        result = self.measure_max(self.sink_url, template, self.connections, "e2e")
        counted = self.sink_count()["count"]
        self.results["e2e_ceiling"] = {**result.to_dict(), "sink_counted": counted}
        self.results["e2e_ceiling_events_per_s"] = round(result.items_per_s, 1)

    def fill(self, events: int, key: str = "fill", users: int = 0) -> int:
        """`events` events stored by a relay whose delivery is parked; returns the backlog.
        All of one user (the template's), or of `users` users in turn."""
        relay = self.server(key)
        try:
            if users:
                per_user = -(-events // users)
                items = bench_ordering.events(users, per_user, self.tag(key))[:events]
                bench_ordering.ingest(relay.url, WRITE_KEY, items)
            else:
                requests = -(-events // BATCH)
                load = loadgen.run_python(
                    relay.url, ingest_template(), 4, self.tag("fill"), total=requests
                )
                result = asyncio.run(load)
                if result.errors:
                    raise BenchError(f"drain: {result.errors} requests refused {result.statuses}")
            stats = self.stats(relay)
        finally:
            self.stop(key, signal.SIGKILL)  # its one delivery never ends
        time.sleep(PARKED["lease"] * 2)  # that delivery's lease ends: the next relay claims it
        return self.backlog(stats)

    def drain(self) -> None:
        n = self.mode.drain_events
        count, backlog, stats = self._drain_into("drain", "fill", "sink", self.sink_url, n)
        seconds = count["target_at"] - count["first"]
        d = stats["deliveries"]
        self.results["drain"] = {
            "events": n,
            "backlog_before": backlog,
            "seconds": round(seconds, 3),
            "concurrency": self.concurrency,
            "relay_delivered": d.get("delivered", 0),
            "relay_failed_or_dead": d.get("failed", 0) + d.get("dead", 0),
            "backlog_after": self.backlog(stats),
        }
        self.results["drain_events_per_s"] = round((n - 1) / seconds, 1) if seconds > 0 else 0.0

    def _drain_into(
        self, relay_key: str, fill_key: str, sink_key: str, sink_url: str, n: int, users: int = 0
    ) -> tuple[dict[str, Any], int, dict[str, Any]]:
        """A backlog of `n` filled by `fill_key` (of `users` users: `fill`), drained by
        `relay_key` into the sink: the sink's count when it reached `n`, the backlog
        before, the relay's stats after (its outcomes all recorded)."""
        self.server(sink_key)
        backlog = self.fill(n, fill_key, users)
        if backlog < n:
            raise BenchError(f"{relay_key}: a backlog of {backlog} events, not {n}")
        self.sink_reset(target=n, url=sink_url)
        relay = self.server(relay_key)
        timeout = 30 + n / 100
        deadline = time.monotonic() + timeout
        while (count := self.sink_count(sink_url))["target_at"] is None:
            if time.monotonic() > deadline or relay.proc.poll() is not None:
                raise BenchError(
                    f"{relay_key}: the sink counted {count['count']} of {n} in {timeout:g} s:"
                    f"\n{relay.log_tail()}"
                )
            time.sleep(0.02)
        # The relay may go on to the next phase: wait until it has recorded every outcome
        # (a shared database may hold earlier phases' backlogs: no waiting for those).
        while self.backlog(stats := self.stats(relay)) and time.monotonic() < deadline:
            if self.shared_database:
                break
            time.sleep(0.02)
        return count, backlog, stats

    def drain_far(self) -> None:
        """The drain, the sink 100 ms away: delivery.concurrency adapts to the distance."""
        n = self.mode.drain_events
        count, _, stats = self._drain_into("drain_far", "fill_far", "sink_far", self.far_url, n)
        self.stop("drain_far")
        self.stop("sink_far")
        seconds = count["target_at"] - count["first"]
        self.results["drain_far"] = {
            "events": n,
            "sink_latency_ms": FAR_LATENCY_MS,
            "seconds": round(seconds, 3),
            "relay_delivered": stats["deliveries"].get("delivered", 0),
        }
        self.results["drain_far_events_per_s"] = round((n - 1) / seconds, 1) if seconds else 0.0

    def rate_limited(self) -> None:
        """A backlog into a sink that lets `LIMITED_RATE` requests a second through."""
        n = self.mode.limited_events
        url = self.limited_url
        count, _, _ = self._drain_into(
            "limited", "fill_limited", "sink_limited", url, n, LIMITED_USERS
        )
        self.stop("limited")
        self.stop("sink_limited")
        seconds = count["target_at"] - count["first"]
        attempts = count["count"] + count["limited"]
        rate = (n - 1) / seconds if seconds else 0.0
        self.results["rate_limited"] = {
            "events": n,
            "users": LIMITED_USERS,
            "sink_limit_per_s": LIMITED_RATE,
            "sink_latency_ms": LIMITED_LATENCY_MS,
            "seconds": round(seconds, 3),
            "attempts": attempts,
            "answered_429": count["limited"],
        }
        self.results["rate_limited_events_per_s"] = round(rate, 1)
        self.results["rate_limited_limit_per_s"] = LIMITED_RATE
        self.results["rate_limited_share_of_limit"] = round(rate / LIMITED_RATE, 3)
        self.results["rate_limited_429_share"] = round(count["limited"] / attempts, 4)

    def ordering(self) -> None:
        """A backlog of many users' events drained into the sandbox answering 20% 503,
        with `ordering: none`, then `per_user`: out-of-order pairs and delivered rates."""
        users = self.mode.ordering_users
        total = users * ORDERING_PER_USER
        window: dict[str, Any] = {"users": users, "events_per_user": ORDERING_PER_USER,
                                  "sandbox_error_rate": bench_ordering.ERROR_RATE}  # fmt: skip
        for ordering in ("none", "per_user"):
            window[ordering] = self._ordering_run(ordering, users, total)
        self.results["ordering"] = window
        for ordering in ("none", "per_user"):
            self.results[f"ordering_{ordering}_out_of_order_pairs"] = window[ordering][
                "out_of_order_pairs"
            ]
            self.results[f"ordering_{ordering}_events_per_s"] = window[ordering][
                "events_per_s_to_95pct"
            ]

    def data_api_far(self) -> None:
        """bench_data_api.py's window: one backlog drained by the Data API destination
        (batched) and one by Kameleoon (Actions), into a sandbox 100 ms away."""
        data_api_events, actions_events = self.mode.data_api_events
        folder = self.directory / "data-api"
        folder.mkdir()
        with bench_data_api.sandbox(folder) as url:
            data_api = asyncio.run(
                bench_data_api.drain("kameleoon-data-api", url, data_api_events, folder)
            )
            actions = asyncio.run(
                bench_data_api.drain("kameleoon-actions", url, actions_events, folder)
            )
        self.results["data_api_far"] = {
            "latency_ms": bench_data_api.LATENCY_MS,
            "concurrency": bench_data_api.CONCURRENCY,
            "events": {"data_api": data_api_events, "actions": actions_events},
        }
        self.results["drain_data_api_far_events_per_s"] = round(data_api, 1)
        self.results["drain_actions_far_events_per_s"] = round(actions, 1)

    def _ordering_run(self, ordering: str, users: int, total: int) -> dict[str, Any]:
        phase = f"ordering-{ordering}"
        faults = [
            "--error-rate",
            str(bench_ordering.ERROR_RATE),
            "--seed",
            str(bench_ordering.SEED),
        ]
        argv = [sys.executable, "-m", "kameleoon_relay", "sandbox", *faults]
        box = self.children.start(Spec(f"sandbox-{phase}", argv, "/api/stats", free_port()))
        try:
            fill = self.children.start(
                self.relay_spec(f"relay-{phase}-fill", phase, self.parked_url, PARKED)
            )
            try:
                items = bench_ordering.events(users, ORDERING_PER_USER, self.tag(ordering))
                bench_ordering.ingest(fill.url, WRITE_KEY, items)
            finally:
                self.children.stop(fill, signal.SIGKILL)  # its one delivery never ends
            time.sleep(PARKED["lease"] * 2)
            delivering = {
                "concurrency": self.concurrency,
                "processes": self.processes,
                "ordering": ordering,
            }
            relay = self.children.start(
                self.relay_spec(f"relay-{phase}", phase, box.url, delivering)
            )
            try:
                alive = lambda: relay.proc.poll() is None  # noqa: E731
                bench_ordering.await_delivery(box.url, total, 120 + total / 20, alive)
            finally:
                self.children.stop(relay)
            return bench_ordering.figures(box.url, total)
        finally:
            self.children.stop(box)

    def below_drain(self) -> None:
        """Ingest paced at half the drain rate, on the drain's relay (its backlog
        delivered): the backlog should stay flat, every event delivered as it comes."""
        self.server("sink")
        target_events = self.results["drain_events_per_s"] / 2
        relay = self.server("drain")
        self.sink_reset()
        figures = asyncio.run(self._paced(relay, target_events / BATCH, "below"))
        self.results["backlog_below_drain"] = {
            "ingest_target_events_per_s": round(target_events, 1),
            **figures,
        }

    def under_ingest(self) -> None:
        """On the drain's relay, its backlog delivered (one relay start less)."""
        self.server("sink")
        target_events = self.results["ingest_events_per_s"] / 2
        relay = self.server("drain")
        try:
            self.sink_reset()
            figures = asyncio.run(self._paced(relay, target_events / BATCH, "under"))
        finally:
            self.stop("drain")
        self.results["delivery_under_ingest"] = {
            "ingest_target_events_per_s": round(target_events, 1),
            **figures,
        }
        self.results["delivery_under_ingest_events_per_s"] = figures["delivered_events_per_s"]

    async def _paced(self, relay: Child, rate: float, what: str) -> dict[str, Any]:
        """Ingest at `rate` requests/s for warm-up + window; the window's figures."""
        mode = self.mode
        load = asyncio.create_task(
            loadgen.run_python(
                relay.url, ingest_template(), INGEST_CONNECTIONS, self.tag(what),
                seconds=mode.under_warmup + mode.under_window + 0.1, rate=rate,
            )
        )  # fmt: skip
        async with httpx.AsyncClient(timeout=10) as client:

            async def snapshot() -> tuple[float, int, dict[str, Any]]:
                sink, stats = await asyncio.gather(
                    client.get(self.sink_url + "/count"), client.get(relay.url + "/api/stats")
                )
                return time.monotonic(), sink.json()["count"], stats.json()

            await asyncio.sleep(mode.under_warmup)
            t0, sent0, stats0 = await snapshot()
            cpu0 = time.process_time()
            await asyncio.sleep(mode.under_window)
            cpu1 = time.process_time()
            t1, sent1, stats1 = await snapshot()
        result = await load
        window = t1 - t0
        received = stats1["events"]["received"] - stats0["events"]["received"]
        return {
            "window_seconds": round(window, 2),
            "delivered_events_per_s": round((sent1 - sent0) / window, 1),
            "ingest_achieved_events_per_s": round(received / window, 1),
            "backlog_start": self.backlog(stats0),
            "backlog_end": self.backlog(stats1),
            "ingest_errors": result.errors,
            # The paced load generator runs here, in Python: the CPU it takes from the
            # machine (2 cores here) is not the relay's.
            "load_generator_cores": round((cpu1 - cpu0) / window, 2),
            "load": result.to_dict(),
        }

    def run(self) -> dict[str, Any]:
        # The pipeline first, on a quiet machine: started relays spawn their delivery
        # processes and poll their queues (smoke mode overlaps them to save time).
        steps: list[tuple[str, Callable[[], None]]] = [
            *([] if self.mode.overlap_start else [("pipeline: ours vs Node", self.pipeline)]),
            ("starting the servers", self.prestart),
            ("ingest ceiling: do-nothing app on the relay's server stack", self.ingest_ceiling),
            ("ingest: the relay, delivery parked", self.ingest),
            ("e2e ceiling: raw client -> sink", self.e2e_ceiling),
            (f"drain: {self.mode.drain_events} queued events -> sink", self.drain),
            ("ingest at half the drain rate: the backlog should stay flat", self.below_drain),
            ("delivery under ingest at half the ingest maximum", self.under_ingest),
            (f"drain far: {self.mode.drain_events} events -> sink 100 ms away", self.drain_far),
            (
                f"rate limited: {self.mode.limited_events} events -> sink limited to "
                f"{LIMITED_RATE} requests/s",
                self.rate_limited,
            ),
        ]
        if self.mode.ordering_users:
            steps.append(
                (
                    f"ordering: {self.mode.ordering_users} users x {ORDERING_PER_USER} events"
                    " -> sandbox answering 20% 503, ordering none then per_user",
                    self.ordering,
                )
            )
        if self.mode.data_api_events[0]:
            data_api_events, actions_events = self.mode.data_api_events
            steps.append(
                (
                    f"Data API far: {data_api_events} events batched, {actions_events} by"
                    " Kameleoon (Actions), sandbox 100 ms away",
                    self.data_api_far,
                )
            )
        if self.shared_database:
            self.say(
                "note: every phase shares the database given; earlier phases' backlogs "
                "are delivered in later ones (put {phase} in the URL to separate them)"
            )
        started = time.monotonic()
        try:
            for title, step in steps:
                step_start = time.monotonic()
                self.say(f"{title} ...")
                step()
                self.say(f"  done in {time.monotonic() - step_start:.1f} s")
        finally:
            self.close()
        r = self.results
        r["ratios"] = {
            name: _ratio(r[figure], r[baseline])
            for name, figure, baseline in RATIOS
            if figure in r  # a window the mode skips
        }
        r["sink"]["max_events_per_s"] = r["e2e_ceiling_events_per_s"]
        r["sink"]["busy_share_during_drain"] = r["ratios"]["drain_over_e2e_ceiling"]
        r["seconds"] = round(time.monotonic() - started, 1)
        return r


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _sink_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _node_version() -> str | None:
    node = shutil.which("node")
    if not node:
        return None
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def machine(tool: str = "auto") -> dict[str, Any]:
    info = machine_info()
    info["description"] = describe()
    info["node"] = _node_version()
    # Other work on the machine skews every figure: the 1-minute load average at the start.
    info["load_average_1m"] = round(os.getloadavg()[0], 2)
    wrk = loadgen.wrk_version() if tool != "python" else None
    info["load_generator"] = wrk or "python asyncio" + ("" if tool == "python" else " (no wrk)")
    return info


def run_suite(
    mode_name: str,
    database: str | None,
    say: Callable[[str], None],
    concurrency: int | str = "adaptive",
    tool: str = "auto",
    processes: int | str = "auto",
) -> dict[str, Any]:
    """Runs every phase; returns the JSON document (figures, details, machine)."""
    mode = MODES[mode_name]
    report: dict[str, Any] = {"mode": mode_name}
    with tempfile.TemporaryDirectory(prefix="kameleoon-bench-") as tmp:
        suite = Suite(mode, Path(tmp), database, say, concurrency, tool, processes)
        try:
            report.update(suite.run())
        finally:
            suite.close()
    report["machine"] = machine(tool)
    report["load_generator"] = suite.tool
    report["database"] = database or "sqlite (one file per phase, temporary directory)"
    report["delivery_processes"] = processes
    return report


RATIOS = (
    ("pipeline_over_node", "pipeline_events_per_s", "node_pipeline_events_per_s"),
    ("ingest_over_ceiling", "ingest_events_per_s", "ingest_ceiling_events_per_s"),
    ("drain_over_e2e_ceiling", "drain_events_per_s", "e2e_ceiling_events_per_s"),
    ("under_ingest_over_drain", "delivery_under_ingest_events_per_s", "drain_events_per_s"),
    ("drain_far_over_drain", "drain_far_events_per_s", "drain_events_per_s"),
    ("ordering_per_user_over_none", "ordering_per_user_events_per_s", "ordering_none_events_per_s"),
    (
        "data_api_over_actions_far",
        "drain_data_api_far_events_per_s",
        "drain_actions_far_events_per_s",
    ),
)
KEYS = (
    "pipeline_events_per_s",
    "node_pipeline_events_per_s",
    "ingest_events_per_s",
    "ingest_ceiling_events_per_s",
    "drain_events_per_s",
    "e2e_ceiling_events_per_s",
    "delivery_under_ingest_events_per_s",
    "drain_far_events_per_s",
    "rate_limited_events_per_s",
    "rate_limited_share_of_limit",
    "rate_limited_429_share",
    "ordering_none_out_of_order_pairs",
    "ordering_per_user_out_of_order_pairs",
    "ordering_none_events_per_s",
    "ordering_per_user_events_per_s",
    "drain_data_api_far_events_per_s",
    "drain_actions_far_events_per_s",
)


def dump(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")
