"""The file `kameleoon-relay init` writes: the embedded default, as a commented config.

Loading it gives what `serve` runs without a config (see `defaults`), with no
environment variable needed; the comments say where Kameleoon's credentials go.
"""

from __future__ import annotations

from kameleoon_relay.config.defaults import (
    API_KEY_VARIABLE,
    DEFAULT_DESTINATION,
    DEFAULT_SOURCE,
    SANDBOX_API_KEY,
    SANDBOX_SITECODE,
    SITECODE_VARIABLE,
    STATE_DIR_NAME,
)
from kameleoon_relay.destinations import DESTINATION_TYPES

DEFAULT_FILE = "relay.yaml"
OVERLAY_FILE = "relay.overlay.yaml"
_TYPE = "kameleoon-actions"


def starter_config(write_key: str, port: int = 8080, file_name: str = DEFAULT_FILE) -> str:
    """The commented YAML text; `write_key` is the source's (public: SDKs send it)."""
    definition = DESTINATION_TYPES[_TYPE]
    width = max(len(name) for name, _, _ in definition.presets)
    presets = "\n".join(
        f"    #   {name:<{width}}  {trigger:<20} -> {action}"
        for name, trigger, action in definition.presets
    )
    return f"""\
# kameleoon-relay configuration, written by `kameleoon-relay init`.
#
# This is the embedded default that `kameleoon-relay serve` runs without a config:
# one source, the Kameleoon (Actions) presets, delivered to the local sandbox.
#   check it:  kameleoon-relay check-config {file_name}
#   serve it:  kameleoon-relay serve -c {file_name} --sandbox
# Relative paths in this file are relative to this file's folder.
# `${{NAME}}` is read from the environment (`${{NAME:-default}}` with a default).

sources:
  - name: {DEFAULT_SOURCE}
    # What the Segment SDKs send as the Basic-auth user name. Public, but to keep it
    # out of this file: write_key: ${{WEB_WRITE_KEY}}
    write_key: {write_key}

destinations:
  - name: {DEFAULT_DESTINATION}
    type: {_TYPE}           # or kameleoon-classic (Page, Screen and Track)
    # The sandbox `serve --sandbox` mounts on port {port}. To deliver to Kameleoon itself,
    # delete this line: the default is {definition.default_endpoint}
    endpoint: http://127.0.0.1:{port}/sandbox/segmentio
    settings:
      # Kameleoon's credentials go here. These are the sandbox's public demo values;
      # for Kameleoon, set the variables and write:
      #   apiKey: ${{{API_KEY_VARIABLE}}}       (base64 of a JSON object, from Kameleoon)
      #   sitecode: ${{{SITECODE_VARIABLE}}}    (your project's 10-character sitecode)
      apiKey: {SANDBOX_API_KEY}
      sitecode: {SANDBOX_SITECODE}
    # subscriptions: omitted, so the presets (trigger -> action, default mappings):
{presets}
    # List your own as in Segment's Public API (name, trigger, action, mapping, enabled),
    # or edit them on the dashboard's Mappings page, which saves them to `overlay:`.

# The queue. postgresql://user:${{PGPASSWORD}}@host:5432/db lets several relays share it.
database: sqlite:///{STATE_DIR_NAME}/relay.db
# Subscriptions edited on the dashboard are saved here (delete the file to undo them).
overlay: {OVERLAY_FILE}
# admin_token: ${{KAMELEOON_RELAY_ADMIN_TOKEN}}   # the admin API and dashboard beyond loopback
"""
