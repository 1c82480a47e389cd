"""The embedded default that `serve` runs with no config file."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from kameleoon_relay.config.errors import ConfigError
from kameleoon_relay.config.loader import parse_config
from kameleoon_relay.config.model import Config
from kameleoon_relay.destinations.kameleoon_actions.destination import settings_problems

SANDBOX_API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
SANDBOX_SITECODE = "demosite01"
WRITE_KEY_FILE = "write_key"
STATE_DIR_NAME = ".kameleoon-relay"  # serve's state folder: the working directory's, or --config's
DEFAULT_SOURCE = "default"
DEFAULT_DESTINATION = "kameleoon"
API_KEY_VARIABLE = "KAMELEOON_API_KEY"
SITECODE_VARIABLE = "KAMELEOON_SITECODE"


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


def kept_write_key(state_dir: Path) -> str | None:
    """The write key the embedded default keeps under `state_dir`, if it made one."""
    path = state_dir / WRITE_KEY_FILE
    return path.read_text().strip() if path.exists() else None


def _write_key(state_dir: Path) -> str:
    """A write key generated once and kept, so SDKs keep working across restarts."""
    kept = kept_write_key(state_dir)
    if kept:
        return kept
    key = new_write_key()
    path = state_dir / WRITE_KEY_FILE
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def default_config(
    state_dir: Path, env: Mapping[str, str] | None = None, host: str = "127.0.0.1", port: int = 8080
) -> Config:
    """SQLite under `state_dir`, one source, the Kameleoon (Actions) presets.

    The target is the sandbox mounted at /sandbox, unless KAMELEOON_API_KEY and
    KAMELEOON_SITECODE are set: then it is Kameleoon itself.
    """
    env = os.environ if env is None else env
    api_key, sitecode = env.get(API_KEY_VARIABLE), env.get(SITECODE_VARIABLE)
    live = bool(api_key and sitecode)
    if bool(api_key) != bool(sitecode):
        # Half the live credentials: silently using the sandbox would hide the mistake.
        missing, present = (
            (SITECODE_VARIABLE, API_KEY_VARIABLE)
            if api_key
            else (API_KEY_VARIABLE, SITECODE_VARIABLE)
        )
        raise ConfigError(
            [
                f"{missing} is not set but {present} is: set both to deliver to Kameleoon, "
                "or neither to deliver to the sandbox"
            ]
        )
    if live:
        # Named by variable: there is no config file whose key path would mean anything.
        variables = {"apiKey": API_KEY_VARIABLE, "sitecode": SITECODE_VARIABLE}
        problems = settings_problems({"apiKey": api_key, "sitecode": sitecode})
        if problems:
            raise ConfigError([f"{variables[key]}: {text}" for key, text in problems.items()])
    state_dir.mkdir(parents=True, exist_ok=True)
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    destination = {
        "name": DEFAULT_DESTINATION,
        "type": "kameleoon-actions",
        "settings": {"apiKey": api_key, "sitecode": sitecode}
        if live
        else {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE},
    }
    if not live:
        destination["endpoint"] = f"http://{local_host}:{port}/sandbox/segmentio"
    document = {
        "sources": [{"name": DEFAULT_SOURCE, "write_key": _write_key(state_dir)}],
        "destinations": [destination],
        "database": f"sqlite:///{(state_dir / 'relay.db').resolve()}",
    }
    config = parse_config(document, env)
    from dataclasses import replace

    return replace(config, mount_sandbox=not live)
