"""Target expansion: specifications, blocks, ranges, files, excludes, laziness."""

from __future__ import annotations

import io
import itertools
import tracemalloc
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerping.errors import UsageError
from layerping.targets import (
    Excluder,
    TargetSpec,
    expand,
    file_lines,
    format_address,
    name_width,
    parse_address,
    parse_spec,
    specs_from,
)


def addresses(*texts: str, exclude: list[str] | None = None, broadcast: bool = False) -> list[str]:
    excluder = Excluder.parse(exclude or [])
    specs = [parse_spec(t) for t in texts]
    return [format_address(a) for a, _ in expand(specs, excluder, broadcast=broadcast)]


def test_address() -> None:
    spec = parse_spec("198.18.0.1")
    assert (spec.first, spec.last, spec.name, spec.is_block) == (0xC6120001, 0xC6120001, None, False)


@pytest.mark.parametrize("text", ["198.18.0.0/24", "198.18.0.77/24"])  # host bits are cleared, as fping -g
def test_cidr_block(text: str) -> None:
    spec = parse_spec(text)
    assert spec.is_block
    assert (format_address(spec.first), format_address(spec.last)) == ("198.18.0.0", "198.18.0.255")
    assert spec.size == 256


def test_block_skips_network_and_broadcast_unless_b() -> None:
    assert addresses("198.18.0.0/30") == ["198.18.0.1", "198.18.0.2"]
    every = ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"]
    assert addresses("198.18.0.0/30", broadcast=True) == every
    expected = [str(a) for a in IPv4Network("198.18.0.0/24").hosts()]
    assert addresses("198.18.0.0/24") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("198.18.0.4/31", ["198.18.0.4", "198.18.0.5"]),  # RFC 3021: no network/broadcast
    ("198.18.0.4/32", ["198.18.0.4"]),
])  # fmt: skip
def test_small_blocks_keep_every_address(text: str, expected: list[str]) -> None:
    assert addresses(text) == expected


def test_ranges_full_and_last_octet() -> None:
    got = addresses("198.18.0.254-198.18.1.1")
    assert got == ["198.18.0.254", "198.18.0.255", "198.18.1.0", "198.18.1.1"]
    assert addresses("198.18.0.1-3") == ["198.18.0.1", "198.18.0.2", "198.18.0.3"]
    assert addresses("198.18.0.7-198.18.0.7") == ["198.18.0.7"]


@pytest.mark.parametrize("text", [
    "", "198.18.0.0/33", "198.18.0.0/", "198.18.0/24", "198.18.0.300", "198.18.0.9-198.18.0.1",
    "198.18.0.1-300", "198.18.0.1-x.y", "two words", "198.18.0.0/２４", "bad!name", "-lead.example",
    "a..b", "x" * 64 + ".example",
])  # fmt: skip
def test_bad_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_spec(text)


def test_names_are_resolved_lazily_and_failures_reported() -> None:
    looked_up: list[str] = []

    def resolve(name: str) -> int:
        looked_up.append(name)
        if name == "bad.invalid":
            raise UsageError("bad.invalid: Name or service not known")
        return 0xC6120063

    failures: list[tuple[str, str]] = []
    specs = [parse_spec("good.example"), parse_spec("bad.invalid"), parse_spec("198.18.0.1")]
    stream = expand(specs, resolve=resolve, on_error=lambda name, exc: failures.append((name, exc.message)))
    assert looked_up == []  # nothing happens before the first target is wanted
    assert next(stream) == (0xC6120063, "good.example")
    assert list(stream) == [(0xC6120001, None)]
    assert failures == [("bad.invalid", "bad.invalid: Name or service not known")]


def test_unresolvable_name_raises_without_on_error() -> None:
    def resolve(name: str) -> int:
        raise UsageError(f"{name}: nope")

    with pytest.raises(UsageError):
        list(expand([parse_spec("x.invalid")], resolve=resolve))


def test_excludes_addresses_blocks_and_ranges() -> None:
    got = addresses("198.18.0.0/28", exclude=["198.18.0.2,198.18.0.4-198.18.0.6", "198.18.0.8/30"])
    assert got == ["198.18.0.1", "198.18.0.3", "198.18.0.7", "198.18.0.12", "198.18.0.13", "198.18.0.14"]
    # Excludes apply to single addresses and to resolved names too.
    assert addresses("198.18.0.1", "198.18.0.2", exclude=["198.18.0.1"]) == ["198.18.0.2"]
    excluder = Excluder.parse(["198.18.0.9"])
    resolved = expand([parse_spec("host.example")], excluder, resolve=lambda name: 0xC6120009)
    assert list(resolved) == []


def test_excluder_merges_and_subtracts() -> None:
    ex = Excluder([(10, 20), (15, 30), (31, 31), (50, 60)])
    assert ex.intervals == [(10, 31), (50, 60)]
    assert list(ex.remaining(0, 100)) == [(0, 9), (32, 49), (61, 100)]
    assert list(ex.remaining(12, 55)) == [(32, 49)]
    assert list(ex.remaining(10, 31)) == []
    assert 31 in ex and 32 not in ex and 9 not in ex
    assert not Excluder() and list(Excluder().remaining(1, 2)) == [(1, 2)]


def test_exclude_refuses_names() -> None:
    with pytest.raises(UsageError):
        Excluder.parse(["some.host"])


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=8), st.integers(0, 300),
       st.integers(0, 60))  # fmt: skip
def test_excluder_matches_a_set(pairs: list[tuple[int, int]], first: int, span: int) -> None:
    intervals = [(a, a + n) for a, n in pairs]
    excluded = {x for a, b in intervals for x in range(a, b + 1)}
    ex = Excluder(intervals)
    kept = [x for lo, hi in ex.remaining(first, first + span) for x in range(lo, hi + 1)]
    assert kept == [x for x in range(first, first + span + 1) if x not in excluded]


def test_a_slash_8_is_streamed_in_flat_memory() -> None:
    tracemalloc.start()
    try:
        stream = expand([parse_spec("10.0.0.0/8")], Excluder.parse(["10.1.0.0/16"]))
        taken = sum(1 for _ in itertools.islice(stream, 200_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert taken == 200_000
    assert peak < 1_000_000  # a list of 16.7 million addresses would take hundreds of MB


def test_targets_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text("# lab targets\n198.18.0.1\n\n198.18.0.8/30   # a block\n198.18.0.20-21 198.18.0.30\n")
    assert list(file_lines(str(path))) == ["198.18.0.1", "198.18.0.8/30", "198.18.0.20-21", "198.18.0.30"]
    stdin = io.StringIO("198.18.0.2\n198.18.0.3\n")
    specs = list(specs_from(["198.18.0.1"], "-", stdin=stdin))
    assert [s.text for s in specs] == ["198.18.0.1", "198.18.0.2", "198.18.0.3"]


def test_missing_targets_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        list(file_lines(str(tmp_path / "absent.txt")))


def test_file_lines_are_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("198.18.0.1\nbad!spec\n")
    specs = specs_from([], str(path))
    assert next(specs).first == 0xC6120001  # the bad second line is not read yet
    with pytest.raises(UsageError):
        next(specs)


@pytest.mark.parametrize("text", ["localhost", "host-1.example.", "a_b.example", "xn--bcher-kva.example"])
def test_host_names(text: str) -> None:
    assert parse_spec(text).name == text


def test_name_width() -> None:
    assert name_width([parse_spec("198.18.0.1"), parse_spec("host.example")]) == len("host.example")
    assert name_width([parse_spec("198.18.0.0/24")]) == len("198.18.0.255")
    assert name_width([]) == 0


@given(st.integers(0, 0xFFFF_FFFF))
def test_address_round_trip(value: int) -> None:
    text = format_address(value)
    assert text == str(IPv4Address(value))
    assert parse_address(text) == value


@pytest.mark.parametrize("text", ["1.2.3", "1.2.3.4.5", "1.2.3.256", "a.b.c.d", "1.2.3.-4", "1.2.3.4 ",
                                  "١.2.3.4"])  # fmt: skip
def test_parse_address_rejects(text: str) -> None:
    assert parse_address(text) is None


def test_spec_size() -> None:
    assert parse_spec("198.18.0.0/16").size == 65536
    assert TargetSpec("x", name="x").size == 1


def test_excludes_merged_while_read_match_a_plain_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compacting every few entries (here 4) keeps exactly the addresses of every entry."""
    import random

    from layerping import targets

    monkeypatch.setattr(targets, "_COMPACT_AT", 4)
    rng = random.Random(15)
    base = 198 << 24 | 18 << 16
    texts, expected = [], set()
    for _ in range(300):
        first = base + rng.randrange(2000)
        last = first + rng.choice((0, 0, 1, 5, 40))
        texts.append(targets.format_address(first) if first == last
                     else f"{targets.format_address(first)}-{targets.format_address(last)}")  # fmt: skip
        expected.update(range(first, last + 1))
    excluder = targets.Excluder.parse(texts)
    assert {a for a in range(base - 5, base + 2100) if a in excluder} == expected
    intervals = excluder.intervals
    assert all(left[1] + 1 < right[0] for left, right in itertools.pairwise(intervals))
    kept = [a for lo, hi in excluder.remaining(base, base + 2100) for a in range(lo, hi + 1)]
    assert kept == [a for a in range(base, base + 2101) if a not in expected]
