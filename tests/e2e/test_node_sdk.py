"""@segment/analytics-node, unmodified, pointed at the relay: every call reaches the sandbox."""

from __future__ import annotations

import subprocess
from typing import Any

import orjson

from tests.e2e.stack import NODE_DIR, WRITE_KEY, Stack, goals, npm_install, visitor, wait_for

CODE = "node-vis"


def call(method: str, **params: Any) -> dict[str, Any]:
    return {"method": method, "params": params}


def test_node_sdk_events_reach_the_sandbox(stack: Stack) -> None:
    npm_install()
    calls = [
        call("identify", userId="node-user", traits={"plan": "team", "kameleoonVisitorCode": CODE}),
        *[
            call("track", userId="node-user", event="Node Checkout",
                 properties={"kameleoonVisitorCode": CODE, "n": i})
            for i in range(7)
        ],
        call("page", anonymousId="node-anon", name="Node Page",
             properties={"kameleoonVisitorCode": CODE}),
        call("group", userId="node-user", groupId="globex",
             traits={"kameleoonVisitorCode": CODE, "industry": "energy"}),
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
        seen = visitor(stack.sandbox.url, CODE)
        ready = seen and seen["goals"].get("SegmentIO track - Node Checkout") == 7
        return seen if ready and seen["views"] and seen["groups"] else None

    seen = wait_for(arrived, "every Node SDK call in the sandbox")
    assert goals(stack.sandbox.url)["SegmentIO track - Node Checkout"]["conversions"] == 7
    assert [(v["kind"], v["name"]) for v in seen["views"]] == [("page", "Node Page")]
    assert seen["traits"]["plan"] == "team"
    assert seen["groups"] == {"globex": {"industry": "energy"}}
