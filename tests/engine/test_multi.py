"""The many-target session on a fake clock with scripted networks: deterministic, never sleeps.

Each test runs :class:`MultiSession` through the generic batch I/O over a
:class:`ScriptedTransport` whose answers are scripted per *target* (the transport scripts by
sequence number, which here is a ring slot, so the harness tells it the destination first).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address

import pytest

from layerping._value import fields
from layerping.engine.multi import (
    MultiConfig,
    MultiEvent,
    MultiSession,
    TargetDone,
    TargetIcmpError,
    TargetReply,
    TargetsDone,
    TargetSendError,
    TargetTimeout,
    default_burst,
    expand_runs,
)
from layerping.engine.multi_runner import GenericBatchIO, MultiRunner
from layerping.errors import UsageError
from layerping.inet.v4 import RULES, unframe_batch
from layerping.targets import expand, format_address, parse_spec
from layerping.transport.base import Inbound
from layerping.wire.checksum import ones_complement_sum
from layerping.wire.icmpv4 import Echo
from tests.support.fake import (
    Action,
    Drop,
    FakeClock,
    Refuse,
    Reply,
    ScriptedTransport,
    duplicate,
    redirect,
    source_quench,
    unreachable,
)

MS = 1_000_000
ROUTER = IPv4Address("192.0.2.1")
COOKIE = bytes.fromhex("4c50 696e 6720 3421")


def ip(text: str) -> int:
    return int(IPv4Address(text))


def targets(*texts: str) -> Iterator[tuple[int, str | None]]:
    return expand([parse_spec(t) for t in texts])


PerTarget = Callable[[str, int], Action | list[Action]]
"""(destination, how many probes went to it before) -> what the network does."""


class ByTarget(ScriptedTransport):
    """A scripted network that answers per destination and probe number."""

    def __init__(self, plan: PerTarget, clock: FakeClock, **kwargs: object) -> None:
        self.plan = plan
        self.sends: dict[str, int] = {}
        self.log: list[tuple[str, int]] = []  # (destination, monotonic send time)
        self._current = ""
        super().__init__(self._script, clock=clock, **kwargs)  # type: ignore[arg-type]

    def _script(self, seq: int, index: int) -> Action | list[Action]:
        n = self.sends.get(self._current, 0)
        self.sends[self._current] = n + 1
        return self.plan(self._current, n)

    def send(self, icmp: bytes, dst: IPv4Address) -> int:
        self._current = str(dst)
        self.log.append((str(dst), self.clock.monotonic_ns()))
        return super().send(icmp, dst)


def answer_all(dst: str, n: int) -> Action:
    return Reply()


@dataclass
class Run:
    events: list[MultiEvent]
    session: MultiSession
    transport: ByTarget
    clock: FakeClock
    done: list[TargetDone] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.done = [e for e in self.events if isinstance(e, TargetDone)]

    def by_address(self) -> dict[str, TargetDone]:
        return {format_address(d.address): d for d in self.done}

    def of(self, kind: type, address: str) -> list[MultiEvent]:
        return [e for e in self.events if isinstance(e, kind) and format_address(e.address) == address]


def run(plan: PerTarget, items: Iterable[tuple[int, str | None]], *, capacity: int = 8,
        max_steps: int = 100_000, kernel_owns_id: bool = False, **config: object) -> Run:  # fmt: skip
    """Drive a session to the end on a fake clock: fill, send, receive, advance to what is next."""
    clock = FakeClock()
    transport = ByTarget(plan, clock, kernel_owns_id=kernel_owns_id)
    settings: dict[str, object] = {"rate_pps": 1e6, "timeout_ns": 100 * MS, "interval_ns": 10 * MS}
    settings.update(config)
    session = MultiSession(
        MultiConfig(identifier=0x4C50, cookie=COOKIE, kernel_owns_id=kernel_owns_id, **settings),  # type: ignore[arg-type]
        items,
        clock(), RULES,
    )
    io = GenericBatchIO(transport, len(session.template), RULES.address_from_int, capacity=capacity)
    io.prepare(session.template)
    events: list[MultiEvent] = []
    for _ in range(max_steps):
        now = clock()
        session.expire(now)
        destinations: list[int] = []
        sent = session.fill(now, io.capacity, io.buffer, io.offset, io.stride, destinations)
        if sent:
            tx_ns, failures = io.send(sent, destinations, session)
            session.commit(tx_ns, failures)
        io.receive(session)
        events.extend(session.drain_events())
        if session.done:
            return Run(events, session, transport, clock)
        if sent == io.capacity:
            continue
        times = [t for t in (session.next_deadline(now), transport.next_arrival_ns()) if t is not None]
        assert times, "stuck: nothing to wait for"
        clock.advance_to(max(min(times), now + 1))
    raise AssertionError("the session did not finish")


# --- alive mode ----------------------------------------------------------------------------------


def test_every_target_answers_once_and_is_reported_in_input_order() -> None:
    result = run(answer_all, targets("198.18.0.0/28", "198.18.1.1"), retries=2)
    expected = [f"198.18.0.{i}" for i in range(1, 15)] + ["198.18.1.1"]
    assert [format_address(d.address) for d in result.done] == expected
    assert [d.target for d in result.done] == list(range(15))
    assert all(d.alive and d.transmitted == 1 and d.received == 1 for d in result.done)
    assert all(d.rtt_min_ns == d.rtt_max_ns == d.rtt_sum_ns == 123_000 for d in result.done)  # scripted RTT
    totals = result.session.totals
    assert (totals.targets, totals.alive, totals.transmitted, totals.received) == (15, 15, 15, 15)


def test_silent_targets_are_retried_after_each_timeout() -> None:
    def plan(dst: str, n: int) -> Action:
        if dst == "198.18.0.2":
            return Drop() if n == 0 else Reply()  # answers the retry
        if dst == "198.18.0.3":
            return Drop()  # never answers
        return Reply()

    result = run(plan, targets("198.18.0.1", "198.18.0.2", "198.18.0.3"), retries=2, timeout_ns=100 * MS)
    done = result.by_address()
    assert (done["198.18.0.1"].transmitted, done["198.18.0.1"].alive) == (1, True)
    assert (done["198.18.0.2"].transmitted, done["198.18.0.2"].alive) == (2, True)
    assert (done["198.18.0.3"].transmitted, done["198.18.0.3"].alive) == (3, False)
    sends = [t for d, t in result.transport.log if d == "198.18.0.3"]
    assert [b - a for a, b in itertools.pairwise(sends)] == [100 * MS, 100 * MS]  # each after its timeout
    assert [e.probe for e in result.of(TargetTimeout, "198.18.0.3")] == [0, 1, 2]


def test_without_retries_a_silent_target_gets_one_probe() -> None:
    result = run(lambda dst, n: Drop(), targets("198.18.0.1"), retries=0)
    assert (result.done[0].transmitted, result.done[0].alive) == (1, False)


def test_icmp_error_ends_the_target_without_retry() -> None:
    def plan(dst: str, n: int) -> Action:
        return unreachable(ROUTER, code=0) if dst == "203.0.113.7" else Reply()

    result = run(plan, targets("203.0.113.7", "198.18.0.1"), retries=3)
    done = result.by_address()
    unrouted = done["203.0.113.7"]
    assert (unrouted.alive, unrouted.errors, unrouted.transmitted) == (False, 1, 1)
    (error,) = result.of(TargetIcmpError, "203.0.113.7")
    assert (error.source, error.icmp_type, error.icmp_code, error.probe) == (int(ROUTER), 3, 0, 0)
    assert done["198.18.0.1"].alive


def test_advice_is_reported_but_neither_counted_nor_ends_the_target() -> None:
    # The family's one classification (inet/v4.py RULES), as iputils: redirect and source
    # quench are reported (fping prints them as for any error) but the probe went on.
    def plan(dst: str, n: int) -> list[Action]:
        advice = redirect(ROUTER, ROUTER) if dst == "198.18.0.1" else source_quench(ROUTER)
        return [advice, Reply()]

    result = run(plan, targets("198.18.0.1", "198.18.0.2"), retries=0)
    for address, icmp_type in (("198.18.0.1", 5), ("198.18.0.2", 4)):
        (error,) = result.of(TargetIcmpError, address)
        assert error.icmp_type == icmp_type
        done = result.by_address()[address]
        assert (done.alive, done.errors) == (True, 0)
    assert result.session.totals.errors == 0


def test_icmp_error_with_a_long_quote_must_quote_the_outstanding_serial() -> None:
    from tests.support.fake import IcmpError

    quoted_all = IcmpError(3, 1, ROUTER, quote_len=64)  # Linux quotes the whole probe
    result = run(lambda dst, n: quoted_all, targets("198.18.0.1"), retries=0)
    assert result.done[0].errors == 1 and len(result.of(TargetIcmpError, "198.18.0.1")) == 1


def test_error_quoting_another_destination_is_ignored() -> None:
    from tests.support.fake import IcmpError

    foreign = IcmpError(3, 1, ROUTER, quote_destination=IPv4Address("198.18.9.9"))
    result = run(lambda dst, n: foreign, targets("198.18.0.1"), retries=0)
    assert result.done[0].errors == 0 and not result.of(TargetIcmpError, "198.18.0.1")
    assert result.session.totals.foreign == 1


# --- count mode ----------------------------------------------------------------------------------


def test_count_mode_sends_count_probes_interval_apart() -> None:
    rtts = {0: 1 * MS, 1: 3 * MS, 2: 2 * MS}
    result = run(lambda dst, n: Reply(rtts[n]), targets("198.18.0.1", "198.18.0.2"), count=3,
                 interval_ns=50 * MS)  # fmt: skip
    sends = [t for d, t in result.transport.log if d == "198.18.0.1"]
    assert [b - a for a, b in itertools.pairwise(sends)] == [50 * MS, 50 * MS]
    replies = result.of(TargetReply, "198.18.0.1")
    assert [(r.probe, r.rtt_ns, r.transmitted, r.received) for r in replies] == [
        (0, 1 * MS, 1, 1), (1, 3 * MS, 2, 2), (2, 2 * MS, 3, 3)
    ]  # fmt: skip
    done = result.by_address()["198.18.0.1"]
    assert (done.transmitted, done.received, done.rtt_min_ns, done.rtt_max_ns, done.rtt_sum_ns) == (
        3, 3, 1 * MS, 3 * MS, 6 * MS
    )  # fmt: skip


def test_count_mode_loss_and_no_retries() -> None:
    result = run(lambda dst, n: Drop() if n == 1 else Reply(), targets("198.18.0.1"), count=3, retries=5,
                 interval_ns=20 * MS, timeout_ns=500 * MS)  # fmt: skip
    done = result.done[0]
    assert (done.transmitted, done.received, done.loss_percent) == (3, 2, pytest.approx(100 / 3))
    timeouts = result.of(TargetTimeout, "198.18.0.1")
    assert [t.probe for t in timeouts] == [1]  # lost at the latest when probe 2 leaves (timeout = interval)


def test_count_mode_last_probe_waits_the_full_timeout() -> None:
    result = run(lambda dst, n: Reply(80 * MS) if n == 1 else Reply(), targets("198.18.0.1"), count=2,
                 interval_ns=10 * MS, timeout_ns=100 * MS)  # fmt: skip
    assert result.done[0].received == 2  # the last probe's 80 ms answer is within its 100 ms


def test_late_reply_is_not_counted() -> None:
    result = run(lambda dst, n: Reply(150 * MS), targets("198.18.0.1"), retries=0, timeout_ns=100 * MS)
    assert result.done[0].received == 0


def test_duplicates_are_counted_not_received() -> None:
    result = run(lambda dst, n: duplicate(copies=3) if n == 0 else Reply(), targets("198.18.0.1"), count=2)
    done = result.done[0]
    assert (done.received, done.duplicates) == (2, 2)
    assert [r.duplicate for r in result.of(TargetReply, "198.18.0.1")] == [False, True, True, False]


def test_duplicates_after_the_target_was_reported_count_in_the_totals() -> None:
    def plan(dst: str, n: int) -> Action:  # the third target keeps the run going while copies come
        return Reply(50 * MS) if dst == "198.18.0.3" else duplicate(copies=3)

    result = run(plan, targets("198.18.0.1", "198.18.0.2", "198.18.0.3"), count=1)
    assert [d.duplicates for d in result.done] == [0, 0, 0]  # reported before the copies came
    assert result.session.totals.duplicates == 4
    duplicates = [r for r in result.events if isinstance(r, TargetReply) and r.duplicate]
    assert sorted(r.target for r in duplicates) == [0, 0, 1, 1]


def test_corrupted_reply_is_counted_as_corrupted() -> None:
    result = run(lambda dst, n: Reply(corrupt=True), targets("198.18.0.1"), retries=0)
    assert (result.done[0].received, result.done[0].corrupted) == (0, 1)


@pytest.mark.parametrize("reply", [
    Reply(foreign_identifier=True),  # another run's identifier
    Reply(foreign_cookie=True),  # another run with the same identifier
    Reply(src=IPv4Address("198.18.0.77")),  # from someone else
])  # fmt: skip
def test_replies_that_are_not_ours_are_ignored(reply: Reply) -> None:
    result = run(lambda dst, n: reply, targets("198.18.0.1"), retries=0)
    assert result.done[0].received == 0
    assert result.session.totals.foreign == 1


def test_kernel_owned_identifier_matches_on_sequence_alone() -> None:
    result = run(answer_all, targets("198.18.0.1", "198.18.0.2"), kernel_owns_id=True)
    assert all(d.alive for d in result.done)


@pytest.mark.parametrize("size", [0, 4, 8, 11])
def test_payloads_too_short_for_the_serial_still_match(size: int) -> None:
    result = run(answer_all, targets("198.18.0.1", "198.18.0.2"), payload_size=size)
    assert [d.alive for d in result.done] == [True, True]


# --- the ring, pacing, streaming --------------------------------------------------------------------


def test_a_small_ring_reuses_slots_and_ignores_replies_for_earlier_targets() -> None:
    def plan(dst: str, n: int) -> Action:
        if dst == "198.18.0.1":
            return Reply(250 * MS)  # answers after its timeout, when its slot may hold another target
        return Reply()

    result = run(plan, targets("198.18.0.0/28"), window=4, retries=0, timeout_ns=100 * MS)
    assert len(result.done) == 14
    assert [d.target for d in result.done] == list(range(14))
    done = result.by_address()
    assert not done["198.18.0.1"].alive
    assert all(d.alive for a, d in done.items() if a != "198.18.0.1")
    assert len(result.session._addr) == 4  # memory is the window, not the target count


def test_targets_are_taken_in_only_as_the_ring_has_room() -> None:
    taken = 0

    def endless() -> Iterator[tuple[int, str | None]]:
        nonlocal taken
        for address in itertools.count(ip("198.18.0.1")):
            taken += 1
            yield address, None

    clock = FakeClock()
    config = MultiConfig(identifier=1, cookie=COOKIE, window=16, rate_pps=1e9)
    session = MultiSession(config, endless(), clock(), RULES)
    buf = bytearray(len(session.template) * 64)
    destinations: list[int] = []
    assert session.fill(clock(), 64, buf, 0, len(session.template), destinations) == 16
    assert taken == 16  # the iterator is never drained ahead of the ring
    assert session.fill(clock(), 64, buf, 0, len(session.template), destinations) == 0


def test_rate_limit_spaces_probes() -> None:
    result = run(answer_all, targets("198.18.0.0/27"), rate_pps=1000.0, burst=1)
    times = [t for _, t in result.transport.log]
    assert len(times) == 30
    assert all(b - a >= MS - 1 for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] >= 29 * MS - 29


def test_burst_allows_a_batch_then_paces() -> None:
    result = run(answer_all, targets("198.18.0.0/26"), rate_pps=10_000.0, burst=8, capacity=64)
    times = [t for _, t in result.transport.log]
    assert times[:8] == [times[0]] * 8  # a full bucket goes at once
    assert times[-1] - times[0] >= (62 - 8) * 100_000 - 100  # the rest at 10 000/s
    assert default_burst(1000.0) == 2 and default_burst(1e9) == 1024


def test_probes_carry_cookie_serial_and_a_valid_checksum() -> None:
    result = run(answer_all, targets("198.18.0.0/29"), window=8)
    probes = result.transport.sent
    serials = set()
    for probe in probes:
        assert ones_complement_sum(probe.icmp) == 0xFFFF  # RFC 1071: a valid checksum
        echo = Echo.parse(probe.icmp)
        assert (echo.type, echo.identifier) == (8, 0x4C50)
        assert echo.payload[:8] == COOKIE
        serials.add(echo.payload[8:12])
        assert echo.sequence < 8  # the sequence number is the ring slot
    assert len(serials) == len(probes)  # every probe has its own serial


def test_send_refused_is_an_error_event_and_ends_the_target() -> None:
    def plan(dst: str, n: int) -> Action:
        return Refuse() if dst == "198.18.0.2" else Reply()

    result = run(plan, targets("198.18.0.1", "198.18.0.2"), retries=2)
    refused = result.by_address()["198.18.0.2"]
    assert (refused.alive, refused.errors, refused.transmitted) == (False, 1, 1)
    (error,) = result.of(TargetSendError, "198.18.0.2")
    assert "unreachable" in error.text


def test_names_are_carried_to_the_results() -> None:
    result = run(answer_all, [(ip("198.18.0.5"), "five.example")])
    assert result.done[0].name == "five.example"


def test_stop_reports_every_target_taken_in() -> None:
    clock = FakeClock()
    session = MultiSession(MultiConfig(identifier=1, cookie=COOKIE, rate_pps=1e9), targets("198.18.0.0/24"),
                           clock(), RULES)  # fmt: skip
    buf = bytearray(len(session.template) * 10)
    session.fill(clock(), 10, buf, 0, len(session.template), [])
    session.commit(clock.realtime_ns())
    session.stop(clock())
    done = [e for e in session.drain_events() if isinstance(e, TargetDone)]
    assert [d.target for d in done] == list(range(10))
    assert session.done and session.interrupted and not any(d.alive for d in done)


def test_keep_rtts() -> None:
    result = run(lambda dst, n: Reply((n + 1) * MS), targets("198.18.0.1"), count=3, keep_rtts=True)
    assert result.done[0].rtts_ns == (1 * MS, 2 * MS, 3 * MS)


@pytest.mark.parametrize("config", [{"window": 3}, {"window": 1 << 17}, {"count": 0}, {"rate_pps": 0.0}])
def test_bad_configuration(config: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        MultiSession(MultiConfig(identifier=1, cookie=COOKIE, **config), [], 0, RULES)  # type: ignore[arg-type]


def test_generic_inbound_path() -> None:
    clock = FakeClock()
    config = MultiConfig(identifier=7, cookie=COOKIE, rate_pps=1e9)
    session = MultiSession(config, targets("198.18.0.1"), clock(), RULES)
    buf = bytearray(len(session.template))
    session.fill(clock(), 1, buf, 0, len(buf), [])
    session.commit(clock.realtime_ns())
    request = Echo.parse(bytes(buf))
    reply = Echo.reply(request.identifier, request.sequence, request.payload).build()
    session.on_inbound(Inbound(reply, IPv4Address("198.18.0.1"), None, 60, clock.realtime_ns() + 5 * MS))
    (done,) = [e for e in session.drain_events() if isinstance(e, TargetDone)]
    assert (done.alive, done.rtt_min_ns) == (True, 5 * MS)


# --- the real loop -------------------------------------------------------------------------------------


def test_multirunner_over_a_scripted_transport_on_the_real_clock() -> None:
    """MultiRunner end to end (no network): replies after 0.1 ms, one target silent."""

    def script(seq: int, index: int) -> Action:
        return Reply(100_000)

    transport = ScriptedTransport(script)
    silent = IPv4Address("198.18.0.3")
    original_send = transport.send

    def send(icmp: bytes, dst: IPv4Address) -> int:
        if dst == silent:
            transport.script = {Echo.parse(icmp).sequence: Drop()}
        else:
            transport.script = script
        return original_send(icmp, dst)

    transport.send = send  # type: ignore[method-assign]
    session = MultiSession(MultiConfig(identifier=0x4C50, cookie=os.urandom(8), retries=1, timeout_ns=50 * MS,
                                       rate_pps=1e6), targets("198.18.0.0/29"), 0, RULES)  # fmt: skip
    events: list[MultiEvent] = []
    runner = MultiRunner(transport, session, events.append)  # no io given: the generic batch I/O
    import time

    session.start_ns = time.monotonic_ns()
    runner.run(handle_signals=False)
    transport.close()
    done = {format_address(e.address): e for e in events if isinstance(e, TargetDone)}
    assert list(done) == [f"198.18.0.{i}" for i in range(1, 7)]
    assert [d.alive for d in done.values()] == [True, True, False, True, True, True]
    assert done["198.18.0.3"].transmitted == 2


# --- the routing table search of layers ip and ethernet --------------------------------------------


def route_table(routes: dict[int, list[tuple[str, int | None, str | None]]]) -> object:
    """A RouteTable over ``{table: [(prefix, oif, gateway)]}`` without a kernel (no dump)."""
    from ipaddress import IPv4Network

    from layerping.many import Route, RouteTable

    table = object.__new__(RouteTable)
    table.kernel_lookups = False
    table._tables = {}
    for number, entries in routes.items():
        for prefix, oif, gateway in entries:
            network = IPv4Network(prefix)
            route = Route(2 if number == 255 else 1, oif, None if gateway is None else ip(gateway))
            by_length = table._tables.setdefault(number, {})
            by_length.setdefault(network.prefixlen, {})[int(network.network_address)] = route
    table._lengths = {number: sorted(by_length, reverse=True) for number, by_length in table._tables.items()}
    table._solid_first, table._solid_last, table._solid_route = 1, 0, None
    asked: list[int] = []
    table._ask = lambda address: asked.append(address)  # type: ignore[method-assign]
    return table


def test_route_lookup_is_longest_prefix_in_table_order() -> None:
    table = route_table({
        255: [("192.0.2.2/32", 2, None)],
        254: [("0.0.0.0/0", 2, "192.0.2.1"), ("192.0.2.0/24", 2, None), ("198.18.0.0/15", 2, "192.0.2.1"),
              ("198.18.7.0/24", 3, "198.51.100.9")],
    })  # fmt: skip
    lookup = table.lookup  # type: ignore[attr-defined]
    assert lookup(ip("192.0.2.2")).route_type == 2  # the local table first
    assert lookup(ip("192.0.2.9")).gateway is None  # on the link
    assert lookup(ip("198.18.7.5")).oif == 3  # more specific inside the /15
    assert lookup(ip("198.18.0.1")).gateway == ip("192.0.2.1")
    assert lookup(ip("203.0.113.7")).gateway == ip("192.0.2.1")  # the default route
    # A prefix with a more specific route inside is never cached as a whole.
    assert lookup(ip("198.18.8.1")).oif == 2 and lookup(ip("198.18.7.200")).oif == 3
    assert lookup(ip("198.18.8.2")).oif == 2


def test_route_lookup_caches_a_solid_prefix() -> None:
    table = route_table({254: [("198.18.0.0/15", 2, "192.0.2.1"), ("0.0.0.0/0", 2, "192.0.2.1")]})
    first = table.lookup(ip("198.18.0.1"))  # type: ignore[attr-defined]
    assert (table._solid_first, table._solid_last) == (ip("198.18.0.0"), ip("198.19.255.255"))  # type: ignore[attr-defined]
    assert table.lookup(ip("198.19.4.4")) is first  # type: ignore[attr-defined]
    assert not table._solid(254, 0, 0)  # type: ignore[attr-defined]  # the default route has the /15 inside


# --- the batch paths: _admit (new targets in one go) and whole IPv4 datagrams (the family's batch
# unframer, then on_messages: what MmsgIcmpIO and MmsgLinkIO do with a recvmmsg batch) ----------


def on_datagrams(session: MultiSession, data: bytes | bytearray | memoryview, count: int, size: int,
                 stamps: list[int], link: int = 0) -> None:  # fmt: skip
    messages, foreign = unframe_batch(data, count, size, stamps, link)
    session.on_messages(data, messages)
    session.count_foreign(foreign)


def _fields_of(config: MultiConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in fields(MultiConfig)}


@pytest.mark.parametrize("serial_start", [1, 0xFFFF_FFFF - 5, 0xFFFF - 3])
def test_batch_admission_writes_the_same_probes_as_one_by_one(serial_start: int) -> None:
    """New targets take the batch path; the probes are byte for byte the one-by-one ones,
    also where the ring (window 8) and the serial wrap inside a batch."""
    config = MultiConfig(identifier=0xBEEF, cookie=COOKIE, rate_pps=1e9, retries=0, window=8)
    addresses = [ip("198.18.0.1") + k for k in range(8)]
    stride = 72
    session = MultiSession(config, [(a, None) for a in addresses + addresses], 0, RULES)
    session._serial_next = serial_start
    session._admitted = session._head = 5  # the ring wraps after three slots
    frame = session.template + bytes(stride - len(session.template))
    buf = bytearray(frame * 8)  # the template copied in once, as the batch I/O does
    destinations: list[int] = []
    assert session.fill(0, 8, buf, 0, stride, destinations) == 8
    assert destinations == addresses
    assert session._batch == [5, 6, 7, 0, 1, 2, 3, 4]
    expected = bytearray(frame * 8)
    for k in range(8):
        counted = MultiConfig(**{**_fields_of(config), "count": 2})
        one = MultiSession(counted, [(addresses[k], None)], 0, RULES)
        one._serial_next = (serial_start + k) & 0xFFFF_FFFF
        one._admitted = one._head = 5 + k
        one.fill(0, 1, expected, k * stride, stride, [])
    assert bytes(buf) == bytes(expected)
    for k in range(8):
        probe = bytes(buf[k * stride : k * stride + len(session.template)])
        assert ones_complement_sum(probe) == 0xFFFF
        assert Echo.parse(probe).sequence == (5 + k) % 8


def _datagram(icmp: bytes, source: int, ttl: int = 60, options: bytes = b"") -> bytes:
    import struct

    header_len = 20 + len(options)
    header = struct.pack("!BBHHHBBHII", 0x40 | header_len // 4, 0, header_len + len(icmp), 0, 0, ttl, 1, 0,
                         source, ip("192.0.2.2")) + options  # fmt: skip
    return header + icmp


def _reply_to(probe: bytes) -> bytes:
    request = Echo.parse(probe)
    return Echo.reply(request.identifier, request.sequence, request.payload).build()


def test_batch_datagrams_matches_replies_in_one_pass() -> None:
    config = MultiConfig(identifier=7, cookie=COOKIE, rate_pps=1e9, retries=0, reply_events=False,
                         timeout_events=False)  # fmt: skip
    addresses = [ip("198.18.0.1") + k for k in range(6)]
    session = MultiSession(config, [(a, None) for a in addresses], 0, RULES)
    stride = len(session.template)
    buf = bytearray(stride * 6)
    session.fill(0, 6, buf, 0, stride, [])
    session.commit(1_000)
    probes = [bytes(buf[k * stride : (k + 1) * stride]) for k in range(6)]
    damaged = bytearray(_reply_to(probes[1]))
    damaged[-1] ^= 0xFF
    other_run = bytearray(_reply_to(probes[3]))
    other_run[9] ^= 0x01  # another cookie: not ours (and its checksum no longer matters)
    datagrams = [
        _datagram(_reply_to(probes[0]), addresses[0]),
        _datagram(bytes(damaged), addresses[1]),  # corrupted in flight
        _datagram(_reply_to(probes[2]), addresses[2], options=b"\x01\x01\x01\x00"),  # IP options
        _datagram(bytes(other_run), addresses[3]),
        _datagram(_reply_to(probes[4]), addresses[5]),  # from the wrong host
        _datagram(_reply_to(probes[5]), addresses[5]),
        _datagram(_reply_to(probes[5]), addresses[5]),  # a duplicate
    ]
    size = 192
    data = bytearray(size * len(datagrams))
    for k, datagram in enumerate(datagrams):
        data[k * size : k * size + len(datagram)] = datagram
    on_datagrams(session, memoryview(data), len(datagrams), size, [1_000 + 7 * MS] * len(datagrams))
    session.stop(0)
    done = {format_address(e.address): e for e in session.drain_events() if isinstance(e, TargetDone)}
    alive = sorted(name for name, e in done.items() if e.alive)
    assert alive == ["198.18.0.1", "198.18.0.3", "198.18.0.6"]
    assert done["198.18.0.1"].rtt_min_ns == 7 * MS
    assert done["198.18.0.2"].corrupted == 1
    assert done["198.18.0.6"].duplicates == 1
    totals = session.totals
    assert (totals.received, totals.corrupted, totals.duplicates, totals.foreign) == (3, 1, 1, 2)


@pytest.mark.parametrize("silent", [(), ("198.18.0.3",), ("198.18.0.1", "198.18.0.16")])
def test_done_runs_are_the_same_targets_as_columns(silent: tuple[str, ...]) -> None:
    """``done_runs`` changes how finished targets are reported, never what is reported."""

    def plan(dst: str, n: int) -> Action:
        if dst == "198.18.0.5":
            return Reply(copies=2)  # a duplicate: rare, so a TargetDone of its own
        return Drop() if dst in silent else Reply()

    items = list(targets("198.18.0.0/27"))
    one_each = run(plan, items, retries=0)
    as_runs = run(plan, items, retries=0, done_runs=True)
    runs = [e for e in as_runs.events if isinstance(e, TargetsDone)]
    assert runs and not [e for e in one_each.events if isinstance(e, TargetsDone)]
    assert list(expand_runs(as_runs.events)) == one_each.events
    assert [d.target for d in expand_runs(as_runs.events) if isinstance(d, TargetDone)] == list(range(30))
    assert as_runs.session.totals == one_each.session.totals


def test_targets_done_builds_what_the_session_would() -> None:
    run_of_two = TargetsDone(7, [ip("198.18.0.1"), ip("198.18.0.2")], [None, "two"], [1, 2], [1, 0], [5, 0],
                             [6, 0], [11, 0])  # fmt: skip
    assert len(run_of_two) == 2
    assert list(run_of_two.targets()) == [
        TargetDone(7, ip("198.18.0.1"), None, 1, 1, 0, 0, 0, 5, 6, 11),
        TargetDone(8, ip("198.18.0.2"), "two", 2, 0, 0, 0, 0, 0, 0, 0),
    ]


def test_batch_datagrams_with_a_link_header_and_reply_events() -> None:
    config = MultiConfig(identifier=7, cookie=COOKIE, rate_pps=1e9, retries=0)
    session = MultiSession(config, targets("198.18.0.1"), 0, RULES)
    buf = bytearray(len(session.template))
    session.fill(0, 1, buf, 0, len(buf), [])
    session.commit(0)
    frame = bytes(14) + _datagram(_reply_to(bytes(buf)), ip("198.18.0.1"))
    data = bytearray(256 + 64)
    data[: len(frame)] = frame
    on_datagrams(session, data, 1, 256, [3 * MS], link=14)
    events = session.drain_events()
    assert [type(e) for e in events] == [TargetReply, TargetDone]
    assert isinstance(events[0], TargetReply) and events[0].rtt_ns == 3 * MS and events[0].ttl == 60
