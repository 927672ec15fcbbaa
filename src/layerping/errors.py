"""The exception tree of layerping.

Every error a user can cause derives from :class:`LayerpingError` and carries a
``hint``: the one line the CLI prints on stderr before exiting with status 2.
Timeouts, loss and ICMP errors from the network are *events*, never exceptions.
"""

from __future__ import annotations


class LayerpingError(Exception):
    """Root of every error layerping raises on purpose."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}: {self.hint}"
        return self.message


# --- wire formats -------------------------------------------------------------------------------


class WireError(LayerpingError, ValueError):
    """Malformed bytes. ``layer`` names the protocol, ``offset`` where parsing stopped."""

    def __init__(self, message: str, layer: str, offset: int = 0, hint: str = "") -> None:
        super().__init__(message, hint)
        self.layer = layer
        self.offset = offset


class Truncated(WireError):
    """Fewer bytes than the format needs."""

    def __init__(self, layer: str, need: int, got: int, offset: int = 0) -> None:
        super().__init__(f"{layer}: truncated, need {need} bytes, got {got}", layer, offset)
        self.need = need
        self.got = got


class Malformed(WireError):
    """A field holds a value the format does not allow."""

    def __init__(self, layer: str, field: str, value: object, reason: str, offset: int = 0) -> None:
        super().__init__(f"{layer}: bad {field} {value!r}: {reason}", layer, offset)
        self.field = field
        self.value = value
        self.reason = reason


class ChecksumError(WireError):
    """A received checksum differs from the one the bytes should carry."""

    def __init__(self, layer: str, expected: int, actual: int, offset: int = 0) -> None:
        super().__init__(
            f"{layer}: wrong checksum {actual:04x} (->{expected:04x})", layer, offset
        )
        self.expected = expected
        self.actual = actual


# --- discovery ----------------------------------------------------------------------------------


class DiscoveryError(LayerpingError):
    """The path to a destination could not be worked out."""


class NoRoute(DiscoveryError):
    """The kernel has no route to the destination."""


class NoSuchInterface(DiscoveryError):
    """A named interface does not exist (or is down)."""


class NeighbourUnresolved(DiscoveryError):
    """The next hop's hardware address could not be learnt."""


# --- transports ---------------------------------------------------------------------------------


class TransportError(LayerpingError):
    """A socket could not be opened or used."""


class PermissionDenied(TransportError):
    """The kernel refused the socket this layer needs."""

    def __init__(self, layer: str, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.layer = layer


# --- usage --------------------------------------------------------------------------------------


class UsageError(LayerpingError):
    """A bad option or argument on the command line or in an API call."""


# --- permission hints ---------------------------------------------------------------------------
# What works, and nothing more: root, sudo, or (layer icmp only) the ICMP datagram socket that
# net.ipv4.ping_group_range opens to chosen groups (icmp(7)). Never a file capability on the
# python3 interpreter: that would hand raw sockets to every Python program on the machine.

ICMP_PERMISSION_HINT = (
    "run as root or through sudo, or let your group use ICMP datagram sockets: "
    "sysctl -w net.ipv4.ping_group_range='GID GID' (GID from `id -g`)"
)
PACKET_PERMISSION_HINT = (
    "packet sockets need root: run as root or through sudo, or use --layer icmp "
    "(which net.ipv4.ping_group_range can allow without root)"
)


def os_error_hint(code: int | None) -> str:
    """A hint that is true for an OSError the kernel gave while opening or using a socket."""
    import errno

    if code in (errno.EMFILE, errno.ENFILE):
        return "raise the limit with `ulimit -n`, or close some"
    if code in (errno.ENODEV, errno.ENXIO):
        return "the interface went away (see `ip link`)"
    if code in (errno.EACCES, errno.EPERM):
        return "a security policy refuses it (seccomp, SELinux, AppArmor, a container's rules)"
    if code in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
        return "this kernel lacks it"
    if code in (errno.ENOBUFS, errno.ENOMEM):
        return "the kernel is out of memory for it: try again"
    return ""


def refuse_broadcast(address: object, allowed: bool) -> None:
    """ping(8) sends to a broadcast address only when asked with -b. Here, below the API and the
    transports, so both the address checks and the link opener refuse with the same words."""
    if not allowed:
        raise UsageError(
            f"{address} is a broadcast address",
            "add -b if you do want to ping a broadcast address (else check the address)",
        )
