"""Commands around the core engine: preview, fql, map, check-config, check-auth."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.inputs import fail, read_events, read_json_file, write_json_line
from kameleoon_relay.cli.preflight import fail_with, load_checked
from kameleoon_relay.config import Config, ConfigError, load_config
from kameleoon_relay.js.objects import as_js_value

EventsArg = Annotated[
    str, typer.Argument(help="Events file (JSON lines or a JSON array); - for stdin.")
]
ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="Config file (YAML or JSON).")]


def _load(path: str) -> Config:
    """The config, as load_config reads it: check-config reports serve's checks itself."""
    try:
        return load_config(path)
    except ConfigError as error:
        fail_with(error.problems)


@app.command()
def preview(
    config: ConfigOpt,
    events: EventsArg = "-",
    reveal_secrets: Annotated[
        bool, typer.Option("--reveal-secrets", help="Show the API key instead of ***.")
    ] = False,
    source: Annotated[str | None, typer.Option(help="Only destinations this source feeds.")] = None,
) -> None:
    """The event tester: print what Kameleoon would receive, one JSON line per event.

    A delivery whose body names no visitor gets a `warnings` list (also on stderr).
    """
    from kameleoon_relay.ingest import SpecError, normalize_event
    from kameleoon_relay.pipeline import Pipeline
    from kameleoon_relay.pipeline.identity import NO_LINKING, IdentityMap, linking_of

    pipeline = Pipeline(load_checked(config))
    identities = IdentityMap()  # links made by earlier events of this preview
    for raw in read_events(events):
        try:
            event = normalize_event(raw)
        except SpecError as error:
            message_id = raw.get("messageId") if isinstance(raw, dict) else None
            write_json_line(
                {
                    "messageId": message_id,
                    "deliveries": [],
                    "error": {"type": "SpecError", "message": str(error)},
                }
            )
            continue
        linking = linking_of(event) if pipeline.links_identities(source) else NO_LINKING
        code = identities.apply(linking)
        result = pipeline.preview(event, source, reveal_secrets, code)
        _warn_about_visitors(result)
        write_json_line(result)


def _warn_about_visitors(result: dict[str, Any]) -> None:
    """A `warnings` list on each delivery whose body names no visitor, and a line on stderr."""
    from kameleoon_relay.destinations.kameleoon_actions.request import visitor_warning

    for delivery in result["deliveries"]:
        warning = visitor_warning(delivery.get("request", {}).get("json"))
        if warning:
            delivery["warnings"] = [warning]
            where = f"{delivery['destination']} / {delivery.get('subscription')}"
            typer.echo(f"warning: {result['messageId']}: {where}: {warning}", err=True)


@app.command("fql")
def fql_command(
    trigger: Annotated[str, typer.Argument(help="An FQL trigger, e.g. 'type = \"track\"'.")],
    events: EventsArg = "-",
) -> None:
    """Evaluate a trigger: print true or false per event."""
    from kameleoon_relay.fql import FQLEvaluationError, FQLSyntaxError, compile_trigger

    try:
        matches = compile_trigger(trigger)
    except FQLSyntaxError as error:
        fail(f"invalid trigger: {error}")
    for number, event in enumerate(map(as_js_value, read_events(events)), start=1):
        try:
            typer.echo("true" if isinstance(event, dict) and matches(event) else "false")
        except FQLEvaluationError as error:
            # Segment fails such a call rather than skipping it: say so, per event.
            typer.echo("error")
            typer.echo(f"error: event {number}: {error}", err=True)


@app.command("map")
def map_command(
    mapping_file: Annotated[str, typer.Argument(help="A mapping (JSON or YAML file).")],
    events: EventsArg = "-",
) -> None:
    """Apply a mapping-kit mapping: print the mapped JSON per event."""
    from kameleoon_relay.mapping import MappingError, compile_mapping

    mapping = as_js_value(read_json_file(mapping_file))
    try:
        transform = compile_mapping(mapping)
    except MappingError as error:
        typer.echo("\n".join(f"error: {problem}" for problem in error.problems), err=True)
        raise typer.Exit(2) from None
    for event in map(as_js_value, read_events(events)):
        try:
            write_json_line(transform(event))
        except (ValueError, TypeError) as error:
            write_json_line({"error": {"type": type(error).__name__, "message": str(error)}})


@app.command("check-config")
def check_config(
    config_file: Annotated[
        str | None, typer.Argument(help="Config file (or give it with -c/--config).")
    ] = None,
    config_option: Annotated[
        str | None, typer.Option("--config", "-c", help="Config file (YAML or JSON).")
    ] = None,
) -> None:
    """Validate a config as `serve` would, and summarise its sources, destinations, mappings.

    Also warns about endpoints that cannot be reached now.
    """
    from kameleoon_relay.cli.preflight import refuse, startup_problems, warn
    from kameleoon_relay.config.checks import display_database, endpoint_warnings
    from kameleoon_relay.config.lint import config_warnings
    from kameleoon_relay.server import SANDBOX_PATH

    if config_file and config_option and config_file != config_option:
        fail("give the config file once: as FILE or with -c/--config")
    config_file = config_file or config_option
    if not config_file:
        fail("which config? kameleoon-relay check-config FILE (or -c FILE)")
    config = _load(config_file)
    refuse([f"{config_file}: {problem}" for problem in startup_problems(config)])
    warnings = [
        *config_warnings(config),
        *endpoint_warnings(config, SANDBOX_PATH, sandbox_answers=_sandbox_answers),
    ]
    warn(f"{config_file}: {warning}" for warning in warnings)
    warn(config.overlay_warnings)  # they name their file
    typer.echo(f"{config_file}: valid")
    typer.echo(f"database: {display_database(config.database)}")
    typer.echo(f"sources ({len(config.sources)}):")
    for source in config.sources:
        typer.echo(f"  - {source.name}")
    typer.echo(f"destinations ({len(config.destinations)}):")
    for destination in config.destinations:
        feeds = ", ".join(destination.sources) if destination.sources else "every source"
        state = "" if destination.enabled else " [disabled]"
        typer.echo(f"  - {destination.name} ({destination.type}){state} <- {feeds}")
        typer.echo(f"    endpoint: {destination.endpoint}")
        for line in _filter_lines(destination.filters):
            typer.echo(f"    filter: {line}")
        origin = config.subscriptions_from.get(destination.name)
        if origin:
            typer.echo(f"    subscriptions from: {origin}")
        for subscription in destination.subscriptions:
            flag = "" if subscription.enabled else " [disabled]"
            mapping = "default mapping" if subscription.mapping is None else "custom mapping"
            typer.echo(
                f"    * {subscription.name}{flag}: {subscription.trigger} -> "
                f"{subscription.action} ({mapping})"
            )


def _sandbox_answers(endpoint: str) -> bool:
    """Whether a sandbox is mounted at `endpoint` now: its /getapikey answers, not a 404."""
    import httpx

    from kameleoon_relay.config.checks import REACH_TIMEOUT
    from kameleoon_relay.delivery.client import sync_client

    try:
        with sync_client(timeout=REACH_TIMEOUT) as client:
            return client.get(f"{endpoint}/getapikey").status_code != 404
    except httpx.HTTPError:
        return False


def _filter_lines(filters: tuple[dict[str, Any], ...]) -> list[str]:
    import orjson

    return [orjson.dumps(item).decode() for item in filters]


@app.command("check-auth")
def check_auth(
    config: ConfigOpt,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kameleoon.")] = 10.0,
) -> None:
    """Run Kameleoon's test authentication against each configured endpoint."""
    import httpx

    from kameleoon_relay.delivery.client import sync_client
    from kameleoon_relay.destinations import DESTINATION_TYPES
    from kameleoon_relay.destinations.kameleoon_actions.destination import AuthenticationError

    loaded = load_checked(config)
    targets = [d for d in loaded.destinations if destination in (None, d.name)]
    if not targets:
        fail(f"no destination named {destination!r}")
    failures = 0
    for target in targets:
        test = DESTINATION_TYPES[target.type].test_authentication
        if test is None:
            typer.echo(f"{target.name}: no test authentication for {target.type}")
            continue
        try:
            request = test(target.settings, target.endpoint, target.options)
            with sync_client(timeout=timeout) as client:
                response = client.request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.body or None,  # the Data API's token request is a form
                )
        except AuthenticationError as error:
            typer.echo(f"{target.name}: invalid settings: {error}")
            failures += 1
            continue
        except httpx.HTTPError as error:
            # The URL carries the key's entries: name only the endpoint.
            where = target.options.get("token_url", target.endpoint)
            typer.echo(f"{target.name}: cannot reach {where} ({type(error).__name__})")
            failures += 1
            continue
        if response.is_success:
            typer.echo(f"{target.name}: credentials accepted ({response.status_code})")
        else:
            hint = DESTINATION_TYPES[target.type].auth_failure_hint
            typer.echo(
                f"{target.name}: invalid credentials ({response.status_code})"
                + (f": {hint}" if hint else "")
            )
            failures += 1
    raise typer.Exit(1 if failures else 0)
