"""layerping: a ping that builds every protocol layer itself and sends at the layer you pick.

Library entry points (imported lazily, so ``layerping -c 1`` starts fast)::

    import layerping
    result = layerping.ping("127.0.0.1", count=3, interval=0.2)
    print(result.stats.received, [r.rtt_ms for r in result.replies])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from layerping.api import PingConfig
    from layerping.many import async_multiping, async_ping, iter_events, multiping
    from layerping.results import PingResult, ping
    from layerping.transport.base import Layer

__all__ = [
    "Layer",
    "PingConfig",
    "PingResult",
    "__version__",
    "async_multiping",
    "async_ping",
    "iter_events",
    "multiping",
    "ping",
]


def __getattr__(name: str) -> Any:
    if name == "PingConfig":
        from layerping.api import PingConfig

        return PingConfig
    if name in ("ping", "PingResult"):
        from layerping import results

        return getattr(results, name)
    if name in ("multiping", "async_ping", "async_multiping", "iter_events"):
        from layerping import many

        return getattr(many, name)
    if name == "Layer":
        from layerping.transport.base import Layer

        return Layer
    raise AttributeError(f"module 'layerping' has no attribute {name!r}")
