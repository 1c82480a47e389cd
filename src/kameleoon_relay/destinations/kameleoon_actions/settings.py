"""Settings shared by both Kameleoon destinations."""

from __future__ import annotations

from kameleoon_relay.actions import SettingsField

KAMELEOON_SETTINGS = {
    "apiKey": SettingsField(
        "API Key",
        "Kameleoon API key. You can generate one using the link in the help doc "
        "(https://help.kameleoon.com/setting-up-segment/).",
        "password",
        required=True,
        secret=True,
    ),
    "sitecode": SettingsField(
        "Sitecode",
        "Kameleoon project sitecode. You can find this project dashboard "
        "(https://help.kameleoon.com/question/how-do-i-find-my-site-id/).",
        "string",
        required=True,
    ),
}
