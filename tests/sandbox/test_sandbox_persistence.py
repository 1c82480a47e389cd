"""State in a SQLite file survives a restart (graceful or not)."""

from __future__ import annotations

import signal
import time

import httpx

from tests.sandbox.support import post_event, sandbox_client, start_args, track, unique


def snapshot(http: httpx.Client, code: str) -> tuple:
    stats = http.get("/api/stats").json()
    return (
        http.get("/api/goals").json(),
        http.get(f"/api/visitors/{code}").json(),
        [e["messageId"] for e in http.get("/api/events").json()["events"]],
        {k: stats[k] for k in ("received", "accepted", "rejected", "duplicates")},
    )


def test_restart_with_a_file_keeps_the_state(tmp_path) -> None:
    db = tmp_path / "sandbox.db"
    code, user = unique("vc"), unique("user")
    link = track("Kameleoon identifier", userId=user, properties={"k_visitorCode": code})
    order = track("Order Completed", userId=user)
    with sandbox_client(start_args(db=db), tmp_path / "1.log") as (_server, http):
        assert post_event(http, link).status_code == 200
        assert post_event(http, order).json()["visitor"] == code
        post_event(http, track("Wishlisted", userId=user))
        post_event(http, {"type": "identify", "userId": user, "properties": {"plan": "pro"}})
        post_event(http, b"not json")
        before = snapshot(http, code)

    with sandbox_client(start_args(db=db), tmp_path / "2.log") as (_server, http):
        assert snapshot(http, code) == before
        assert before[1]["goals"] == {"Order Completed": 1, "SegmentIO track - Wishlisted": 1}
        # Duplicates and linked ids are remembered too.
        assert post_event(http, order).json()["outcome"] == "duplicate"
        again = post_event(http, track("Order Completed", userId=user)).json()
        assert (again["visitor"], again["goal_created"]) == (code, False)


def test_state_survives_a_kill_after_the_commit_delay(tmp_path) -> None:
    db = tmp_path / "sandbox.db"
    code = unique("vc")
    with sandbox_client(start_args(db=db), tmp_path / "1.log") as (server, http):
        body = track("Signed Up", properties={"kameleoonVisitorCode": code})
        assert post_event(http, body).status_code == 200
        time.sleep(0.6)  # commits are batched for up to 0.2 s
        server.stop(signal.SIGKILL)

    with sandbox_client(start_args(db=db), tmp_path / "2.log") as (_server, http):
        assert http.get(f"/api/visitors/{code}").json()["goals"] == {"Signed Up": 1}
        assert http.get("/api/stats").json()["accepted"] == 1


def test_memory_state_starts_empty_each_time(tmp_path) -> None:
    for run in range(2):
        with sandbox_client(["sandbox"], tmp_path / f"{run}.log") as (_server, http):
            assert http.get("/api/stats").json()["accepted"] == 0
            post_event(http, track("Signed Up", userId="u"))


def test_retention_forgets_old_visitors_events_and_message_ids(tmp_path) -> None:
    from kameleoon_relay.sandbox.store import Store

    store = Store(str(tmp_path / "sandbox.db"))
    store.touch_visitor("demosite01", "old-visitor", 1000.0)
    store.touch_visitor("demosite01", "new-visitor", 5000.0)
    store.link("demosite01", "userId", "u-old", "old-visitor")
    store.set_traits("demosite01", "old-visitor", "user", {"plan": "pro"})
    assert store.first_seen("demosite01", "m-1")
    store.commit()
    removed = store.prune(before=2000.0)
    # The messageId was seen just now, so it stays; the old visitor and its data go.
    assert removed >= 3
    assert store.find_visitor("old-visitor", "demosite01") is None
    assert store.find_visitor("new-visitor", "demosite01") is not None
    assert store.linked("demosite01", "userId", "u-old") is None
    assert not store.first_seen("demosite01", "m-1")
    assert store.prune(before=10**12) > 0
    assert store.first_seen("demosite01", "m-1")  # forgotten, so new again
    store.close()
