"""``layerping`` with many targets: fping-style output over :mod:`layerping.many`.

``cli.run`` comes here when there is more than one destination, a block, a range, a targets
file, ``--alive`` or ``--unreachable``. Exit status: 0 every target answered, 1 some did not,
2 errors (a name that does not resolve, a bad option, no targets at all).
"""

from __future__ import annotations

import argparse
import gc
import sys

from layerping import privilege
from layerping.errors import UsageError
from layerping.many import ManyConfig, prepare_many
from layerping.output.fping import FpingOptions, FpingOutput
from layerping.source_arg import interface_and_source
from layerping.targets import name_width as spec_width
from layerping.targets import parse_spec
from layerping.transport.base import Layer

DEFAULT_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 1

# Options of single-target ping that have no meaning for many targets.
_SINGLE_ONLY = (
    ("flood", "-f"),
    ("verbose", "-v"),
    ("hex", "-X"),
    ("pcap", "--pcap"),
    ("timestamps", "-D"),
    ("outstanding", "-O"),
    ("audible", "-a"),
)


def config_from_args(args: argparse.Namespace) -> ManyConfig:
    """Turn parsed options into a :class:`ManyConfig` (refusing single-target-only options)."""
    for attribute, option in _SINGLE_ONLY:
        if getattr(args, attribute, None):
            raise UsageError(f"{option} works with one destination only",
                             "leave it out, or ping one destination (use --rate to pace many)")  # fmt: skip
    if getattr(args, "preload", 1) not in (None, 1):
        raise UsageError("-l works with one destination only", "use --rate to pace many targets")
    if args.alive and args.unreachable:
        raise UsageError("--alive and --unreachable exclude each other", "give one of them")

    interface, source = interface_and_source(args)
    excludes = tuple(args.exclude.split(",")) if args.exclude else ()
    return ManyConfig(
        targets=tuple(args.destinations),
        targets_file=args.targets_file,
        exclude=tuple(e for e in excludes if e.strip()),
        exclude_file=args.exclude_file,
        broadcast=args.broadcast,
        layer=Layer(args.layer),
        count=args.count,
        retries=DEFAULT_RETRIES if args.retries is None else args.retries,
        interval_s=DEFAULT_INTERVAL_S if args.interval is None else args.interval,
        timeout_s=DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout,
        deadline_s=args.deadline,
        rate_pps=1000.0 if args.rate is None else args.rate,
        payload_size=args.size,
        ttl=args.ttl,
        tos=args.tos,
        pmtu=args.pmtu,
        pattern=args.pattern,
        interface=interface,
        source=source,
        unprivileged=args.unprivileged,
        src_mac=args.src_mac,
        next_hop_mac=args.next_hop_mac,
        gateway=args.gateway,
        reply_events=args.json or (args.count is not None and not args.quiet),
        timeout_events=args.json or (args.count is not None and not args.quiet),
        done_runs=True,  # finished targets as columns: FpingOutput writes a sweep's list from them
        sender="process",  # at high rates: a forked sender, the fastest measured (transport/batch.py)
    )


def run_many(args: argparse.Namespace) -> int:
    """Ping many targets as ``args`` say; return the exit status."""
    config = config_from_args(args)
    options = FpingOptions(
        count_mode=config.count is not None,
        quiet=args.quiet,
        alive_only=args.alive,
        unreachable_only=args.unreachable,
        width=spec_width(parse_spec(text) for text in config.targets),
        json=args.json,
    )
    output = FpingOutput(options)

    def name_error(name: str, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(f"{text}\n" if text.startswith(name) else f"{name}: {text}\n")

    run = prepare_many(config, on_name_error=name_error)
    privilege.drop()  # every socket of the run is open (layerping/privilege.py)
    run.runner.on_idle = output.flush
    # The run makes no reference cycles, but an event per target would set the cyclic
    # collector off again and again (it scanned every object each time: 5 % of a /16 sweep).
    gc.freeze()
    gc.disable()
    try:
        for batch in run.batches(handle_signals=True):
            output.many(batch)
    finally:
        gc.enable()
        run.close()
    output.summary(run.totals, run.elapsed_ns)
    if run.totals.targets == 0 and not run.name_errors:
        sys.stderr.write("layerping: no targets left to ping (all excluded?)\n")
    return run.exit_code()
