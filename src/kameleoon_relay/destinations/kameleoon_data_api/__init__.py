"""Kameleoon's Data API: the destination as data, its lines identical to Kameleoon's SDK's."""

from kameleoon_relay.destinations.kameleoon_data_api.destination import (
    DEFAULT_ENDPOINT,
    KAMELEOON_DATA_API,
    token_request,
)

DESTINATION = KAMELEOON_DATA_API

__all__ = ["DEFAULT_ENDPOINT", "DESTINATION", "KAMELEOON_DATA_API", "token_request"]
