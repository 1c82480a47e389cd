"""Per-user order for one destination's claims, with the hot-user escape.

The store holds a user's later delivery back while an earlier one is pending, retrying
or in flight (see Store.claim). A user with more than `hot_user_backlog` deliveries
waiting would then trickle out one request at a time and never catch up, so such hot
users are looked up (Store.hot_users, a scan of the open deliveries' index) when the
worker starts and every HOT_USERS_REFRESH seconds after, and their events are claimed
without waiting until they are back under the backlog (RudderStack's router does the
same above 200).
"""

from __future__ import annotations

import logging
import time

from kameleoon_relay.config.model import DeliverySettings
from kameleoon_relay.store.base import Store
from kameleoon_relay.store.models import UserOrder

log = logging.getLogger("kameleoon_relay.delivery")

HOT_USERS_REFRESH = 0.5  # seconds between looks for hot users, at least
# A look may take longer on a very large queue: then look at most this share of the time.
HOT_USERS_MAX_SHARE = 0.05


class UserOrdering:
    """What order a worker claims `destination`'s deliveries in: `await order()` before
    each claim (None: `ordering: none`)."""

    def __init__(self, store: Store, destination: str, settings: DeliverySettings) -> None:
        self.store = store
        self.destination = destination
        self.enabled = settings.per_user_order
        self.backlog = settings.hot_user_backlog
        self._order = UserOrder()
        self._next_look = 0.0  # monotonic time of the next look for hot users

    async def order(self) -> UserOrder | None:
        if not self.enabled:
            return None
        started = time.monotonic()
        if started >= self._next_look:
            try:
                hot = await self.store.hot_users(self.destination, self.backlog)
            except Exception:
                log.exception("looking for hot users of %s failed", self.destination)
                hot = list(self._order.hot)  # keep the last answer
            took = time.monotonic() - started
            if set(hot) != self._order.hot:
                # A count, never the users: their ids are customer data.
                log.info("%s: %d hot user(s) sent without per-user order", self.destination,
                         len(hot))  # fmt: skip
            self._order = UserOrder(frozenset(hot))
            self._next_look = started + max(HOT_USERS_REFRESH, took / HOT_USERS_MAX_SHARE)
        return self._order
