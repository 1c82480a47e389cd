"""A tiny static site for the browser test: a page with the Segment snippet, analytics.js
(the standalone bundle from node_modules, unmodified) and the CDN settings it fetches."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson

from tests.e2e.stack import NODE_DIR

BUNDLES = NODE_DIR / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"

# Segment's snippet, reduced to what it does: buffer calls until analytics.js loads,
# then point analytics.js at our "CDN" (this site) for its settings and chunks.
PAGE = """<!doctype html>
<html><head><title>Relay browser test</title>
<script>
  var analytics = (window.analytics = []);
  analytics.methods = ["track", "page", "identify", "group", "alias", "screen", "ready",
                       "reset", "on", "off", "once", "debug", "setAnonymousId"];
  analytics.factory = function (method) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      args.unshift(method);
      analytics.push(args);
      return analytics;
    };
  };
  for (var i = 0; i < analytics.methods.length; i++) {
    analytics[analytics.methods[i]] = analytics.factory(analytics.methods[i]);
  }
  analytics._writeKey = __WRITE_KEY__;
  analytics._cdn = __CDN__;
  analytics._loadOptions = __LOAD_OPTIONS__;
  analytics.SNIPPET_VERSION = "5.2.0";
</script>
<script>__CALLS__</script>
<script async src="/analytics.js"></script>
</head><body><h1>shop</h1></body></html>
"""


def settings(write_key: str, relay_host: str) -> dict:
    """What cdn.segment.com/v1/projects/{key}/settings answers, aimed at the relay."""
    return {
        "integrations": {
            "Segment.io": {"apiKey": write_key, "apiHost": f"{relay_host}/v1", "protocol": "http"}
        },
        "plan": {"track": {"__default": {"enabled": True}}},
        "metrics": {"sampleRate": 0},
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


@contextlib.contextmanager
def static_site(write_key: str, relay_host: str, calls_js: str) -> Iterator[str]:
    """Serves the page at `/` (`/?batching=1` uses analytics.js's batching delivery)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/":
                batching = parse_qs(url.query).get("batching") == ["1"]
                self._send(page(batching), "text/html")
            elif url.path == "/analytics.js":
                self._send((BUNDLES / "standalone.js").read_bytes(), "application/javascript")
            elif url.path.startswith("/analytics-next/bundles/"):
                name = Path(url.path).name
                file = BUNDLES / name
                if file.is_file():
                    self._send(file.read_bytes(), "application/javascript")
                else:
                    self.send_error(404)
            elif url.path == f"/v1/projects/{write_key}/settings":
                self._send(orjson.dumps(settings(write_key, relay_host)), "application/json")
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def page(batching: bool) -> bytes:
        options: dict = {}
        if batching:
            strategy = {"strategy": "batching", "config": {"size": 3, "timeout": 200}}
            options = {"integrations": {"Segment.io": {"deliveryStrategy": strategy}}}
        html = (
            PAGE.replace("__WRITE_KEY__", orjson.dumps(write_key).decode())
            .replace("__CDN__", orjson.dumps(base).decode())
            .replace("__LOAD_OPTIONS__", orjson.dumps(options).decode())
            .replace("__CALLS__", calls_js)
        )
        return html.encode()

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def static_pages(pages: dict[str, str]) -> Iterator[str]:
    """Serves each HTML page at its path on a port of its own: a second origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = pages.get(urlparse(self.path).path)
            if html is None:
                self.send_error(404)
                return
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
