"""`kameleoon-relay bench`: the benchmark suite (bench/suite.py of a source checkout)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kameleoon_relay.cli.app import app

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option(help="Short measurements (a few minutes on 2 busy cores).")
    ] = False,
    smoke: Annotated[
        bool, typer.Option(help="A few seconds: checks the harness runs, figures are rough.")
    ] = False,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write every figure and detail to FILE.")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            help="The relays' `database:` URL (default: SQLite, one file per phase in a "
            "temporary directory). `{phase}` in it is replaced by the phase's name "
            "(ingest, drain); without it every phase shares that database."
        ),
    ] = None,
    concurrency: Annotated[
        str,
        typer.Option(
            help='delivery.concurrency: "adaptive" or N (N is also the e2e ceiling\'s '
            "connections; 16 when adaptive)."
        ),
    ] = "adaptive",
    delivery_processes: Annotated[
        str,
        typer.Option(help='delivery.processes of the delivering relays: "auto" or 0, 1, 2...'),
    ] = "auto",
    load_generator: Annotated[
        str,
        typer.Option(
            help="auto: wrk when installed, else python (asyncio, slower: lower ceilings)."
        ),
    ] = "auto",
) -> None:
    """Run every benchmark (pipeline vs Node, ingest vs its ceiling, drain vs the e2e
    ceiling, delivery under ingest) and print a table, the machine first.

    Runs from a source checkout (bench/ beside src/), with Node and tests/oracle's
    packages installed. The load generator is wrk when installed (apt-get install
    wrk), else a slower asyncio one; the table says which. See bench/README.md.
    """
    from rich.console import Console

    if load_generator not in ("auto", "wrk", "python"):
        typer.echo("error: --load-generator: auto, wrk or python", err=True)
        raise typer.Exit(2)
    processes: int | str = delivery_processes
    if delivery_processes != "auto":
        if not (delivery_processes.isascii() and delivery_processes.isdigit()):
            typer.echo('error: --delivery-processes: "auto" or 0, 1, 2...', err=True)
            raise typer.Exit(2)
        processes = int(delivery_processes)
    fixed: int | str = concurrency
    if concurrency != "adaptive":
        if not (concurrency.isascii() and concurrency.isdigit() and int(concurrency) >= 1):
            typer.echo('error: --concurrency: "adaptive" or 1, 2, 3...', err=True)
            raise typer.Exit(2)
        fixed = int(concurrency)
    if quick and smoke:
        typer.echo("error: --quick and --smoke: choose one", err=True)
        raise typer.Exit(2)
    if not (BENCH_DIR / "suite.py").is_file():
        typer.echo(
            f"error: bench/suite.py not found at {BENCH_DIR}: `bench` runs from a source "
            "checkout (pip install -e .)",
            err=True,
        )
        raise typer.Exit(2)
    if json_file is not None and not json_file.parent.is_dir():
        typer.echo(f"error: --json: no directory {json_file.parent}", err=True)
        raise typer.Exit(2)
    sys.path.insert(0, str(BENCH_DIR))
    import suite  # bench/suite.py

    console = Console(stderr=True)
    out = Console()
    if not out.is_terminal:  # a log or CI: no wrapping at 80 columns
        out = Console(width=120)
    mode = "smoke" if smoke else "quick" if quick else "full"
    machine = suite.machine(load_generator)
    out.print(f"[bold]machine:[/bold] {machine['description']}")
    out.print(
        f"  node {machine['node']}, load generator: {machine['load_generator']}, "
        f"load average {machine['load_average_1m']} (other work skews the figures)"
    )

    # SIGTERM ends the run like Ctrl-C: the suite's `finally` stops every child.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        report = suite.run_suite(
            mode,
            database,
            lambda line: console.print(line, highlight=False),
            fixed,
            load_generator,
            processes,
        )
    except suite.BenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted: every process the bench started is stopped", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    out.print(_table(report))
    for line in _notes(report):
        out.print(line, highlight=False, soft_wrap=True)
    if json_file is not None:
        suite.dump(report, json_file)
        out.print(f"JSON: {json_file}")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _table(r: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"kameleoon-relay bench ({r['mode']}, {r['seconds']} s)")
    table.add_column("figure")
    table.add_column("events/s", justify="right")
    table.add_column("against")
    table.add_column("events/s", justify="right")
    table.add_column("ratio", justify="right")
    ratios = r["ratios"]
    rows = [
        ("pipeline (ours)", "pipeline_events_per_s", "Node reference core",
         "node_pipeline_events_per_s", ratios["pipeline_over_node"]),
        ("ingest (/v1/batch, 100 a request)", "ingest_events_per_s", "do-nothing app, same stack",
         "ingest_ceiling_events_per_s", ratios["ingest_over_ceiling"]),
        ("drain (queued backlog -> sink)", "drain_events_per_s", "e2e ceiling: raw client -> sink",
         "e2e_ceiling_events_per_s", ratios["drain_over_e2e_ceiling"]),
        ("delivery under ingest at 1/2 max", "delivery_under_ingest_events_per_s", "drain",
         "drain_events_per_s", ratios["under_ingest_over_drain"]),
        ("drain, sink 100 ms away", "drain_far_events_per_s", "drain (sink 0 ms away)",
         "drain_events_per_s", ratios["drain_far_over_drain"]),
        ("drain, sink limited (429 above)", "rate_limited_events_per_s", "the sink's limit",
         "rate_limited_limit_per_s", r["rate_limited_share_of_limit"]),
        ("ordering per_user, 20% 503 (to 95%)", "ordering_per_user_events_per_s",
         "ordering none", "ordering_none_events_per_s", ratios.get("ordering_per_user_over_none")),
        ("Data API (batched), 100 ms away", "drain_data_api_far_events_per_s",
         "Kameleoon (Actions), same", "drain_actions_far_events_per_s",
         ratios.get("data_api_over_actions_far")),
    ]  # fmt: skip
    for label, key, against, base_key, ratio in rows:
        if key not in r:  # a window this mode skips
            continue
        table.add_row(
            label, f"{r[key]:,.0f}", against, f"{r[base_key]:,.0f}",
            f"{ratio:.2f}x" if ratio is not None else "-",
        )  # fmt: skip
    return table


def _notes(r: dict[str, Any]) -> list[str]:
    under = r["delivery_under_ingest"]
    below = r["backlog_below_drain"]
    drain = r["drain"]
    limited = r["rate_limited"]
    pipeline = r["pipeline"]
    return [
        f"pipeline: bodies equal byte for byte ({pipeline['body_bytes']} bytes), median of "
        f"{pipeline['rounds']} x {pipeline['iterations']} events",
        f"ingest: delivery parked; {r['ingest']['connections']} connections, "
        f"{r['ingest']['errors']} errors; load generator: {r['load_generator']}",
        f"sink: {r['sink']['kind']} ({r['sink']['loop']}); max {r['sink']['max_events_per_s']:,.0f}"
        f" req/s, {r['sink']['busy_share_during_drain']:.0%} of it used by the drain",
        f"drain: {drain['events']} events in {drain['seconds']} s, concurrency "
        f"{drain['concurrency']}; relay says delivered {drain['relay_delivered']}, "
        f"failed/dead {drain['relay_failed_or_dead']}",
        f"under ingest: target {under['ingest_target_events_per_s']:,.0f} ev/s, achieved "
        f"{under['ingest_achieved_events_per_s']:,.0f}; backlog {under['backlog_start']} -> "
        f"{under['backlog_end']} over {under['window_seconds']} s",
        f"below the drain rate: ingest {below['ingest_achieved_events_per_s']:,.0f} ev/s, "
        f"delivered {below['delivered_events_per_s']:,.0f}; backlog {below['backlog_start']} -> "
        f"{below['backlog_end']} over {below['window_seconds']} s",
        f"rate limited: {limited['events']} events in {limited['seconds']} s to a sink "
        f"{limited['sink_latency_ms']} ms away; {limited['answered_429']} answers of 429 in "
        f"{limited['attempts']} requests ({r['rate_limited_429_share']:.1%})",
        *([_ordering_note(r["ordering"])] if "ordering" in r else []),
        f"database: {r['database']}; delivery.processes: {r['delivery_processes']}",
    ]


def _ordering_note(window: dict[str, Any]) -> str:
    none, per_user = window["none"], window["per_user"]
    return (
        f"ordering: {window['users']} users x {window['events_per_user']} events, sandbox "
        f"answering {window['sandbox_error_rate']:.0%} 503; out-of-order pairs: none "
        f"{none['out_of_order_pairs']} ({none['events_overtaken']} events overtaken), per_user "
        f"{per_user['out_of_order_pairs']}; all delivered in {none['seconds_to_all']} s vs "
        f"{per_user['seconds_to_all']} s (retry tail)"
    )
