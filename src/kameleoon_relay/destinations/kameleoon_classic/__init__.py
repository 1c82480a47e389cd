"""The classic Kameleoon destination: Page, Screen and Track, sent as Kameleoon (Actions) sends."""

from kameleoon_relay.destinations.kameleoon_classic.destination import KAMELEOON_CLASSIC

DESTINATION = KAMELEOON_CLASSIC

__all__ = ["DESTINATION", "KAMELEOON_CLASSIC"]
