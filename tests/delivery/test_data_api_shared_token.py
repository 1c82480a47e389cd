"""One OAuth token per destination for the whole relay, however many delivery processes:
a real `serve` with `delivery.processes: 3` and a real sandbox issuing the tokens."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kameleoon_relay.config.loader import parse_config
from kameleoon_relay.delivery.client import http_session
from kameleoon_relay.delivery.policy import Verdict
from kameleoon_relay.delivery.token_link import BorrowedTokens, TokenLender, token_link
from kameleoon_relay.delivery.tokens import TokenCache, TokenError
from tests.e2e.stack import WRITE_KEY, post_batches, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server, free_port
from tests.store.store_factories import DEMO_SITECODE

ADMIN = "shared-token-admin"
WRONG = "Wr0ng-client-secret-Tq7"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sandbox(tmp_path_factory.mktemp("sandbox")) as server:
        yield server


@pytest.fixture
def box_url(box: Server) -> Iterator[str]:
    # Each request takes a while, so that one process cannot take all the work alone.
    assert httpx.patch(f"{box.url}/api/faults", json={"latency_ms": 100}).is_success
    yield box.url
    httpx.post(f"{box.url}/api/data-api", json={"token_ttl": 3600})
    httpx.delete(f"{box.url}/api/faults")


def destination(name: str, url: str, secret: str = "demo", token_url: str = "") -> dict:
    return {
        "name": name,
        "type": "kameleoon-data-api",
        "endpoint": url,
        "token_url": token_url or f"{url}/oauth/token",
        "settings": {"clientId": "demo", "clientSecret": secret, "sitecode": DEMO_SITECODE},
        "goals": {"Order Completed": 424242},
        "batch": {"max_events": 10, "max_wait": 0},
    }


def serve_config(directory: Path, url: str, *destinations: dict) -> Path:
    return write_config(
        directory,
        url,
        admin_token=ADMIN,
        destinations=list(destinations) or [destination("direct", url)],
        # A few requests in flight each: one process's adaptive limit, grown for the
        # 100 ms latency, could otherwise claim all of a small backlog alone.
        delivery={
            "processes": 3,
            "concurrency": 4,
            "timeout": 3,
            "backoff_base": 0.05,
            "backoff_max": 0.3,
        },
    )


def post_orders(relay_url: str, count: int, run: str) -> None:
    orders = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"{run}-u{n}",
            "messageId": f"{run}-{n}",
            "properties": {"kameleoonVisitorCode": f"{run}-v{n}", "revenue": n},
        }
        for n in range(count)
    ]
    post_batches(relay_url, orders, 50)


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/stats", timeout=10).json()


def delivered_by(directory: Path) -> set[str]:
    """The delivery processes (number.start) whose claims were delivered."""
    with sqlite3.connect(f"file:{directory / 'relay.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT DISTINCT claimed_by FROM deliveries WHERE state = 'delivered'"
        ).fetchall()
    return {owner.rsplit("|", 1)[1] for (owner,) in rows if owner}


def test_three_processes_share_one_token(tmp_path: Path, box_url: str) -> None:
    before = stats(box_url)
    with relay(serve_config(tmp_path, box_url), tmp_path) as server:
        post_orders(server.url, 300, uuid.uuid4().hex[:8])
        wait_for(lambda: stats(box_url)["accepted"] - before["accepted"] >= 300, "300 events")
        after = stats(box_url)
        processes = delivered_by(tmp_path)
    assert after["accepted"] - before["accepted"] == 300
    assert len(processes) >= 2, processes  # the token was shared, not used by one alone
    assert after["tokens_issued"] - before["tokens_issued"] == 1


def test_a_revoked_token_is_replaced_once_for_every_process(tmp_path: Path, box_url: str) -> None:
    run = uuid.uuid4().hex[:8]
    before = stats(box_url)
    with relay(serve_config(tmp_path, box_url), tmp_path) as server:
        url = server.url
        post_orders(url, 150, run)
        wait_for(lambda: stats(box_url)["accepted"] - before["accepted"] >= 100, "a first part")
        middle = stats(box_url)
        assert httpx.post(f"{box_url}/api/data-api", json={"revoke_tokens": True}).is_success
        post_orders(url, 300, run + "b")
        wait_for(lambda: stats(box_url)["accepted"] - before["accepted"] >= 450, "every event")
        after = stats(box_url)
        processes = delivered_by(tmp_path)
    assert after["accepted"] - before["accepted"] == 450
    assert len(processes) >= 2, processes
    assert middle["tokens_issued"] - before["tokens_issued"] == 1
    assert after["tokens_issued"] - middle["tokens_issued"] == 1  # one more, not one each
    assert after["tokens_refused"] > middle["tokens_refused"]  # it was refused, and replaced


def test_a_reload_with_other_credentials_does_not_reuse_the_token(
    tmp_path: Path, box_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    before = stats(box_url)
    admin = {"authorization": f"Bearer {ADMIN}"}
    with relay(serve_config(tmp_path, box_url), tmp_path) as server:
        post_orders(server.url, 30, run)
        wait_for(lambda: stats(box_url)["accepted"] - before["accepted"] >= 30, "30 events")
        serve_config(tmp_path, box_url, destination("direct", box_url, secret=WRONG))
        reloaded = httpx.post(f"{server.url}/api/config/reload", headers=admin, timeout=10)
        assert reloaded.is_success
        time.sleep(3)  # serve forwards it as a SIGHUP: its delivery processes reload too
        post_orders(server.url, 3, run + "w")

        def refused() -> list[dict] | None:
            answer = httpx.get(
                f"{server.url}/api/deliveries", params={"state": "failed"}, headers=admin
            )
            rows = answer.json()["deliveries"]
            return rows if len(rows) == 3 else None

        failed = wait_for(refused, "the deliveries with the new credentials to be refused")
        after = stats(box_url)
    assert after["accepted"] - before["accepted"] == 30
    assert after["tokens_issued"] - before["tokens_issued"] == 1
    assert {row["message_id"].startswith(run + "w") for row in failed} == {True}
    assert all("OAuth token refused" in row["last_error"] for row in failed)


def test_short_lived_tokens_are_replaced_before_they_expire(tmp_path: Path, box_url: str) -> None:
    ttl = 5.0
    assert httpx.post(f"{box_url}/api/data-api", json={"token_ttl": ttl}).is_success
    # No added latency: a token is replaced 0.5 s before it expires, and a request that
    # took longer than that to be checked would be refused (then retried with a new one).
    # The paced posts spread the work over the processes instead.
    assert httpx.patch(f"{box_url}/api/faults", json={"latency_ms": 0}).is_success
    run = uuid.uuid4().hex[:8]
    before = stats(box_url)
    started = time.monotonic()
    with relay(serve_config(tmp_path, box_url), tmp_path) as server:
        url = server.url
        paced = threading.Thread(target=_paced_orders, args=(url, run, 13.0, 20))
        paced.start()
        paced.join()
        total = int(13.0 * 20)
        wait_for(lambda: stats(box_url)["accepted"] - before["accepted"] >= total, "every event")
        elapsed = time.monotonic() - started
        after = stats(box_url)
        processes = delivered_by(tmp_path)
    issued = after["tokens_issued"] - before["tokens_issued"]
    assert after["accepted"] - before["accepted"] == total
    assert len(processes) >= 2, processes
    assert after["tokens_refused"] == before["tokens_refused"]  # never sent an expired one
    # Replaced each 4.5 s (a tenth of its life early), for the relay: not once per process.
    assert 3 <= issued <= elapsed / (ttl * 0.9) + 1, (issued, elapsed)


def test_a_wrong_secret_fails_with_the_fetchs_own_message(tmp_path: Path, box_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/oauth/token"
    config = serve_config(
        tmp_path,
        box_url,
        destination("wrongcred", box_url, secret=WRONG),
        destination("unreachable", box_url, token_url=closed),
    )
    refused, unreachable = asyncio.run(_local_errors(config))
    assert refused.verdict is Verdict.FAIL and unreachable.verdict is Verdict.RETRY
    run = uuid.uuid4().hex[:8]
    with relay(config, tmp_path) as server:
        url = server.url
        post_orders(url, 3, run)
        admin = {"authorization": f"Bearer {ADMIN}"}

        def settled() -> dict[str, list[dict]] | None:
            rows = httpx.get(f"{url}/api/deliveries", headers=admin, timeout=10).json()
            by: dict[str, list[dict]] = {}
            for row in rows["deliveries"]:
                if row["last_error"]:
                    by.setdefault(row["destination"], []).append(row)
            failed = [row for row in by.get("wrongcred", []) if row["state"] == "failed"]
            retried = [row for row in by.get("unreachable", []) if row["state"] == "retrying"]
            return by if len(failed) == 3 and len(retried) == 3 else None

        rows = wait_for(settled, "the deliveries to fail and to wait for a retry")
        shown = httpx.get(f"{url}/api/deliveries", headers=admin, timeout=10).text
    # The same message as a fetch in this process, from the process that holds the token.
    assert {row["last_error"] for row in rows["wrongcred"]} == {str(refused)}
    assert {row["attempts"] for row in rows["wrongcred"]} == {1}  # refused: not retried
    assert "OAuth token refused" in str(refused) and "clientSecret" in str(refused)
    assert {row["last_error"] for row in rows["unreachable"]} == {str(unreachable)}
    assert WRONG not in shown
    checked = subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", "check-auth", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 1
    assert "wrongcred: invalid credentials (401)" in checked.stdout
    assert "clientSecret" in checked.stdout and WRONG not in checked.stdout + checked.stderr


async def test_no_answer_from_serve_is_a_retry_not_a_hang(box_url: str) -> None:
    # A serving process that never answers (busy, stopped): its end of the link unread.
    silent, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    borrowed = BorrowedTokens(theirs, grace=0.2)
    borrowed.start()
    config = parse_config(_document(box_url), {})
    try:
        with pytest.raises(TokenError) as raised:
            await borrowed.bearer(None, config.destination("direct"), 0.1)  # type: ignore[arg-type]
    finally:
        borrowed.close()
        silent.close()
        theirs.close()
    assert raised.value.verdict is Verdict.RETRY
    assert "did not answer within 0.3 s" in str(raised.value)


async def test_a_config_serve_does_not_have_yet_is_a_retry_not_a_wrong_token(
    box_url: str,
) -> None:
    # The delivery process reloaded new credentials before serve did (or the reverse).
    served = parse_config(_document(box_url), {})
    reloaded = parse_config(_document(box_url, secret="a-newer-secret"), {})
    lender = TokenLender(lambda: served)
    ours, theirs = token_link()
    lender.attach(ours)
    borrowed = BorrowedTokens(theirs)
    borrowed.start()
    try:
        with pytest.raises(TokenError) as raised:
            await borrowed.bearer(None, reloaded.destination("direct"), 2)  # type: ignore[arg-type]
        token = await borrowed.bearer(None, served.destination("direct"), 2)  # type: ignore[arg-type]
        again = await borrowed.bearer(None, served.destination("direct"), 2)  # type: ignore[arg-type]
    finally:
        borrowed.close()
        lender.detach(ours)
        await lender.close()
        ours.close()
        theirs.close()
    assert raised.value.verdict is Verdict.RETRY and "reload" in str(raised.value)
    assert token and again == token
    assert lender.fetches == 1 and borrowed.asks == 2  # kept until serve would replace it


def _document(url: str, secret: str = "demo") -> dict[str, Any]:
    return {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [destination("direct", url, secret=secret)],
        "database": "sqlite:///:memory:",
    }


async def _local_errors(config: Path) -> tuple[TokenError, TokenError]:
    """What a token fetch in this process says for the two broken destinations."""
    from kameleoon_relay.config import load_config

    loaded = load_config(config)
    errors = []
    session = http_session(timeout=3)
    try:
        for name in ("wrongcred", "unreachable"):
            with pytest.raises(TokenError) as raised:
                await TokenCache().bearer(session, loaded.destination(name), 3)
            errors.append(raised.value)
    finally:
        await session.close()
    return errors[0], errors[1]


def _paced_orders(url: str, run: str, seconds: float, per_second: int) -> None:
    started = time.monotonic()
    with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
        for second in range(int(seconds)):
            batch = [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"{run}-u{second}-{n}",
                    "messageId": f"{run}-{second}-{n}",
                    "properties": {"kameleoonVisitorCode": f"{run}-v{second}-{n}"},
                }
                for n in range(per_second)
            ]
            client.post(f"{url}/v1/batch", json={"batch": batch})
            time.sleep(max(0.0, started + second + 1 - time.monotonic()))
