"""The fping-style output of many-target runs, fed events directly (no sockets)."""

from __future__ import annotations

import io
import json
import random
import socket

import pytest

from layerping.engine.multi import TargetDone, TargetsDone, expand_runs
from layerping.output import fping
from layerping.output.fping import FpingOptions, FpingOutput, dotted_quads


def _address(text: str) -> int:
    return int.from_bytes(socket.inet_aton(text), "big")


def test_dotted_quads_write_what_inet_ntoa_writes() -> None:
    rng = random.Random(4)
    addresses = [0, 0xFFFFFFFF, _address("198.18.0.1"), _address("10.0.0.255")]
    addresses += [rng.getrandbits(32) for _ in range(6000)]  # more /24s than the cache keeps
    expected = [socket.inet_ntoa(a.to_bytes(4, "big")) for a in addresses]
    assert dotted_quads(addresses) == expected
    assert len(fping._PREFIXES) > 4096  # one per /24 seen
    assert dotted_quads([_address("203.0.113.9")]) == ["203.0.113.9"]
    assert list(fping._PREFIXES.values()) == ["203.0.113."]  # cleared first: the cache is bounded


# Targets 0..4: two answered, one with a name, one silent with a name.
RUN = TargetsDone(
    0,
    [_address(a) for a in ("198.18.0.1", "198.18.0.2", "192.0.2.9", "198.18.0.4", "192.0.2.10")],
    [None, None, "gw.example", None, "quiet.example"],
    [1, 2, 1, 2, 2],
    [1, 0, 1, 0, 0],
    [70_000, 0, 90_000, 0, 0],
    [70_000, 0, 90_000, 0, 0],
    [70_000, 0, 90_000, 0, 0],
)
PLAIN = TargetsDone(5, [_address("198.18.1.1"), _address("198.18.1.2")], [None, None], [1, 1], [0, 1],
                    [0, 8], [0, 8], [0, 8])  # fmt: skip


def _printed(options: FpingOptions, events: list[object]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    output = FpingOutput(options, out, err)
    output.many(events)  # type: ignore[arg-type]
    output.flush()
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "options",
    [
        FpingOptions(alive_only=True),
        FpingOptions(unreachable_only=True),
        FpingOptions(alive_only=True, unreachable_only=True),
        FpingOptions(),
        FpingOptions(count_mode=True, quiet=True),
        FpingOptions(alive_only=True, count_mode=True),
        FpingOptions(json=True),
    ],
)
def test_a_run_of_targets_prints_what_its_targets_would(options: FpingOptions) -> None:
    one_each = list(expand_runs([RUN, PLAIN]))
    assert all(isinstance(e, TargetDone) for e in one_each) and len(one_each) == 7
    assert _printed(options, [RUN, PLAIN]) == _printed(options, one_each)


def test_alive_and_unreachable_lists_from_runs() -> None:
    assert _printed(FpingOptions(alive_only=True), [RUN, PLAIN])[0] == "198.18.0.1\ngw.example\n198.18.1.2\n"
    assert _printed(FpingOptions(unreachable_only=True), [RUN, PLAIN])[0] == (
        "198.18.0.2\n198.18.0.4\nquiet.example\n198.18.1.1\n"
    )


def test_json_expands_a_run_into_one_object_per_target() -> None:
    out, _ = _printed(FpingOptions(json=True), [RUN])
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["target"] for o in objects] == ["198.18.0.1", "198.18.0.2", "gw.example", "198.18.0.4",
                                              "quiet.example"]  # fmt: skip
    assert [o["alive"] for o in objects] == [True, False, True, False, False]
    assert objects[0]["rtt_min_ms"] == 0.07
