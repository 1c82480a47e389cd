"""A local Kameleoon-compatible endpoint for trying the relay, testing and benchmarking.

`create_app()` returns the Starlette app (mount it at `/sandbox`, or run
`kameleoon-relay sandbox`); `FaultSettings` describes injected faults.
"""

from kameleoon_relay.sandbox.app import create_app
from kameleoon_relay.sandbox.config import (
    DEFAULT_CONFIG,
    Account,
    SandboxConfig,
    SandboxConfigError,
    Site,
    load_config,
)
from kameleoon_relay.sandbox.faults import Fault, FaultSettings, FaultSettingsError
from kameleoon_relay.sandbox.state import Sandbox

__all__ = [
    "DEFAULT_CONFIG",
    "Account",
    "Fault",
    "FaultSettings",
    "FaultSettingsError",
    "Sandbox",
    "SandboxConfig",
    "SandboxConfigError",
    "Site",
    "create_app",
    "load_config",
]
