"""ping(8)'s ``-I``: an interface name or a source address, shared by both command modes
(:mod:`layerping.cli` and :mod:`layerping.multicli`), so neither imports the other for it."""

from __future__ import annotations

import argparse
from ipaddress import IPv4Address

from layerping.errors import UsageError


def interface_and_source(args: argparse.Namespace) -> tuple[str | None, IPv4Address | None]:
    """ping(8)'s -I takes an interface name or a source address; split it, and check it
    against --source."""
    interface: str | None = args.interface
    source: IPv4Address | None = args.source
    if interface is not None:
        try:
            source_from_i = IPv4Address(interface)
        except ValueError:
            return interface, source
        if source is not None and source != source_from_i:
            raise UsageError(f"-I {interface} contradicts --source {source}", "give only one source address")
        return None, source_from_i
    return interface, source
