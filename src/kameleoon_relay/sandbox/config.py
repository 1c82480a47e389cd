"""Sandbox accounts: API keys, their sitecodes and each sitecode's configured goals."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from kameleoon_relay.errors import RelayError

SITECODE_LENGTH = 10  # Kameleoon sitecodes are 10 characters (checked by the destination too)


class SandboxConfigError(RelayError, ValueError):
    """The sandbox YAML file is missing, unreadable or has the wrong shape."""


@dataclass(frozen=True)
class Site:
    sitecode: str
    goals: tuple[str, ...] = ()
    # Kameleoon goal ids the Data API converts by, with their names (id -> name).
    goal_ids: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    api_key: dict[str, str]
    sites: tuple[Site, ...] = ()
    # OAuth client credentials for the Data API (`client: {id, secret}` in the YAML).
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @property
    def api_key_setting(self) -> str:
        """The destination's `apiKey` setting for this account: base64 of the JSON object."""
        return base64.b64encode(orjson.dumps(self.api_key)).decode()


@dataclass(frozen=True)
class SandboxConfig:
    accounts: tuple[Account, ...] = field(default_factory=tuple)

    def account_for_key(self, api_key: dict[str, str]) -> Account | None:
        for account in self.accounts:
            if account.api_key == api_key:
                return account
        return None

    def account_for_client(self, client_id: str, client_secret: str) -> Account | None:
        """The account whose OAuth client this is; secrets compared in constant time."""
        found = None
        for account in self.accounts:
            if account.client_id is None or account.client_secret is None:
                continue
            same_id = hmac.compare_digest(account.client_id.encode(), client_id.encode())
            same = hmac.compare_digest(account.client_secret.encode(), client_secret.encode())
            if same_id and same:
                found = account
        return found

    def sitecodes(self) -> dict[str, Site]:
        return {site.sitecode: site for account in self.accounts for site in account.sites}


DEFAULT_CONFIG = SandboxConfig(
    accounts=(
        Account(
            api_key={"id": "demo", "secret": "demo"},
            sites=(
                Site(
                    "demosite01",
                    ("Order Completed", "Signed Up"),
                    {424242: "Order Completed", 424243: "Signed Up"},
                ),
            ),
            client_id="demo",
            client_secret="demo",
        ),
    )
)


def decode_api_key(setting: str) -> dict[str, str] | None:
    """Decode an `apiKey` setting (base64 of a JSON object) into its entries as strings."""
    text = setting.strip()
    text += "=" * (-len(text) % 4)  # tolerate stripped padding
    value: Any = None
    for decode in (_b64_strict, base64.urlsafe_b64decode):
        try:
            value = orjson.loads(decode(text))
            break
        except (binascii.Error, ValueError):
            continue
    if not isinstance(value, dict):
        return None
    return {str(k): _scalar_text(v) for k, v in value.items()}


def _b64_strict(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _scalar_text(value: Any) -> str:
    # Query strings (getapikey) carry text, so compare every entry as text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def load_config(path: str | Path | None) -> SandboxConfig:
    """Read the YAML file at `path`; with no path, the demo account of DEFAULT_CONFIG."""
    if path is None:
        return DEFAULT_CONFIG
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise SandboxConfigError(f"cannot read sandbox config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SandboxConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_config(data, source=str(path))


def parse_config(data: Any, source: str = "config") -> SandboxConfig:
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise SandboxConfigError(f"{source}: expected a mapping with an `accounts` list")
    accounts = []
    seen: set[str] = set()
    for i, item in enumerate(data["accounts"]):
        where = f"{source}: accounts[{i}]"
        if not isinstance(item, dict):
            raise SandboxConfigError(f"{where}: expected a mapping")
        key = item.get("api_key")
        if not isinstance(key, dict) or not key:
            raise SandboxConfigError(
                f"{where}.api_key: expected a non-empty mapping, e.g. {{id, secret}}"
            )
        if any(isinstance(v, dict | list) or v is None for v in key.values()):
            raise SandboxConfigError(f"{where}.api_key: values must be scalars")
        sites = []
        for j, site in enumerate(item.get("sitecodes") or []):
            sites.append(_parse_site(site, f"{where}.sitecodes[{j}]", seen))
        client = item.get("client")
        if client is not None and (
            not isinstance(client, dict)
            or not all(isinstance(client.get(k), str) and client.get(k) for k in ("id", "secret"))
        ):
            raise SandboxConfigError(f"{where}.client: expected a mapping {{id, secret}} of text")
        accounts.append(
            Account(
                {str(k): _scalar_text(v) for k, v in key.items()},
                tuple(sites),
                client_id=client["id"] if client else None,
                client_secret=client["secret"] if client else None,
            )
        )
    return SandboxConfig(tuple(accounts))


def _parse_site(site: Any, where: str, seen: set[str]) -> Site:
    if isinstance(site, str):
        site = {"sitecode": site}
    if not isinstance(site, dict):
        raise SandboxConfigError(f"{where}: expected a mapping with `sitecode` and `goals`")
    code = site.get("sitecode")
    if not isinstance(code, str) or len(code) != SITECODE_LENGTH:
        raise SandboxConfigError(f"{where}.sitecode: expected a {SITECODE_LENGTH}-character string")
    if code in seen:
        raise SandboxConfigError(f"{where}.sitecode: {code!r} is listed twice")
    seen.add(code)
    goals = site.get("goals") or []
    if not isinstance(goals, list) or not all(isinstance(g, str) and g for g in goals):
        raise SandboxConfigError(f"{where}.goals: expected a list of goal names")
    goal_ids = site.get("goal_ids") or {}
    if not isinstance(goal_ids, dict) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k > 0 and isinstance(v, str) and v
        for k, v in goal_ids.items()
    ):
        raise SandboxConfigError(f"{where}.goal_ids: expected a mapping of goal id to name")
    return Site(code, tuple(dict.fromkeys(goals)), dict(goal_ids))
