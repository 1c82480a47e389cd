"""`kameleoon-relay status`: the dashboard's overview in the terminal.

Reads the queue directly (like `replay`), so it works whether or not a relay runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.options import OptionalConfig, exit_with_error

DEFAULT_RELAY = "http://127.0.0.1:8080"


@app.command()
def status(
    config: OptionalConfig = None,
    relay: Annotated[
        str,
        typer.Option(help="A running relay, for the live delivery state (its /metrics)."),
    ] = DEFAULT_RELAY,
) -> None:
    """Per destination and action, over the last hour and day: received, filtered,
    delivered, retrying, failed, dead, waiting; p50/p95 latency and queue depth; and,
    from a running relay, each destination's concurrency limit, in flight, RTT, pause and
    paced rate."""
    from kameleoon_relay.cli.store_access import config_for
    from kameleoon_relay.config import ConfigError
    from kameleoon_relay.errors import RelayError

    try:
        cfg = config_for(config)
        data = asyncio.run(_overview(cfg))
    except (ConfigError, RelayError, ValueError) as exc:
        exit_with_error(exc)
    _print(data)
    _print_delivery(relay, cfg.admin_token)


async def _overview(cfg: Any) -> dict[str, Any]:
    from kameleoon_relay.cli.store_access import opened_store
    from kameleoon_relay.dashboard.overview import overview

    async with opened_store(cfg) as store:
        return await overview(store, [d.name for d in cfg.destinations])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from kameleoon_relay.dashboard.overview import COLUMNS

    console = Console(width=120)
    for window, title in (("hour", "Last hour"), ("day", "Last day")):
        table = Table(title=title, title_justify="left")
        table.add_column("destination / action")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        for name, entry in data["windows"][window].items():
            table.add_row(name, *(str(entry["total"][c]) for c in COLUMNS))
            for action, counts in entry["actions"].items():
                table.add_row(f"  {action}", *(str(counts[c]) for c in COLUMNS))
        console.print(table)
    table = Table(title="Latency (last hour) and queue", title_justify="left")
    for column in ("destination", "p50", "p95", "waiting", "oldest waiting"):
        table.add_column(column, justify="left" if column == "destination" else "right")
    names = sorted(set(data["windows"]["hour"]) | set(data["latency"]) | set(data["queue"]))
    for name in names:
        latency = data["latency"].get(name, {})
        queue = data["queue"].get(name, {})
        oldest = queue.get("oldest_age")
        table.add_row(
            name,
            _ms(latency.get("p50")),
            _ms(latency.get("p95")),
            str(queue.get("depth", 0)),
            "-" if not oldest else f"{oldest:.0f} s",
        )
    console.print(table)


def _print_delivery(relay: str, token: str | None) -> None:
    import httpx
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    try:
        state = _live_state(relay, token)
    except (httpx.HTTPError, ValueError) as exc:  # not running, or not a relay's page
        console.print(f"Delivery (live): no relay answering at {relay} ({type(exc).__name__})")
        return
    table = Table(title=f"Delivery (live, {relay})", title_justify="left")
    for column in ("destination", "limit", "in flight", "RTT", "RTT EWMA", "paced at", "paused"):
        table.add_column(column, justify="left" if column == "destination" else "right")
    for name, d in sorted(state.items()):
        paused = d.get("paused_until", 0.0) - time.time()
        table.add_row(
            name,
            f"{d.get('limit', 0):.0f}",
            f"{d.get('in_flight', 0):.0f}",
            _ms(d.get("rtt_seconds") or None),
            _ms(d.get("rtt_ewma_seconds") or None),
            f"{d['rate_per_second']:.0f}/s" if d.get("rate_per_second") else "-",
            f"{paused:.0f} s more" if paused > 0 else "-",
        )
    console.print(table)


def _live_state(relay: str, token: str | None) -> dict[str, dict[str, float]]:
    """The adaptive gauges from the relay's /metrics (the admin token as a Bearer)."""
    from prometheus_client.parser import text_string_to_metric_families

    from kameleoon_relay.delivery import sync_client
    from kameleoon_relay.delivery.adaptive_view import FIELDS

    headers = {"authorization": f"Bearer {token}"} if token else {}
    with sync_client(timeout=5) as client:
        response = client.get(relay.rstrip("/") + "/metrics", headers=headers)
    if response.status_code != 200:
        raise ValueError(f"HTTP {response.status_code}")
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            name = sample.labels.get("destination")
            if name is not None and sample.name in FIELDS:
                found.setdefault(name, {})[FIELDS[sample.name]] = sample.value
    return {name: entry for name, entry in found.items() if "limit" in entry}
