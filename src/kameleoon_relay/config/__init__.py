"""Configuration: one YAML or JSON file, `${ENV}` interpolation, errors naming the key path."""

from kameleoon_relay.config.defaults import default_config
from kameleoon_relay.config.errors import ConfigError
from kameleoon_relay.config.loader import load_config, parse_config
from kameleoon_relay.config.model import (
    Config,
    DeliverySettings,
    DestinationConfig,
    SourceConfig,
    SubscriptionConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "DeliverySettings",
    "DestinationConfig",
    "SourceConfig",
    "SubscriptionConfig",
    "default_config",
    "load_config",
    "parse_config",
]
