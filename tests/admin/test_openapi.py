"""The OpenAPI document describes every route the app serves, and only those."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route

from kameleoon_relay import dashboard
from kameleoon_relay.admin.openapi import openapi_document
from kameleoon_relay.config import default_config
from kameleoon_relay.ingest.routes import ingest_paths
from kameleoon_relay.server import create_app


def test_every_route_is_in_the_openapi_document(tmp_path: Path) -> None:
    app = create_app(default_config(tmp_path, {}))
    # The dashboard's pages and their session-guarded calls are not the admin API.
    pages = {route.path for route in dashboard.routes(json_index=create_app)}  # type: ignore[arg-type]
    served = {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route) and route.path not in pages
        for method in route.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    paths = openapi_document(ingest_paths())["paths"]
    documented = {(path, method.upper()) for path, item in paths.items() for method in item}
    assert documented == served
    mounts = [route.path for route in app.routes if isinstance(route, Mount)]
    assert mounts == ["/dashboard/static"]  # no sandbox given
    for item in paths.values():
        for operation in item.values():
            assert operation["summary"] and "200" in operation["responses"]
