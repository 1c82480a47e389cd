"""Operator surfaces around the dashboard, against real relay and sandbox processes:
`/metrics` after a known load, `status` and `deliveries` on the command line, JSON log
lines, and the dashboard's session, CSRF and JSON-index rules over plain HTTP."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.dashboard_stack import ADMIN_TOKEN, SANDBOX_API_KEY, DashStack, dash_stack
from tests.e2e.stack import wait_for
from tests.helpers.processes import CLI, REPO


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashStack]:
    with dash_stack(tmp_path_factory.mktemp("ops")) as s:
        yield s


def scrape(stack: DashStack) -> tuple[str, dict[tuple[str, tuple], float]]:
    # Prometheus sends the admin token as a Bearer: /metrics needs it.
    answer = httpx.get(
        f"{stack.relay.url}/metrics",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    text = answer.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, samples


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def cli(stack: DashStack, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(stack.directory / "relay.yaml")
    return subprocess.run(
        [*CLI, *args, "--config", config], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_metrics_after_a_known_load(stack: DashStack) -> None:
    _, before = scrape(stack)
    users = [f"metrics-user-{n}" for n in range(5)]
    ids = [stack.track("Metrics Load", user=user) for user in users]
    for message_id in ids:
        stack.wait_state(message_id, "delivered")
    delivered = dict(destination="kameleoon", action="logEvent", outcome="delivered")
    name = "kameleoon_relay_delivery_attempts_total"

    def delivered_since() -> float:
        return sample(scrape(stack)[1], name, **delivered) - sample(before, name, **delivered)

    # Delivery runs in its own process, which reports its metrics twice a second.
    wait_for(lambda: delivered_since() >= 5, "5 more delivered attempts in /metrics", 10)
    text, after = scrape(stack)
    assert sample(after, name, **delivered) - sample(before, name, **delivered) == 5
    accepted = "kameleoon_relay_ingest_events_total"
    assert (
        sample(after, accepted, outcome="accepted") - sample(before, accepted, outcome="accepted")
        == 5
    )
    assert sample(after, "kameleoon_relay_queue_depth", destination="kameleoon") == 0
    age = "kameleoon_relay_queue_oldest_pending_age_seconds"
    assert sample(after, age, destination="kameleoon") == 0
    assert SANDBOX_API_KEY not in text and ADMIN_TOKEN not in text
    assert not [user for user in users if user in text]


def test_queue_gauges_see_waiting_work(stack: DashStack) -> None:
    faults = f"{stack.sandbox.url}/api/faults"
    httpx.post(faults, json={"latency_ms": 1500}, timeout=10).raise_for_status()
    try:
        message_id = stack.track("Slow One")

        def waiting() -> float:
            _, samples = scrape(stack)
            return sample(samples, "kameleoon_relay_queue_depth", destination="kameleoon")

        assert wait_for(waiting, "a queue depth of 1", timeout=5) == 1
    finally:
        httpx.delete(faults, timeout=10).raise_for_status()
    stack.wait_state(message_id, "delivered")
    _, samples = scrape(stack)
    assert sample(samples, "kameleoon_relay_queue_depth", destination="kameleoon") == 0


def test_status_command(stack: DashStack) -> None:
    message_id = stack.track("Status Check")
    stack.wait_state(message_id, "delivered")
    stats = stack.admin("/api/stats")["destinations"]["kameleoon"]["total"]
    result = cli(stack, "status")
    assert result.returncode == 0, result.stderr
    hour = result.stdout.split("Last day")[0]
    row = next(line for line in hour.splitlines() if "│ kameleoon " in line)
    numbers = [int(n) for n in re.findall(r"\d+", row)]
    received, filtered, delivered = numbers[:3]
    assert delivered == stats["delivered"] and received >= delivered and filtered == 0
    assert "logEvent" in hour
    assert "Latency (last hour) and queue" in result.stdout
    assert re.search(r"│ kameleoon\s+│\s+\d+ ms", result.stdout)


def test_deliveries_command_filters(stack: DashStack) -> None:
    mine = stack.track("Listed", user="cli-user-1")
    stack.track("Not Listed", user="cli-user-2")
    stack.wait_state(mine, "delivered")
    result = cli(stack, "deliveries", "--message-id", mine)
    assert result.returncode == 0, result.stderr
    assert (
        mine in result.stdout and "delivered" in result.stdout and "cli-user-2" not in result.stdout
    )
    by_user = cli(stack, "deliveries", "--user-id", "cli-user-2", "--limit", "5")
    assert "cli-user-2" in by_user.stdout and mine not in by_user.stdout
    dead = cli(stack, "deliveries", "--state", "dead")
    assert "no deliveries match" in dead.stdout
    wrong = cli(stack, "deliveries", "--state", "lost")
    assert wrong.returncode == 2 and "--state must be one of" in wrong.stderr


def test_deliveries_follow(stack: DashStack) -> None:
    config = str(stack.directory / "relay.yaml")
    follower = subprocess.Popen(
        [*CLI, "deliveries", "--config", config, "--follow", "--interval", "0.2", "--limit", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        time.sleep(1.5)  # started and printed the newest one
        message_id = stack.track("Followed")
        assert follower.stdout is not None
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            line = follower.stdout.readline()
            seen.append(line)
            if message_id in line and " delivered " in line:
                break
        else:
            raise AssertionError(f"no delivered line for {message_id}: {seen}")
    finally:
        follower.terminate()
        follower.wait(10)


def test_log_lines_are_json_one_per_outcome(stack: DashStack) -> None:
    message_id = stack.track("Logged", user="log-user-secret")
    stack.wait_state(message_id, "delivered")
    delivery_id = stack.admin("/api/deliveries", message_id=message_id)["deliveries"][0]["id"]

    def logged() -> dict | None:
        for line in stack.relay.log().splitlines():
            if line.startswith("{"):
                entry = orjson.loads(line)
                if entry.get("delivery_id") == delivery_id:
                    return entry
        return None

    entry = wait_for(logged, "the delivery's log line", timeout=5)
    assert entry["level"] == "info" and entry["outcome"] == "delivered"
    assert entry["destination"] == "kameleoon" and entry["actions"] == "logEvent"
    log = stack.relay.log()
    assert SANDBOX_API_KEY not in log and "log-user-secret" not in log


def browser_client(stack: DashStack) -> httpx.Client:
    """Posts forms as a browser does: with the Origin of the page (issue 22's Origin check)."""
    return httpx.Client(base_url=stack.relay.url, timeout=10, headers={"origin": stack.relay.url})


def login(stack: DashStack) -> httpx.Client:
    client = browser_client(stack)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"csrf_token": token, "token": ADMIN_TOKEN, "next": "/"})
    assert answer.status_code == 303
    return client


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/", headers={"accept": "text/html"}).text
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_json_index_for_clients_html_for_browsers(stack: DashStack) -> None:
    answer = httpx.get(f"{stack.relay.url}/", headers={"accept": "application/json"})
    assert answer.json()["links"]["dashboard"] == "/"
    assert httpx.get(f"{stack.relay.url}/").json()["name"] == "kameleoon-relay"  # curl's */*
    browser = httpx.get(f"{stack.relay.url}/", headers={"accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["location"] == "/login?next=/"


def test_login_cookie_and_csrf(stack: DashStack) -> None:
    client = browser_client(stack)
    assert client.get("/dashboard/api/overview").status_code == 401
    client.get("/login")
    forged = client.post("/login", data={"csrf_token": "forged", "token": ADMIN_TOKEN})
    assert forged.status_code == 403 and "kr_session" not in forged.headers.get("set-cookie", "")
    client = login(stack)
    fresh = browser_client(stack)
    form = fresh.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = fresh.post(
        "/login", data={"csrf_token": token, "token": ADMIN_TOKEN, "next": "//evil.example/"}
    )
    set_cookie = answer.headers["set-cookie"]
    assert "kr_session=" in set_cookie and "HttpOnly" in set_cookie
    assert "samesite=strict" in set_cookie.lower()
    assert answer.headers["location"] == "/"  # never off-site
    body = {"destination": "kameleoon", "subscription": {"name": "x", "trigger": 'type = "track"',
                                                         "action": "logEvent"}}  # fmt: skip
    assert client.post("/dashboard/api/check", json=body).status_code == 403
    wrong = client.post("/dashboard/api/check", json=body, headers={"x-csrf-token": "nope"})
    assert wrong.status_code == 403
    right = client.post(
        "/dashboard/api/check", json=body, headers={"x-csrf-token": csrf_of(client)}
    )
    assert right.status_code == 200 and right.json() == {"ok": True, "problems": [], "warnings": []}
    # A forged session id is no session.
    forged_session = httpx.get(
        f"{stack.relay.url}/dashboard/api/overview", cookies={"kr_session": "made-up"}
    )
    assert forged_session.status_code == 401


def test_fifty_subscriptions_at_most(stack: DashStack) -> None:
    client = login(stack)
    headers = {"x-csrf-token": csrf_of(client)}
    subs = [
        {"name": f"S{n}", "trigger": f'event = "never {n}"', "action": "logEvent", "mapping": None}
        for n in range(50)
    ]
    stack.overlay.write_text(
        yaml.safe_dump({"destinations": {"kameleoon": {"subscriptions": subs}}})
    )
    try:
        reload = httpx.post(
            f"{stack.relay.url}/api/config/reload",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert reload.status_code == 200
        extra = {"name": "One more", "trigger": 'type = "track"', "action": "logEvent"}
        body = {"destination": "kameleoon", "index": None, "subscription": extra}
        answer = client.post("/dashboard/api/save", json=body, headers=headers)
        assert answer.status_code == 422
        assert "at most 50 subscriptions" in " ".join(answer.json()["problems"])
        assert "One more" not in stack.overlay.read_text()
    finally:
        stack.overlay.unlink()
        httpx.post(
            f"{stack.relay.url}/api/config/reload",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        ).raise_for_status()


def test_pages_never_show_the_api_key(stack: DashStack) -> None:
    client = login(stack)
    message_id = stack.track("Key Check")
    stack.wait_state(message_id, "delivered")
    delivery_id = stack.admin("/api/deliveries", message_id=message_id)["deliveries"][0]["id"]
    for path in ("/", "/deliveries", f"/deliveries/{delivery_id}", "/dead", "/mappings", "/tester"):
        page = client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 200, path
        assert SANDBOX_API_KEY not in page.text, path
    overview = client.get("/dashboard/api/overview").json()
    assert "kameleoon" in overview["windows"]["hour"]
