"""Live venue feeds into a running service: ``pmargin feed deribit|okx --to URL --key KEY``.

A feed subscribes to a venue's public WebSocket channels (index, futures marks, option mark
vols) for what the service holds, turns the messages into the service's ticks and posts them
to ``POST /v1/market/ticks`` in batches, reconnecting with back-off and reporting gaps and
stale underlyings (docs/feeds.md). One module per venue reads its frames
(:class:`DeribitProtocol`, :class:`OkxProtocol`); :mod:`pmargin.feeds._state` keeps order,
batches and staleness; :mod:`pmargin.feeds._loop` runs the connection. An adapter: it calls
the facade only to parse symbols (:func:`pmargin.engine.instruments_for`) and holds no maths.
"""

from pmargin.feeds._deribit import DERIBIT_URL, DeribitProtocol
from pmargin.feeds._loop import FEED_VENUES, FeedConfig, backoff_delay, run_feed, venue_protocol
from pmargin.feeds._okx import OKX_URL, OkxProtocol
from pmargin.feeds._service import PostResult, ServiceClient
from pmargin.feeds._state import MAX_TICKS_PER_REQUEST, FeedState, FeedStats
from pmargin.feeds._types import Message, VenueTick
from pmargin.feeds._universe import Followed, Universe, universe_for
from pmargin.feeds._venue import VenueProtocol

__all__ = [
    "DERIBIT_URL",
    "FEED_VENUES",
    "MAX_TICKS_PER_REQUEST",
    "OKX_URL",
    "DeribitProtocol",
    "FeedConfig",
    "FeedState",
    "FeedStats",
    "Followed",
    "Message",
    "OkxProtocol",
    "PostResult",
    "ServiceClient",
    "Universe",
    "VenueProtocol",
    "VenueTick",
    "backoff_delay",
    "run_feed",
    "universe_for",
    "venue_protocol",
]
