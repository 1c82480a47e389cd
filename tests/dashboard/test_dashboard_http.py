"""The dashboard without admin_token: loopback callers only, still CSRF-protected."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from kameleoon_relay.config import default_config
from kameleoon_relay.sandbox import create_app as create_sandbox
from kameleoon_relay.server import create_app

HTML = {"accept": "text/html"}


def test_loopback_only_without_a_token(tmp_path: Path) -> None:
    app = create_app(default_config(tmp_path, {}), sandbox=create_sandbox())
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000)) as local:
        page = local.get("/", headers=HTML)
        assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
        assert 'href="/sandbox/"' in page.text  # the sandbox is mounted: linked
        assert "kr_session" in page.cookies
        assert local.get("/login", follow_redirects=False).status_code == 303  # no login
        body = {"destination": "kameleoon", "subscription": {}}
        assert local.post("/dashboard/api/check", json=body).status_code == 403  # no CSRF
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        checked = local.post("/dashboard/api/check", json=body, headers={"x-csrf-token": csrf})
        assert checked.status_code == 200 and "trigger: required" in checked.json()["problems"]
    with TestClient(app, client=("203.0.113.9", 50000)) as remote:
        assert remote.get("/", headers=HTML).status_code == 403
        assert remote.get("/deliveries").status_code == 403
        assert remote.get("/dashboard/api/overview").status_code == 403
