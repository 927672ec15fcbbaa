"""Many targets, streamed: addresses, host names, CIDR blocks, ranges, files, excludes.

A target specification is one of

* an IPv4 address, ``198.18.0.1``;
* a CIDR block, ``198.18.0.0/16`` (host bits may be set: ``198.18.0.7/24`` is the /24);
* a range, ``198.18.0.1-198.18.3.255``, or with only the last octet after the dash,
  ``198.18.0.1-20`` (fping's ``-g`` forms);
* a host name, resolved with ``getaddrinfo`` (AF_INET, first address) when it is reached.

:func:`expand` turns specifications into ``(address, name)`` pairs one at a time, so sweeping
a /8 never holds 16 million addresses: memory stays flat whatever the size of a block.
``address`` is the IPv4 address as an ``int`` (what the engine keeps per target); ``name`` is
what the user typed for a host name, else None.

Network and broadcast addresses (the first and last of a block of /30 or larger) are skipped
unless ``broadcast=True`` (``-b``); /31 and /32 blocks have none (RFC 3021). Ranges are taken
as written. Excludes (``--exclude``, ``--exclude-file``) take the same forms except host names
and remove addresses wherever they come from.

>>> [a for a, _ in expand([parse_spec("198.18.0.0/30")])] == [0xC6120001, 0xC6120002]
True
>>> [format_address(a) for a, _ in expand([parse_spec("198.18.0.0/29")], Excluder.parse(["198.18.0.2-3"]))]
['198.18.0.1', '198.18.0.4', '198.18.0.5', '198.18.0.6']
"""

from __future__ import annotations

import bisect
import socket
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Final, TextIO

from layerping._value import Value
from layerping.errors import UsageError
from layerping.privilege import open_user_file

MAX_ADDRESS: Final = 0xFFFF_FFFF
MAX_FILE_LINE: Final = 4096  # characters, newline included: a longer "line" is not a target list
_COMPACT_AT: Final = 1 << 16  # excludes added before they are merged into what is held

Target = tuple[int, str | None]
"""One target: the IPv4 address as an int, and the host name the user gave (None if numeric)."""

Resolver = Callable[[str], int]
"""Resolves a host name to an IPv4 address (int); raises :class:`UsageError` when it cannot."""


class TargetSpec(Value):
    """One specification as written: ``first``..``last`` inclusive, or a ``name`` to resolve."""

    text: str
    first: int = 0
    last: int = 0
    name: str | None = None  # a host name, resolved by expand()
    is_block: bool = False  # a CIDR block: network/broadcast addresses are skipped

    @property
    def size(self) -> int:
        """How many addresses the spec covers before skips and excludes (1 for a name)."""
        return 1 if self.name is not None else self.last - self.first + 1


def parse_address(text: str) -> int | None:
    """A dotted quad as an int, or None if ``text`` is not one (strictly four decimal octets)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or not part.isascii() or len(part) > 3:
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def format_address(address: int) -> str:
    """The dotted quad of an int address."""
    return socket.inet_ntoa(address.to_bytes(4, "big"))


def _bad(text: str, why: str) -> UsageError:
    return UsageError(
        f"bad target {text!r}: {why}",
        "give an address, a name, a block like 198.18.0.0/24 or a range like 198.18.0.1-198.18.0.20",
    )


def parse_spec(text: str, *, allow_names: bool = True) -> TargetSpec:
    """Parse one target specification (see the module docstring); raise :class:`UsageError`."""
    text = text.strip()
    if not text:
        raise _bad(text, "empty")
    if "/" in text:
        base_text, _, prefix_text = text.partition("/")
        base = parse_address(base_text)
        if base is None:
            raise _bad(text, "the part before / is not an IPv4 address")
        if not prefix_text.isdigit() or not prefix_text.isascii() or int(prefix_text) > 32:
            raise _bad(text, "the prefix length must be 0 to 32")
        prefix = int(prefix_text)
        host_bits = 32 - prefix
        first = base >> host_bits << host_bits
        return TargetSpec(text, first, first | ((1 << host_bits) - 1), is_block=True)
    if "-" in text:
        left, _, right = text.partition("-")
        start = parse_address(left)
        if start is not None:
            end = parse_address(right)
            if end is None and right.isdigit() and right.isascii() and int(right) <= 255:
                end = start >> 8 << 8 | int(right)  # 198.18.0.1-20: the last octet only
            if end is None:
                raise _bad(text, "the end of the range is not an IPv4 address (or last octet)")
            if end < start:
                raise _bad(text, "the range ends before it starts")
            return TargetSpec(text, start, end)
    address = parse_address(text)
    if address is not None:
        return TargetSpec(text, address, address)
    if all(c.isdigit() or c == "." for c in text):
        raise _bad(text, "not an IPv4 address (four numbers 0-255 separated by dots)")
    if not allow_names:
        raise _bad(text, "not an address, block or range")
    if not is_host_name(text):
        raise _bad(text, "not a host name")
    return TargetSpec(text, name=text)


def is_host_name(text: str) -> bool:
    """Labels of letters, digits, ``-`` and ``_``, 1-63 characters each, 253 in all (RFC 1123)."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    for label in name.split("."):
        if not 0 < len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(c.isalnum() or c in "-_" for c in label):
            return False
    return True


def resolve_name(name: str) -> int:
    """The first IPv4 address ``getaddrinfo`` gives for ``name``."""
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_RAW)
    except socket.gaierror as exc:
        raise UsageError(f"{name}: {exc.strerror}", "check the name, or give an IPv4 address") from None
    except UnicodeError:
        raise UsageError(f"{name}: not a valid host name", "check the name, or an IPv4 address") from None
    address = parse_address(str(infos[0][4][0]))
    assert address is not None
    return address


def read_lines(stream: TextIO, source: str) -> Iterator[str]:
    """Specifications from a file, one per line, lazily; ``#`` starts a comment.

    Each line is read with a bound (``readline(limit)``), so a file without line ends
    (``/dev/zero``, a binary file) is refused after :data:`MAX_FILE_LINE` characters instead of
    being held whole. The error names the line by number only: its text is not shown.
    """
    readline = stream.readline
    limit = MAX_FILE_LINE + 1
    number = 0
    while True:
        line = readline(limit)
        if not line:
            return
        number += 1
        if len(line) > MAX_FILE_LINE:
            raise UsageError(
                f"{source}:{number}: line longer than {MAX_FILE_LINE} characters",
                "give one target per line in a text file",
            )
        text = line.split("#", 1)[0].strip()
        if text:
            yield from text.split()


def open_list_file(path: str) -> TextIO:
    """Open a targets or excludes file (the one place they are opened), for :func:`read_lines`."""
    try:
        return open_user_file(path, "r")  # the invoking user's rights (layerping/privilege.py)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "check the file name") from None


def file_lines(path: str, stdin: TextIO | None = None) -> Iterator[str]:
    """The specifications in file ``path`` (``-``: standard input), read as they are needed.

    The file is opened at once, not at the first line wanted: with the invoking user's rights
    while the command may still hold privileges (layerping/privilege.py drops them once the
    sockets are open, and a root that dropped them could no longer read every file root reads).
    """
    if path == "-":
        return read_lines(stdin if stdin is not None else sys.stdin, "stdin")
    return _lines_then_close(open_list_file(path), path)


def _lines_then_close(stream: TextIO, path: str) -> Iterator[str]:
    with stream:
        try:
            yield from read_lines(stream, path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}", "check the file name") from None


def _pack(first: int, last: int) -> int:
    return first << 32 | last


def _merge(packed: Iterable[int]) -> array[int]:
    """Sorted, merged intervals from packed ``first << 32 | last`` values (adjacent ones join)."""
    merged: array[int] = array("Q")
    append = merged.append
    first = last = -2
    for value in sorted(packed):
        start, end = value >> 32, value & MAX_ADDRESS
        if start <= last + 1:
            if end > last:
                last = end
            continue
        if last >= 0:
            append(first << 32 | last)
        first, last = start, end
    if last >= 0:
        append(first << 32 | last)
    return merged


class Excluder:
    """Addresses to skip: merged, sorted, inclusive intervals (searched with bisect).

    Held as two arrays of 32-bit starts and ends, 8 bytes an interval, and merged while they are
    added (:meth:`parse` compacts whenever what was added since doubles what is held), so a
    million exclude lines take a few MB, and less when they touch or overlap.
    """

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        self._set(_merge(_pack(first, last) for first, last in intervals))

    def _set(self, merged: array[int]) -> None:
        self._starts: array[int] = array("I", (value >> 32 for value in merged))
        self._ends: array[int] = array("I", (value & MAX_ADDRESS for value in merged))

    @property
    def intervals(self) -> list[tuple[int, int]]:
        """The merged intervals, in order (a copy)."""
        return list(zip(self._starts, self._ends, strict=True))

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Excluder:
        """From specifications (comma-separated lists allowed); host names are refused."""
        held: array[int] = array("Q")
        pending: array[int] = array("Q")
        for text in texts:
            for item in text.split(","):
                item = item.strip()
                if not item:
                    continue
                address = parse_address(item)
                if address is not None:
                    pending.append(address << 32 | address)
                else:
                    spec = parse_spec(item, allow_names=False)
                    pending.append(spec.first << 32 | spec.last)
                if len(pending) >= _COMPACT_AT and len(pending) >= len(held):
                    held.extend(pending)
                    held = _merge(held)
                    pending = array("Q")
        held.extend(pending)
        excluder = cls()
        excluder._set(_merge(held))
        return excluder

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __contains__(self, address: int) -> bool:
        i = bisect.bisect_right(self._starts, address) - 1
        return i >= 0 and address <= self._ends[i]

    def remaining(self, first: int, last: int) -> Iterator[tuple[int, int]]:
        """The sub-intervals of ``first..last`` that are not excluded, in order."""
        starts, ends = self._starts, self._ends
        i = max(bisect.bisect_right(starts, first) - 1, 0)
        start = first
        count = len(starts)
        while start <= last and i < count:
            ex_first, ex_last = starts[i], ends[i]
            if ex_last < start:
                i += 1
                continue
            if ex_first > last:
                break
            if ex_first > start:
                yield start, ex_first - 1
            start = ex_last + 1
            i += 1
        if start <= last:
            yield start, last


def load_excluder(
    texts: Iterable[str], exclude_file: str | None = None, stdin: TextIO | None = None
) -> Excluder:
    """``--exclude`` texts, then the lines of ``--exclude-file`` (streamed), as one :class:`Excluder`."""
    if exclude_file is None:
        return Excluder.parse(texts)
    return Excluder.parse(chain(texts, file_lines(exclude_file, stdin)))


def expand(
    specs: Iterable[TargetSpec],
    exclude: Excluder | None = None,
    *,
    broadcast: bool = False,
    resolve: Resolver = resolve_name,
    on_error: Callable[[str, UsageError], None] | None = None,
) -> Iterator[Target]:
    """Every target address of ``specs``, in order, one at a time (a generator).

    A host name is resolved when it is reached; a name that does not resolve goes to
    ``on_error(name, error)`` and is skipped (without ``on_error`` the error is raised).
    """
    exclude = exclude if exclude else None
    for spec in specs:
        if spec.name is not None:
            try:
                address = resolve(spec.name)
            except UsageError as exc:
                if on_error is None:
                    raise
                on_error(spec.name, exc)
                continue
            if exclude is None or address not in exclude:
                yield address, spec.name
            continue
        first, last = spec.first, spec.last
        if spec.is_block and not broadcast and last - first >= 3:
            first += 1  # network address
            last -= 1  # broadcast address
        if exclude is None:
            for address in range(first, last + 1):
                yield address, None
        else:
            for lo, hi in exclude.remaining(first, last):
                for address in range(lo, hi + 1):
                    yield address, None


def specs_from(
    destinations: Iterable[str], targets_file: str | None = None, stdin: TextIO | None = None
) -> Iterator[TargetSpec]:
    """Specifications from the command line, then from ``--targets-file`` (streamed; the file
    is opened now, see :func:`file_lines`)."""
    lines = file_lines(targets_file, stdin) if targets_file is not None else iter(())
    return _specs(destinations, lines)


def _specs(destinations: Iterable[str], lines: Iterator[str]) -> Iterator[TargetSpec]:
    for text in destinations:
        yield parse_spec(text)
    for text in lines:
        yield parse_spec(text)


def name_width(specs: Iterable[TargetSpec]) -> int:
    """How wide fping would pad target names: the longest name or address of ``specs``.

    For blocks and ranges it is the longer of the first and last address; targets read from a
    file are not known in advance and are not counted (their lines are then not padded).
    """
    width = 0
    for spec in specs:
        if spec.name is not None:
            width = max(width, len(spec.name))
        else:
            width = max(width, len(format_address(spec.first)), len(format_address(spec.last)))
    return width
