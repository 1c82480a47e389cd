"""Kameleoon's Data API (`kameleoon-data-api`): many events a request, goals by id,
custom data by index, page views, OAuth client credentials. Beyond Segment: this is
the route Kameleoon's own server SDKs take."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import Destination, HttpRequest, SettingsField
from kameleoon_relay.destinations.kameleoon_data_api.actions import ACTIONS
from kameleoon_relay.destinations.kameleoon_data_api.options import (
    DEFAULT_TOKEN_URL,
    OPTION_KEYS,
    parse_options,
)

DEFAULT_ENDPOINT = "https://data.kameleoon.io"  # or eu-data / na-data.kameleoon.io

SETTINGS = {
    "clientId": SettingsField(
        "Client ID", "OAuth client id of a Kameleoon API client", "string", required=True
    ),
    "clientSecret": SettingsField(
        "Client Secret",
        "OAuth client secret of that API client (never stored nor shown)",
        "password",
        required=True,
        secret=True,
    ),
    "sitecode": SettingsField("Sitecode", "Kameleoon project sitecode", "string", required=True),
}


def token_request(settings: Mapping[str, Any], token_url: str) -> HttpRequest:
    """Client credentials for an access token; the body holds the secret (never shown)."""
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": str(settings.get("clientId", "")),
            "client_secret": str(settings.get("clientSecret", "")),
        }
    )
    headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": USER_AGENT}
    return HttpRequest("POST", token_url, headers, None, form.encode())


def test_authentication_request(
    settings: Mapping[str, Any], endpoint: str, options: Mapping[str, Any] | None = None
) -> HttpRequest:
    """The credentials work when the token URL gives a token for them."""
    return token_request(settings, (options or {}).get("token_url", DEFAULT_TOKEN_URL))


KAMELEOON_DATA_API = Destination(
    name="Kameleoon Data API",
    slug="kameleoon-data-api",
    description="Kameleoon's Data API: batched lines, goals by id, custom data by index",
    settings=SETTINGS,
    actions={action.slug: action for action in ACTIONS},
    presets=(
        ("Conversions", 'type = "track"', "trackConversion"),
        ("Custom Data", 'type = "identify" or type = "track"', "setCustomData"),
        ("Page Views", 'type = "page"', "pageView"),
    ),
    default_endpoint=DEFAULT_ENDPOINT,
    test_authentication=test_authentication_request,
    catalog_names=("Kameleoon Data API",),
    auth_failure_hint="the OAuth token request was refused: check clientId and clientSecret",
    option_keys=OPTION_KEYS,
    parse_options=parse_options,
)
