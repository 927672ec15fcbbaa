"""``layerping``: the command line, following iputils ping(8).

A thin layer over :mod:`layerping.api`: options become a :class:`PingConfig`; every
:class:`LayerpingError` becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from layerping import privilege
from layerping._value import replace
from layerping.errors import LayerpingError, UsageError
from layerping.source_arg import interface_and_source
from layerping.transport.base import Layer

if TYPE_CHECKING:
    from layerping.api import Prepared
    from layerping.engine.session import Event
    from layerping.transport.tee import TeeTransport

VERSION = "0.1.0"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, "see `layerping -h`")


def _number(kind: type[int] | type[float], name: str, low: float, high: float, hint: str):  # type: ignore[no-untyped-def]
    def convert(text: str) -> int | float:
        try:
            value = int(text, 0) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {name} {text!r}: {hint}") from None
        if value != value or not low <= value <= high:  # NaN or out of range
            raise argparse.ArgumentTypeError(f"invalid {name} {text!r}: out of range, {hint}")
        return value

    return convert


def _pattern(text: str) -> bytes:
    """-p: up to 16 pad bytes given as hex digits (ping(8))."""
    digits = text.strip()
    if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise argparse.ArgumentTypeError(
            f"invalid pattern {text!r}: patterns must be specified as hex digits, e.g. -p ff00"
        )
    if len(digits) % 2:
        digits = "0" + digits
    return bytes.fromhex(digits)[:16]


def _exclude_list(text: str) -> str:
    """--exclude: a comma-separated list with at least one entry (``''`` must not mean "none")."""
    if not any(item.strip() for item in text.split(",")):
        raise argparse.ArgumentTypeError(f"invalid exclude list {text!r}: give addresses, blocks or ranges")
    return text


def _mac(text: str) -> bytes:
    from layerping.wire.ethernet import parse_mac

    try:
        return parse_mac(text)
    except LayerpingError:
        raise argparse.ArgumentTypeError(
            f"invalid MAC address {text!r}: write it as 52:54:00:12:34:56"
        ) from None


def _ipv4(text: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid IPv4 address {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="layerping",
        description="Ping that builds every protocol layer itself and sends at the layer you pick.",
        epilog="Exit status: 0 when replies came, 1 when none came (or fewer than -c by the -w "
        "deadline), 2 on any other error.",
    )
    p.add_argument(
        "destinations",
        nargs="*",
        metavar="destination",
        help="host name or IPv4 address; several, CIDR blocks (198.18.0.0/24) and ranges "
        "(198.18.0.1-198.18.0.9) ping many targets at once, fping style",
    )
    p.add_argument(
        "--layer",
        choices=[layer.value for layer in Layer],
        default="icmp",
        help="icmp: kernel writes IPv4; ip: we write IPv4 (AF_PACKET/SOCK_DGRAM); "
        "ethernet: we write the whole frame (AF_PACKET/SOCK_RAW)",
    )
    p.add_argument(
        "-c",
        dest="count",
        metavar="count",
        type=_number(int, "count", 1, 2**63 - 1, "give a whole number of 1 or more"),
        help="stop after sending count probes (with -w: after count replies)",
    )
    p.add_argument(
        "-i",
        dest="interval",
        metavar="interval",
        type=_number(float, "interval", 0, 2**31, "give seconds, e.g. 0.2"),
        help="seconds between probes (default 1)",
    )
    p.add_argument(
        "-W",
        dest="timeout",
        metavar="timeout",
        type=_number(float, "timeout", 0, 2**31, "give seconds, e.g. 1"),
        help="seconds to wait for each reply",
    )
    p.add_argument(
        "-w",
        dest="deadline",
        metavar="deadline",
        type=_number(float, "deadline", 0, 2**31, "give seconds, e.g. 5"),
        help="stop after this many seconds, whatever happened",
    )
    p.add_argument(
        "-s",
        dest="size",
        metavar="packetsize",
        default=56,
        type=_number(int, "packet size", 0, 65507, "give a size from 0 to 65507"),
        help="ICMP payload bytes (default 56)",
    )
    p.add_argument(
        "-t",
        dest="ttl",
        metavar="ttl",
        default=64,
        type=_number(int, "ttl", 0, 255, "give a value from 0 to 255"),
        help="IP time to live",
    )
    p.add_argument(
        "-Q",
        dest="tos",
        metavar="tos",
        default=0,
        type=_number(int, "TOS", 0, 255, "give 0-255 or 0x00-0xff"),
        help="IP type of service / DSCP+ECN",
    )
    p.add_argument(
        "-M",
        dest="pmtu",
        choices=["do", "dont", "want", "probe"],
        help="path MTU discovery: do (set DF), dont, want",
    )
    p.add_argument(
        "-p",
        dest="pattern",
        metavar="pattern",
        type=_pattern,
        default=b"",
        help="up to 16 pad bytes in hex, e.g. ff00",
    )
    p.add_argument("-I", dest="interface", metavar="interface", help="interface name or source address")
    p.add_argument(
        "-l",
        dest="preload",
        metavar="preload",
        default=1,
        type=_number(int, "preload", 1, 65536, "give a value from 1 to 65536"),
        help="send this many probes at once before normal pacing",
    )
    p.add_argument("-q", dest="quiet", action="store_true", help="quiet: only the summary")
    p.add_argument("-n", dest="numeric", action="store_true", help="numeric output only (no reverse DNS)")
    p.add_argument(
        "-D", dest="timestamps", action="store_true", help="print a UNIX timestamp before each line"
    )
    p.add_argument("-O", dest="outstanding", action="store_true", help="report outstanding replies")
    p.add_argument("-a", dest="audible", action="store_true", help="audible ping")
    p.add_argument("-f", dest="flood", action="store_true", help="flood ping (root only)")
    p.add_argument("-b", dest="broadcast", action="store_true", help="allow pinging a broadcast address")
    p.add_argument("-4", dest="ipv4", action="store_true", help="IPv4 only (the only family so far)")
    p.add_argument("-V", dest="version", action="store_true", help="print the version and exit")
    p.add_argument(
        "--unprivileged",
        action="store_true",
        help="use the ICMP datagram socket even when raw sockets are allowed (--layer icmp)",
    )
    p.add_argument("--source", type=_ipv4, help="source address (overrides detection)")
    p.add_argument("--src-mac", type=_mac, help="our MAC address (--layer ethernet)")
    p.add_argument("--next-hop-mac", type=_mac, help="the next hop's MAC address (skips ARP)")
    p.add_argument("--gateway", type=_ipv4, help="send via this on-link gateway instead of the route's")
    views = p.add_argument_group("seeing the packets")
    views.add_argument(
        "-v",
        dest="verbose",
        action="store_true",
        help="decode every probe and reply layer by layer, tcpdump -v -e style",
    )
    views.add_argument(
        "-X", "--hex", dest="hex", action="store_true", help="hex and ASCII dump of each packet"
    )
    views.add_argument("--pcap", metavar="FILE", help="write every frame sent and received to a pcap file")
    views.add_argument(
        "--json", action="store_true", help="one JSON object per line per event, then a summary"
    )
    views.add_argument("--decode", metavar="HEX", help="decode an Ethernet frame or IPv4 packet given in hex")
    views.add_argument("--decode-pcap", metavar="FILE", help="decode every frame of a pcap file")
    many = p.add_argument_group("many targets (fping style)")
    many.add_argument("--targets-file", metavar="FILE", help="targets, one per line ('-' for stdin)")
    many.add_argument("--alive", action="store_true", help="print only the targets that answered")
    many.add_argument("--unreachable", action="store_true", help="print only the targets that did not answer")
    many.add_argument(
        "--rate",
        metavar="PPS",
        type=_number(float, "rate", 1, 1e9, "give probes per second"),
        help="upper bound on the total probe rate (default 1000/s)",
    )
    many.add_argument(
        "-r",
        dest="retries",
        metavar="retries",
        type=_number(int, "retries", 0, 1000, "give a whole number"),
        help="re-probe silent targets this many times",
    )
    many.add_argument("--exclude", metavar="CIDR,...", type=_exclude_list, help="addresses or blocks to skip")
    many.add_argument("--exclude-file", metavar="FILE", help="addresses or blocks to skip, one per line")
    return p


def wants_many_targets(args: argparse.Namespace) -> bool:
    """More than one destination, a block, a range, a file or an fping option: fping-style output."""
    if args.targets_file or args.alive or args.unreachable or len(args.destinations) > 1:
        return True
    # fping's own options make an fping-style run even for one target (never parsed and ignored).
    if args.rate is not None or args.retries is not None or args.exclude or args.exclude_file:
        return True
    return any(
        "/" in d or ("-" in d and d.replace("-", "").replace(".", "").isdigit()) for d in args.destinations
    )


def config_from_args(args: argparse.Namespace) -> tuple[object, dict[str, object]]:
    from layerping.api import PingConfig, is_privileged

    if not args.destinations:
        raise UsageError("no destination given", "usage: layerping [options] destination")
    interface, source = interface_and_source(args)
    interval = args.interval
    if interval is None:
        interval = 0.0 if args.flood and is_privileged() else (0.01 if args.flood else 1.0)
    config = PingConfig(
        destination=args.destinations[0],
        layer=Layer(args.layer),
        count=args.count,
        interval_s=interval,
        timeout_s=args.timeout,
        deadline_s=args.deadline,
        payload_size=args.size,
        ttl=args.ttl,
        tos=args.tos,
        pmtu=args.pmtu,
        pattern=args.pattern,
        preload=args.preload,
        flood=args.flood,
        broadcast=args.broadcast,
        interface=interface,
        source=source,
        unprivileged=args.unprivileged,
        src_mac=args.src_mac,
        next_hop_mac=args.next_hop_mac,
        gateway=args.gateway,
    )
    display = {
        "quiet": args.quiet,
        "flood": args.flood,
        "numeric": args.numeric,
        "timestamps": args.timestamps,
        "outstanding": args.outstanding,
        "audible": args.audible,
    }
    return config, display


def run(argv: Sequence[str]) -> int:
    import time

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"layerping {VERSION}")
        return 0

    if args.decode is not None or args.decode_pcap is not None:
        from layerping.output.decode_cli import run_decode

        return run_decode(args)
    if wants_many_targets(args):
        from layerping.multicli import run_many

        return run_many(args)

    from layerping.api import PingConfig, prepare, run_prepared
    from layerping.output.text import TextOptions, TextOutput
    config, display = config_from_args(args)
    assert isinstance(config, PingConfig)
    if args.json and (args.verbose or args.hex):
        raise UsageError("--json cannot be combined with -v or -X", "use --pcap FILE to keep the packets")
    if args.json:
        config = replace(config, keep_samples=True)  # for the RTT percentiles
    prepared = prepare(config, time.monotonic_ns())
    try:
        tee = _see_frames(args, prepared)
        privilege.drop()  # every socket of the run is open (layerping/privilege.py)
        if args.json:
            return _run_json(prepared)
        options = TextOptions(
            quiet=bool(display["quiet"]),
            flood=bool(display["flood"]) and not (args.verbose or args.hex),  # whole lines, no dots
            numeric=bool(display["numeric"]) or prepared.target.is_numeric,
            timestamps=bool(display["timestamps"]),
            report_outstanding=bool(display["outstanding"]),
            audible=bool(display["audible"]),
        )
        output = TextOutput(prepared.session, prepared.target.name, options)
        shown_source = (
            str(prepared.source) if (config.interface or config.source) and prepared.source else None
        )
        output.header(prepared.target.address, config.payload_size, shown_source, config.interface)
        sink: Callable[[Event], None] = output.on_event  # bound method: one call less per packet
        if tee is not None and (args.verbose or args.hex):
            from layerping.output.verbose import VerboseOutput

            sink = VerboseOutput(tee, output, decode=args.verbose, hexdump=args.hex)
        prepared.session.start_ns = time.monotonic_ns()
        run_prepared(prepared, sink, handle_signals=True, on_status=output.status)
        output.summary()
        return prepared.session.exit_code()
    finally:
        prepared.close()


def _see_frames(args: argparse.Namespace, prepared: Prepared) -> TeeTransport | None:
    """-v, -X, --pcap: wrap the transport in the tee that keeps (and writes) every frame."""
    if not (args.verbose or args.hex or args.pcap):
        return None
    from layerping.inet.v4 import pmtu_sets_df
    from layerping.transport.tee import HeaderGuess, OutgoingCapture, TeeTransport

    config = prepared.config
    at_icmp = config.layer is Layer.ICMP
    guess = None
    if at_icmp and prepared.source is not None:
        guess = HeaderGuess(prepared.source, config.ttl, config.tos, pmtu_sets_df(config.pmtu))
    stream = None
    if args.pcap:
        try:
            stream = privilege.open_user_file(args.pcap, "wb")  # the tee owns it and closes it
        except OSError as exc:
            raise UsageError(f"cannot write {args.pcap}: {exc.strerror}", "give a writable path") from None
    outgoing = OutgoingCapture.open() if at_icmp else None  # our own probes read back: root only
    tee = TeeTransport(prepared.transport, pcap_stream=stream, outgoing=outgoing, guess=guess)
    prepared.transport = tee
    return tee


def _run_json(prepared: Prepared) -> int:
    """--json: one object per event on stdout, then the summary; nothing else on stdout."""
    import time

    from layerping.api import run_prepared
    from layerping.output.json import JsonOutput

    output = JsonOutput(prepared.session)
    prepared.session.start_ns = time.monotonic_ns()
    run_prepared(prepared, output, handle_signals=True)
    output.summary()
    return prepared.session.exit_code()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except LayerpingError as exc:
        line = exc.message + (f": {exc.hint}" if exc.hint else "")
        sys.stderr.write(f"layerping: {line}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # what the kernel refused where no one expected it: still one line
        from layerping.errors import os_error_hint

        hint = os_error_hint(exc.errno)
        sys.stderr.write(f"layerping: {exc.strerror or exc}" + (f": {hint}" if hint else "") + "\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
