"""@segment/analytics-node, unmodified, pointed at the relay: every call reaches the sandbox."""

from __future__ import annotations

import subprocess

import orjson

from tests.e2e.conftest import Stack
from tests.e2e.stack import NODE_DIR, WRITE_KEY, goals, npm_install, visitor, wait_for


def test_node_sdk_events_reach_the_sandbox(stack: Stack) -> None:
    npm_install()
    code = "node-vis"
    calls = [
        {"method": "identify", "params": {"userId": "node-user",
                                          "traits": {"plan": "team", "kameleoonVisitorCode": code}}},
        *[{"method": "track", "params": {"userId": "node-user", "event": "Node Checkout",
                                         "properties": {"kameleoonVisitorCode": code, "n": i}}}
          for i in range(7)],
        {"method": "page", "params": {"anonymousId": "node-anon", "name": "Node Page",
                                      "properties": {"kameleoonVisitorCode": code}}},
        {"method": "group", "params": {"userId": "node-user", "groupId": "globex",
                                       "traits": {"kameleoonVisitorCode": code}}},
    ]  # fmt: skip
    done = subprocess.run(
        ["node", "send_node.mjs", stack.relay.url, WRITE_KEY],
        input=orjson.dumps(calls),
        cwd=NODE_DIR,
        capture_output=True,
        timeout=60,
        check=True,
    )
    result = orjson.loads(done.stdout.splitlines()[-1])
    assert result == {"delivered": len(calls), "errors": []}

    def arrived() -> dict | None:
        seen = visitor(stack.sandbox.url, code)
        ready = seen and seen["goals"].get("SegmentIO track - Node Checkout") == 7
        return seen if ready and seen["views"] and "globex" in seen["groups"] else None

    seen = wait_for(arrived, "every Node SDK call in the sandbox")
    assert goals(stack.sandbox.url)["SegmentIO track - Node Checkout"]["conversions"] == 7
    assert [(v["kind"], v["name"]) for v in seen["views"]] == [("page", "Node Page")]
    assert seen["traits"]["plan"] == "team"
