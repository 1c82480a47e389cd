"""`kameleoon-relay status`: the dashboard's overview in the terminal.

Reads the queue directly (like `replay`), so it works whether or not a relay runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.options import OptionalConfig, exit_with_error


@app.command()
def status(config: OptionalConfig = None) -> None:
    """Per destination and action, over the last hour and day: received, filtered,
    delivered, retrying, failed, dead, waiting; p50/p95 latency and queue depth."""
    from kameleoon_relay.cli.store_access import config_for
    from kameleoon_relay.config import ConfigError
    from kameleoon_relay.errors import RelayError

    try:
        cfg = config_for(config)
        data = asyncio.run(_overview(cfg))
    except (ConfigError, RelayError, ValueError) as exc:
        exit_with_error(exc)
    _print(data)


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
