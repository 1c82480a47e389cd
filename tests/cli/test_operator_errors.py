"""Errors that say what to do.

The commands run in-process through Typer's CliRunner (fast); `serve` runs as a
real server process, since what matters is what it prints before it listens.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kameleoon_relay import __version__
from kameleoon_relay.cli import app
from tests.e2e.stack import SANDBOX_API_KEY, SANDBOX_SITECODE
from tests.helpers.processes import CLI, free_port

# Unset so that the embedded default's credentials come from each test alone.
CLEAN_ENV = {"KAMELEOON_API_KEY": "", "KAMELEOON_SITECODE": "", "KAMELEOON_RELAY_ADMIN_TOKEN": ""}
COMMANDS = ["preview", "fql", "map", "check-config", "check-auth", "sandbox", "serve", "replay"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> Result:
    """A command in-process, as the console script runs it (not `serve`: see `serve`)."""
    variables: dict[str, str | None] = {**CLEAN_ENV, **(env or {})}
    variables.update(dict.fromkeys(unset))  # None: removed from the environment
    result = CliRunner().invoke(app, list(args), env=variables)
    return Result(result.exit_code, result.stdout, result.stderr)


def serve(
    *args: str, env: dict[str, str] | None = None, cwd: Path, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`kameleoon-relay serve ARGS` as a process; each test here expects it to refuse."""
    full_env = {**os.environ, **CLEAN_ENV, **(env or {})}
    return subprocess.run(
        [*CLI, "serve", *args],
        capture_output=True,
        text=True,
        env={name: value for name, value in full_env.items() if name not in unset},
        cwd=cwd,
        timeout=30,  # a serve that does not refuse would run until killed
        check=False,
    )


def config_text(
    *,
    database: str = "sqlite:///./relay.db",
    api_key: str = SANDBOX_API_KEY,
    sitecode: str = SANDBOX_SITECODE,
    endpoint: str = "http://127.0.0.1:9/segmentio",
) -> str:
    return f"""
sources: [{{name: web, write_key: wk}}]
destinations:
  - name: kameleoon
    type: kameleoon-actions
    endpoint: "{endpoint}"
    settings: {{apiKey: {api_key}, sitecode: {sitecode}}}
database: "{database}"
"""


def write(tmp_path: Path, text: str, name: str = "relay.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # configs name ./relay.db


def errors(result: Result | subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


# -- the command line itself ----------------------------------------------------------------


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = cli(flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"kameleoon-relay {__version__}\n"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_dash_h_is_help_and_help_has_no_type_noise(command: str | None) -> None:
    args = [command] if command else []
    short, long = cli(*args, "-h"), cli(*args, "--help")
    assert short.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert short.stdout.startswith("Usage: ")
    assert "<bool>" not in short.stdout
    assert "-h, --help" in short.stdout


def test_flags_are_single_switches() -> None:
    preview = cli("preview", "-h").stdout
    assert "--reveal-secrets" in preview and "--no-reveal-secrets" not in preview
    serve_help = cli("serve", "-h").stdout
    assert "--sandbox" in serve_help and "--no-sandbox" not in serve_help


# -- check-config runs what serve would, and serve refuses the same, in one line -------------

BAD_CONFIGS = {
    "mysql": (
        {"database": "mysql://user:hunter2@db/relay"},
        "database: unsupported scheme 'mysql://'; use sqlite:///path/relay.db or postgresql://",
    ),
    "postgresql-port": (
        {"database": "postgresql://user:hunter2@db:54x/relay"},
        "database: the PostgreSQL port must be a number",
    ),
    "postgresql-name": (
        {"database": "postgresql://user:hunter2@db:5432/a/b"},
        "database: the PostgreSQL database name must be a single path segment",
    ),
    "sqlite-two-slashes": (
        {"database": "sqlite://relay.db"},
        "database: a SQLite URL has three slashes",
    ),
    "folder-cannot-be-created": (
        {"database": "sqlite:///{tmp}/a-file/sub/relay.db"},
        "database: cannot create the folder {tmp}/a-file/sub (Not a directory)",
    ),
    "database-is-a-folder": (
        {"database": "sqlite:///{tmp}"},
        "database: {tmp} is a folder; name a file in it",
    ),
    "api-key-not-base64": (
        {"api_key": "not-base64-key"},
        "destinations[0].settings.apiKey: is not base64 of a JSON object",
    ),
    "api-key-outside-latin-1": (
        {"api_key": "kéy-€-ключ"},  # Node refuses it as a header value too
        "destinations[0].settings.apiKey: is not base64 of a JSON object",
    ),
    "api-key-not-an-object": (
        {"api_key": "WzEsMl0="},  # base64 of [1,2]
        "destinations[0].settings.apiKey: is base64 of JSON but not of an object",
    ),
    "api-key-a-list": (
        {"api_key": "[not-base64-key, b]"},
        "destinations[0].settings.apiKey: must be a string (base64 of a JSON object), got a list",
    ),
    "sitecode-length": (
        {"sitecode": "short"},
        "destinations[0].settings.sitecode: must be exactly 10 characters, got 5",
    ),
    "sitecode-a-short-number": (
        {"sitecode": "12345"},  # YAML reads a number
        "destinations[0].settings.sitecode: must be exactly 10 characters, got 5 (quote it",
    ),
    "sitecode-a-mapping": (
        {"sitecode": "{a: 1}"},
        "destinations[0].settings.sitecode: must be a string of 10 characters, got a mapping",
    ),
}
SECRETS = ("hunter2", "not-base64-key", "WzEsMl0=", "kéy-€-ключ")


def _bad_config(tmp_path: Path, case: str) -> tuple[Path, str]:
    (tmp_path / "a-file").write_text("not a folder")
    fields, message = BAD_CONFIGS[case]
    fields = {key: value.replace("{tmp}", str(tmp_path)) for key, value in fields.items()}
    return write(tmp_path, config_text(**fields)), message.replace("{tmp}", str(tmp_path))


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_check_config_refuses_what_serve_would(tmp_path: Path, case: str) -> None:
    path, message = _bad_config(tmp_path, case)
    result = cli("check-config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "valid" not in result.stdout
    (line,) = errors(result)
    assert line.startswith(f"error: {path}: {message}"), line
    assert "Traceback" not in result.stderr
    assert not any(secret in result.stderr for secret in SECRETS)


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_serve_refuses_at_start_with_the_same_line(tmp_path: Path, case: str) -> None:
    path, message = _bad_config(tmp_path, case)
    port = free_port()
    result = serve("--config", str(path), "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # no banner: nothing was served
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}"), line
    assert not any(secret in result.stderr for secret in SECRETS)
    assert not (tmp_path / "a-file").is_dir()


# Every command that loads a config refuses what serve refuses, with serve's line; the
# ones that only read the queue (status, deliveries, replay) load and check its keys alone.
CONFIG_COMMANDS = {
    "preview": ("preview", "--config", "{path}", "-"),
    "check-auth": ("check-auth", "--config", "{path}"),
    "replay": ("replay", "--config", "{path}", "--dry-run"),
    "status": ("status", "--config", "{path}"),
    "deliveries": ("deliveries", "--config", "{path}"),
}
QUEUE_COMMANDS = ("status", "deliveries", "replay")
REFUSALS = [
    (case, command)
    for command in CONFIG_COMMANDS
    for case, (_, message) in BAD_CONFIGS.items()
    if command not in QUEUE_COMMANDS or message.startswith("database")
]


@pytest.mark.parametrize(("case", "command"), REFUSALS)
def test_every_config_command_refuses_what_serve_would(
    tmp_path: Path, case: str, command: str
) -> None:
    path, message = _bad_config(tmp_path, case)
    args = [arg.replace("{path}", str(path)) for arg in CONFIG_COMMANDS[command]]
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # no request previewed, nothing sent or read
    (line,) = errors(result)
    assert line.startswith(f"error: {message}"), line
    assert not any(secret in result.stderr for secret in SECRETS)


def test_check_config_leaves_no_folder_behind(tmp_path: Path) -> None:
    database = tmp_path / "new" / "deeper" / "relay.db"
    path = write(tmp_path, config_text(database=f"sqlite:///{database}"))
    result = cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "new").exists()  # checked by creating it, then undone


def test_check_config_accepts_a_good_config_and_masks_a_database_password(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(sitecode="1234567890"))  # a 10-digit number is sent as is
    result = cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: valid" in result.stdout
    assert SANDBOX_API_KEY not in result.stdout + result.stderr
    from kameleoon_relay.config.checks import display_database

    shown = display_database("postgresql://relay:hunter2@db.internal:5432/relay")
    assert shown == "postgresql://relay:***@db.internal:5432/relay"


def test_check_config_warns_about_an_endpoint_it_cannot_reach(tmp_path: Path) -> None:
    closed = free_port()  # bound and released: nothing listens there
    path = write(tmp_path, config_text(endpoint=f"http://127.0.0.1:{closed}/segmentio"))
    result = cli("check-config", str(path))
    assert result.returncode == 0, result.stderr  # a warning: deliveries would be retried
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert f"destinations[0].endpoint: cannot reach 127.0.0.1:{closed} now" in warning
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        path = write(tmp_path, config_text(endpoint=f"http://127.0.0.1:{port}/segmentio"))
        reachable = cli("check-config", str(path))
    assert reachable.returncode == 0 and "warning" not in reachable.stderr, reachable.stderr


def test_check_config_says_a_sandbox_endpoint_needs_serve_sandbox(tmp_path: Path) -> None:
    path = write(tmp_path, config_text(endpoint="http://127.0.0.1:8080/sandbox/segmentio"))
    result = cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert "destinations[0].endpoint: a relay's sandbox; serve this config with --sandbox" in (
        result.stderr
    )


# -- environment variables and YAML ----------------------------------------------------------

ENV_CONFIG = """
sources:
  - name: web
    write_key: ${WEB_WRITE_KEY}
destinations:
  - name: kameleoon
    type: kameleoon-actions
    sources: [web]
    settings: {apiKey: ${KAMELEOON_API_KEY}, sitecode: ${KAMELEOON_SITECODE}}
"""


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_unset_variables_are_reported_once_each_without_a_cascade(
    tmp_path: Path, command: str
) -> None:
    path = write(tmp_path, ENV_CONFIG)
    unset = ("WEB_WRITE_KEY", "KAMELEOON_API_KEY", "KAMELEOON_SITECODE")
    if command == "serve":
        result: Result | subprocess.CompletedProcess[str] = serve(
            "--config", str(path), cwd=tmp_path, unset=unset
        )
    else:
        result = cli(command, str(path), unset=unset)
    assert result.returncode == 2
    assert [line.split(": ", 2)[-1] for line in errors(result)] == [
        "sources[0].write_key: environment variable WEB_WRITE_KEY is not set",
        "destinations[0].settings.apiKey: environment variable KAMELEOON_API_KEY is not set",
        "destinations[0].settings.sitecode: environment variable KAMELEOON_SITECODE is not set",
    ]
    assert "unknown source" not in result.stderr and "required" not in result.stderr


def test_an_unknown_source_is_still_reported(tmp_path: Path) -> None:
    path = write(tmp_path, ENV_CONFIG.replace("sources: [web]", "sources: [mobile]"))
    env = {"WEB_WRITE_KEY": "wk", "KAMELEOON_API_KEY": SANDBOX_API_KEY, "KAMELEOON_SITECODE": ""}
    result = cli("check-config", str(path), env=env)
    assert result.returncode == 2
    assert "destinations[0].sources: unknown source 'mobile'" in result.stderr


@pytest.mark.parametrize(
    ("text", "place", "reason"),
    [
        ("sources: [{name: web, write_key: k}\n", "line 2, column 1", "expected ',' or ']'"),
        ("sources:\n  - name: web\n   write_key: k\n", "line 3, column 4", "expected <block end>"),
        ("sources: *nowhere\n", "line 1, column 10", "found undefined alias 'nowhere'"),
        ("a:\tb: c\n", "line 1, column 3", "found character '\\t' that cannot start any token"),
    ],
)
def test_yaml_errors_give_place_and_reason(
    tmp_path: Path, text: str, place: str, reason: str
) -> None:
    path = write(tmp_path, text)
    result = cli("check-config", str(path))
    assert result.returncode == 2
    (line,) = errors(result)
    assert line.startswith(f"error: {path}: {place}: invalid YAML: {reason}"), line


def test_json_errors_give_place_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, '{"sources": }', name="relay.json")
    (line,) = errors(cli("check-config", str(path)))
    assert line.startswith(f"error: {path}: line 1, column 13: invalid JSON: "), line


# -- serve: half-set credentials, a busy port -----------------------------------------------


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"KAMELEOON_API_KEY": "eyJpZCI6InJlYWwifQ=="}, "KAMELEOON_SITECODE"),
        ({"KAMELEOON_SITECODE": "realsite01"}, "KAMELEOON_API_KEY"),
    ],
)
def test_half_set_credentials_are_an_error_naming_the_missing_one(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    result = serve("--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # never silently the sandbox
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {missing} is not set but ")
    assert "eyJpZCI6InJlYWwifQ==" not in line


def test_bad_live_credentials_are_named_by_their_variable(tmp_path: Path) -> None:
    env = {"KAMELEOON_API_KEY": "not-base64-key", "KAMELEOON_SITECODE": "site"}
    result = serve("--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: KAMELEOON_API_KEY: is not base64 of a JSON object, as Kameleoon API keys are; "
        "Kameleoon would refuse every delivery (401): copy the key again from Kameleoon",
        "error: KAMELEOON_SITECODE: must be exactly 10 characters, got 4 "
        "(your Kameleoon project's sitecode)",
    ]


@pytest.mark.parametrize("with_config", [True, False])
def test_a_busy_port_is_one_line_naming_it_and_port(tmp_path: Path, with_config: bool) -> None:
    args = ["--config", str(write(tmp_path, config_text()))] if with_config else []
    with socket.socket() as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        port = occupied.getsockname()[1]
        result = serve(*args, "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # refused before the "listening on" banner
    assert result.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (another relay?); "
        "stop that process or choose another port with --port"
    ]


def test_a_host_that_is_not_here_is_one_line(tmp_path: Path) -> None:
    result = serve("--host", "192.0.2.1", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: cannot listen on '192.0.2.1': not an address of this machine; check --host"
    ]
