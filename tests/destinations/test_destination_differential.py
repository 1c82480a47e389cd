"""Kameleoon (Actions) against Segment's own destination code, on generated cases.

Each case runs through `@segment/action-destinations` (the oracle, capturing the
request it sends) and through our compiled pipeline; method, path, headers
(all but user-agent) and the body bytes must be identical, and so must the
validation error messages when a payload is rejected.
"""

from __future__ import annotations

import base64
import os
import random
from typing import Any

import orjson
import pytest

from kameleoon_relay.actions import PayloadValidationError
from kameleoon_relay.config.model import DestinationConfig, SubscriptionConfig
from kameleoon_relay.destinations.kameleoon_actions import KAMELEOON_ACTIONS
from kameleoon_relay.destinations.kameleoon_actions.destination import AuthenticationError
from kameleoon_relay.ingest import as_js_value
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.mapping import MappingEvaluationError
from kameleoon_relay.pipeline.compile import request_builder
from tests.destinations import generate
from tests.helpers.oracle import run_oracle

ENDPOINT = "http://127.0.0.1:9/segmentio"
ACTIONS = list(KAMELEOON_ACTIONS.actions)
# A long run: KAMELEOON_DIFF_SEED=7 KAMELEOON_DIFF_CASES=100000 pytest this file.
CASES_PER_RUN = int(os.environ.get("KAMELEOON_DIFF_CASES", "3000"))
SEEDS = [int(os.environ["KAMELEOON_DIFF_SEED"])] if "KAMELEOON_DIFF_SEED" in os.environ else [1, 2]
CHUNK = 5000  # cases per oracle process
ACTION_EVENT_TYPE = {"logEvent": "track", "page": "page", "group": "group", "identify": "identify"}


def _settings(rng: random.Random) -> dict[str, str]:
    return {
        "apiKey": rng.choice(["abc", "eyJpZCI6ImRlbW8ifQ==", "a+b/c="]),
        "sitecode": rng.choice(["1q2w3e4r5t", "demosite01"]),
    }


def _ours(case: dict[str, Any]) -> dict[str, Any]:
    subscription = SubscriptionConfig(
        "case",
        'type = "track"',
        case["action"],
        as_js_value(case["mapping"]) if case["mapping"] else None,
    )
    destination = DestinationConfig(
        "d", "kameleoon-actions", case["settings"], ENDPOINT, (subscription,)
    )
    build = request_builder(KAMELEOON_ACTIONS, subscription, destination)
    try:
        request = build(as_js_value(case["event"]))
    except PayloadValidationError as error:
        return {"error": {"name": "AggregateAjvError", "message": str(error)}}
    except MappingEvaluationError as error:
        # The JavaScript error the mapping-kit threw: a TypeError where V8 could not
        # convert a value (ToPrimitiveError), an Error for the directives' own checks.
        name = "TypeError" if isinstance(error.__cause__, TypeError) else "Error"
        return {"error": {"name": name, "message": str(error)}}
    headers = {k: v for k, v in request.headers.items() if k != "user-agent"}
    return {
        "request": {
            "method": request.method,
            "path": request.url[len(ENDPOINT) :],
            "headers": headers,
            "body": request.body.decode(),
        }
    }


def _cases(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        action = ACTIONS[index % len(ACTIONS)]
        fields = list(KAMELEOON_ACTIONS.actions[action].fields)
        mapping = None if rng.random() < 0.6 else generate.custom_mapping(rng, fields)
        kind = ACTION_EVENT_TYPE[action] if rng.random() < 0.8 else None
        cases.append(
            {
                "action": action,
                "mapping": mapping,
                "event": generate.event(rng, kind),
                "settings": _settings(rng),
            }
        )
    return cases


def _is_null_context_crash(case: dict[str, Any], reference: dict[str, Any]) -> bool:
    error = reference.get("error") or {}
    return (
        "context" in case["event"]
        and case["event"]["context"] is None
        and error.get("name") == "TypeError"
        and "personas" in error.get("message", "")
    )


def _normalise(result: dict[str, Any]) -> dict[str, Any]:
    if "request" in result:
        result["request"]["headers"] = dict(sorted(result["request"]["headers"].items()))
    return result


@pytest.mark.parametrize("seed", SEEDS)
def test_requests_match_the_reference(seed: int) -> None:
    cases = _cases(seed, CASES_PER_RUN)
    expected = [
        result
        for start in range(0, len(cases), CHUNK)
        for result in deep_call(run_oracle, "destination_oracle.js", cases[start : start + CHUNK])
    ]
    mismatches = []
    for case, reference in zip(cases, expected, strict=True):
        ours = _normalise(_ours(case))
        if _is_null_context_crash(case, reference):
            # Reference defect: actions-core destructures `event.context` with a
            # default that only covers undefined, so `"context": null` throws a
            # TypeError before the action runs. We treat null as absent.
            assert "request" in ours or "error" in ours
            continue
        if ours != _normalise(reference):
            mismatches.append((case, reference, ours))
    sent = sum("request" in result for result in expected)
    rejected = sum("error" in result for result in expected)
    assert sent > CASES_PER_RUN // 4 and rejected > CASES_PER_RUN // 20, (sent, rejected)
    assert not mismatches, orjson.dumps(mismatches[:3], option=orjson.OPT_INDENT_2).decode()


def _api_key(entries: dict[str, Any]) -> str:
    return base64.b64encode(orjson.dumps(entries)).decode()


def test_test_authentication_matches_the_reference() -> None:
    settings = [
        {"apiKey": _api_key({"id": "demo", "secret": "demo"}), "sitecode": "demosite01"},
        {"apiKey": _api_key({"id": "a b", "secret": "x&y", "n": 5}), "sitecode": "1q2w3e4r5t"},
        {"apiKey": _api_key({"id": "demo"}), "sitecode": "short"},
        {"apiKey": _api_key({"id": "demo", "ok": True, "nil": None}), "sitecode": "0123456789"},
    ]
    cases = [{"testAuth": True, "settings": s} for s in settings]
    expected = run_oracle("destination_oracle.js", cases)
    for setting, reference in zip(settings, expected, strict=True):
        try:
            request = KAMELEOON_ACTIONS.test_authentication(setting, ENDPOINT)
        except AuthenticationError as error:
            assert reference["error"]["message"].endswith(str(error))
            continue
        import httpx

        path = str(httpx.URL(request.url).raw_path.decode())
        assert request.method == reference["request"]["method"]
        assert path == "/segmentio" + reference["request"]["path"]
