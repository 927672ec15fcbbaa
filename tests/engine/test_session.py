"""The sans-IO session on a fake clock, against scripted transports. Deterministic, never sleeps.

``simulate`` plays the Runner's loop (send what is due, expire, wait, drain) but jumps the fake
clock to the next deadline or the next scripted arrival instead of sleeping, so every time below
is exact. Reference behaviour is iputils ``ping_common.c`` (pinger, schedule_exit, main_loop,
gather_statistics, finish).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, TypeVar

import pytest

from layerping.engine.session import (
    ErrorEvent,
    Event,
    LocalErrorEvent,
    ProbeEvent,
    ReplyEvent,
    Session,
    SessionConfig,
    TimeoutEvent,
    build_payload,
)
from layerping.inet.v4 import RULES
from layerping.transport.base import SendFailed
from layerping.wire.icmpv4 import (
    DestinationUnreachable,
    Echo,
    IcmpType,
    TimeExceeded,
    icmp_checksum_ok,
    parse_icmpv4,
)
from layerping.wire.ipv4 import Ipv4Packet
from tests.support.fake import (
    DEFAULT_KERNEL_IDENTIFIER,
    Actions,
    Drop,
    FakeClock,
    IcmpError,
    Refuse,
    Reply,
    Script,
    ScriptedTransport,
    corrupt,
    duplicate,
    late,
    redirect,
    reorder,
    source_quench,
    time_exceeded,
    unreachable,
)

DST = IPv4Address("198.51.100.2")
ROUTER = IPv4Address("192.0.2.1")
GATEWAY = IPv4Address("192.0.2.254")
OTHER_DST = IPv4Address("203.0.113.9")
IDENT = 0x1234
COOKIE = bytes.fromhex("c0ffee0123456789")
MS = 1_000_000
S = 1_000_000_000
US = 1_000
ANSWER = Reply()
DEFAULT_RTT = ANSWER.rtt_ns

E = TypeVar("E")


def config(**overrides: Any) -> SessionConfig:
    fields: dict[str, Any] = {"identifier": IDENT, "cookie": COOKIE, "count": 3}
    fields.update(overrides)
    return SessionConfig(**fields)


@dataclass
class Sim:
    session: Session
    transport: ScriptedTransport
    clock: FakeClock
    start_ns: int
    events: list[Event] = field(default_factory=list)
    finished_at_ns: int = -1  # when the loop ended, relative to the start

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def replies(self) -> list[ReplyEvent]:
        return self.of(ReplyEvent)

    @property
    def send_times_ns(self) -> list[int]:
        """When each probe left, relative to the start (CLOCK_MONOTONIC)."""
        return [p.monotonic_ns - self.start_ns for p in self.transport.sent]


def simulate(
    script: Script | None = None,
    *,
    default: Actions = ANSWER,
    kernel_owns_id: bool = False,
    send_cost_ns: int = 0,
    late_wakeup_ns: int = 0,
    stop_at_ns: int | None = None,
    max_iterations: int = 100_000,
    on_event: Callable[[Sim, Event], None] | None = None,
    **cfg: Any,
) -> Sim:
    """Run a session to its end the way ``Runner._loop`` does, on a fake clock.

    ``late_wakeup_ns``: the loop oversleeps every deadline by that much (a busy machine).
    ``stop_at_ns``: Ctrl-C at that time after the start.
    """
    clock = FakeClock()
    transport = ScriptedTransport(
        script, default=default, clock=clock, kernel_owns_id=kernel_owns_id, send_cost_ns=send_cost_ns
    )
    cfg.setdefault("kernel_owns_id", kernel_owns_id)
    start = clock()
    sim = Sim(Session(config(**cfg), DST, start, RULES), transport, clock, start)
    session = sim.session
    stop_at = None if stop_at_ns is None else start + stop_at_ns

    def emit(event: Event | None) -> None:
        if event is not None:
            sim.events.append(event)
            if on_event is not None:
                on_event(sim, event)

    for _ in range(max_iterations):
        now = clock()
        if stop_at is not None and now >= stop_at:
            session.stop(now)
            break
        while (probe := session.due(now)) is not None:
            try:
                tx_ns = transport.send(probe.icmp, DST)
            except SendFailed as exc:
                emit(session.on_send_failed(probe, exc.text))
            else:
                emit(session.on_sent(probe, tx_ns, now))
            now = clock()
        for expired in session.expire(now):
            emit(expired)
        if session.done:
            break
        deadline = session.next_deadline()
        wake = None if deadline is None else deadline + late_wakeup_ns
        candidates = [t for t in (wake, transport.next_arrival_ns(), stop_at) if t is not None]
        assert candidates, "the runner would block forever"
        clock.advance_to(min(candidates))
        while (inbound := transport.recv()) is not None:
            emit(session.on_inbound(inbound, clock()))
    else:
        pytest.fail("the session never finished")
    sim.finished_at_ns = clock() - start
    session.finish(clock())
    return sim


def iputils_rtt_us(rtts_us: list[int]) -> tuple[int, int, int, int]:
    """min/avg/max/mdev in µs exactly as iputils finish() computes them (integer µs)."""
    total = len(rtts_us)
    tsum = sum(rtts_us)
    tsum2 = sum(r * r for r in rtts_us)
    tmavg = tsum // total
    tmvar = (tsum2 - (tsum * tsum) // total) // total
    return min(rtts_us), tmavg, max(rtts_us), int(math.sqrt(abs(tmvar)))


def stats_us(session: Session) -> tuple[int, int, int, int]:
    st = session.stats
    return (
        st.rtt_min_ns // US,
        int(st.rtt_avg_ns // US),
        st.rtt_max_ns // US,
        int(st.rtt_mdev_ns // US),
    )


# --- the fake transport itself ----------------------------------------------------------------


def test_fake_reply_is_built_from_the_request() -> None:
    sim = simulate({1: Reply(rtt_ns=5 * MS, ttl=61)}, count=1, payload_size=56)
    (probe,) = sim.transport.sent
    (inbound,) = sim.transport.delivered
    request = Echo.parse(probe.icmp, verify=True)
    reply = Echo.parse(inbound.icmp, verify=True)
    assert (reply.type, reply.identifier, reply.sequence) == (IcmpType.ECHO_REPLY, IDENT, 1)
    assert reply.payload == request.payload == build_payload(COOKIE, 56, b"")
    assert inbound.rx_ns - probe.tx_ns == 5 * MS
    assert (inbound.src, inbound.dst, inbound.ttl) == (DST, sim.transport.source, 61)
    packet = Ipv4Packet.parse(inbound.raw, verify=True)
    assert packet.payload == inbound.icmp and packet.header.ttl == 61


def test_fake_error_quotes_the_probe_header_and_first_8_bytes() -> None:
    sim = simulate({1: time_exceeded(ROUTER)}, count=1, timeout_ns=S)
    (probe,) = sim.transport.sent
    (inbound,) = sim.transport.delivered
    message = parse_icmpv4(inbound.icmp, verify=True)
    assert isinstance(message, TimeExceeded)
    assert message.quoted.source == sim.transport.source
    assert message.quoted.destination == DST
    assert message.quoted.protocol == 1 and message.quoted.ttl == 1
    assert message.quoted.total_length == 20 + len(probe.icmp)
    assert message.quoted_payload == probe.icmp[:8]
    assert inbound.src == ROUTER


def test_fake_corrupt_reply_has_a_bad_checksum_only() -> None:
    sim = simulate({1: corrupt()}, count=1, timeout_ns=S)
    (inbound,) = sim.transport.delivered
    assert not icmp_checksum_ok(inbound.icmp)
    good = Echo.parse(inbound.icmp)
    assert Echo.reply(good.identifier, good.sequence, good.payload).build()[4:] == inbound.icmp[4:]


def test_fake_refuse_raises_send_failed() -> None:
    clock = FakeClock()
    transport = ScriptedTransport({1: Refuse()}, clock=clock)
    with pytest.raises(SendFailed) as info:
        transport.send(Echo.request(IDENT, 1, COOKIE).build(), DST)
    assert info.value.text == "sendmsg: Network is unreachable"
    assert transport.sent[0].refused and transport.next_arrival_ns() is None
    transport.close()


# --- replies, loss, duplicates, reordering -----------------------------------------------------


def test_all_answered() -> None:
    sim = simulate({1: Reply(1 * MS), 2: Reply(2 * MS), 3: Reply(3 * MS)})
    st = sim.session.stats
    assert [r.seq for r in sim.replies] == [1, 2, 3]
    assert [r.rtt_ns for r in sim.replies] == [1 * MS, 2 * MS, 3 * MS]
    assert (st.transmitted, st.received, st.duplicates, st.corrupted, st.errors) == (3, 3, 0, 0, 0)
    assert st.loss_percent == 0.0
    assert sim.send_times_ns == [0, S, 2 * S]
    # -c: done as soon as every probe is answered (iputils: nreceived + nerrors >= npackets).
    assert sim.finished_at_ns == 2 * S + 3 * MS
    assert sim.session.exit_code() == 0


def test_loss() -> None:
    sim = simulate({2: Drop(), 4: Drop()}, count=4, timeout_ns=S)
    st = sim.session.stats
    assert [r.seq for r in sim.replies] == [1, 3]
    assert [t.seq for t in sim.of(TimeoutEvent)] == [2, 4]
    assert (st.transmitted, st.received) == (4, 2)
    assert st.loss_percent == 50.0
    assert sim.session.exit_code() == 0


def test_nothing_answered_exits_1() -> None:
    sim = simulate(default=Drop(), timeout_ns=S)
    assert sim.session.stats.received == 0
    assert sim.session.stats.loss_percent == 100.0
    assert sim.session.exit_code() == 1


def test_duplicates_counted_apart_and_timed_like_iputils() -> None:
    # seq 2 arrives three times: 2 ms, then 4 ms and 6 ms after its probe.
    sim = simulate({1: Reply(1 * MS), 2: duplicate(3, 2 * MS, copy_gap_ns=2 * MS), 3: Reply(3 * MS)})
    st = sim.session.stats
    assert [(r.seq, r.duplicate) for r in sim.replies] == [
        (1, False),
        (2, False),
        (2, True),
        (2, True),
        (3, False),
    ]
    assert (st.received, st.duplicates) == (3, 2)
    assert st.loss_percent == 0.0  # duplicates never reduce loss
    # iputils adds a duplicate's RTT to tsum/tsum2/min/max and divides by nreceived + nrepeats.
    assert st.timed == 5
    assert stats_us(sim.session) == iputils_rtt_us([1000, 2000, 4000, 6000, 3000])
    assert (st.rtt_min_ns, st.rtt_max_ns) == (1 * MS, 6 * MS)


def test_reordered_replies_match_their_own_probe() -> None:
    # seq 1's reply is held back until seq 2's (10 ms after probe 2) has arrived.
    sim = simulate({1: reorder(after_seq=2), 2: Reply(10 * MS)}, count=2)
    assert [(r.seq, r.duplicate) for r in sim.replies] == [(2, False), (1, False)]
    rtts = {r.seq: r.rtt_ns for r in sim.replies}
    assert rtts == {2: 10 * MS, 1: S + 10 * MS}
    assert sim.session.stats.received == 2


def test_late_reply_after_W_is_reported_not_counted() -> None:
    sim = simulate({2: late(timeout_ns=S, by_ns=5 * MS)}, count=4, timeout_ns=S)
    st = sim.session.stats
    kinds = [(type(e).__name__, getattr(e, "seq", None)) for e in sim.events if not isinstance(e, ProbeEvent)]
    assert ("TimeoutEvent", 2) in kinds
    assert kinds.index(("TimeoutEvent", 2)) < kinds.index(("ReplyEvent", 2))
    (late_reply,) = [r for r in sim.replies if r.seq == 2]
    assert late_reply.late and not late_reply.duplicate
    assert (st.received, st.duplicates, st.timed) == (3, 0, 3)
    assert st.rtt_max_ns == DEFAULT_RTT
    assert st.transmitted == 4 and st.loss_percent == 25.0


def test_reply_after_W_is_late_whatever_the_call_order() -> None:
    # The Runner drains the socket after select() and calls expire() only on the next turn, so a
    # reply read in the same wakeup as the timeout reaches on_inbound() before expire().
    clock = FakeClock()
    transport = ScriptedTransport({1: late(timeout_ns=S, by_ns=MS)}, clock=clock)
    session = Session(config(count=1, timeout_ns=S), DST, clock(), RULES)
    probe = session.due(clock())
    assert probe is not None
    session.on_sent(probe, transport.send(probe.icmp, DST), clock())
    clock.advance(S + MS)
    inbound = transport.recv()
    assert inbound is not None
    event = session.on_inbound(inbound, clock())
    assert isinstance(event, ReplyEvent)
    assert event.late
    assert session.stats.received == 0


def test_bad_checksum_is_corrupted_never_received() -> None:
    sim = simulate({2: corrupt()}, count=3, timeout_ns=S)
    st = sim.session.stats
    (bad,) = [r for r in sim.replies if r.corrupted]
    assert bad.seq == 2 and not bad.duplicate
    assert (st.received, st.corrupted, st.duplicates, st.timed) == (2, 1, 0, 2)
    assert [t.seq for t in sim.of(TimeoutEvent)] == [2]  # still unanswered
    assert math.isclose(st.loss_percent, 100 / 3)


def test_corrupted_copy_after_a_good_reply_is_not_a_duplicate() -> None:
    sim = simulate({1: (Reply(MS), Reply(2 * MS, corrupt=True))}, count=2)
    st = sim.session.stats
    assert (st.received, st.duplicates, st.corrupted) == (2, 0, 1)


def test_wall_clock_stepping_back_never_gives_a_negative_rtt() -> None:
    def step_back(sim: Sim, event: Event) -> None:
        if isinstance(event, ProbeEvent):
            sim.clock.step_realtime(-S)

    sim = simulate(count=1, on_event=step_back)
    (reply,) = sim.replies
    assert reply.rtt_ns == 0


# --- who a message belongs to ------------------------------------------------------------------


def test_icmp_errors_matched_through_the_quoted_header() -> None:
    sim = simulate(
        {
            1: unreachable(ROUTER, code=0),
            2: unreachable(ROUTER, code=1),
            3: time_exceeded(ROUTER),
        },
        count=3,
        timeout_ns=S,
    )
    errors = sim.of(ErrorEvent)
    assert [(e.seq, e.src, e.icmp_type, e.icmp_code) for e in errors] == [
        (1, ROUTER, 3, 0),
        (2, ROUTER, 3, 1),
        (3, ROUTER, 11, 0),
    ]
    assert isinstance(errors[0].message, DestinationUnreachable)
    st = sim.session.stats
    assert (st.transmitted, st.received, st.errors) == (3, 0, 3)
    assert sim.of(TimeoutEvent) == []  # an errored probe is settled, not timed out
    assert sim.session.exit_code() == 1
    # Every probe is settled by its error: no need to linger for -W.
    assert sim.finished_at_ns == 2 * S + DEFAULT_RTT


def test_icmp_errors_about_other_datagrams_are_ignored() -> None:
    sim = simulate(
        {
            1: IcmpError(3, 1, ROUTER, quote_identifier=IDENT ^ 0x8000),
            2: IcmpError(3, 1, ROUTER, quote_destination=OTHER_DST),
            3: (IcmpError(11, 0, ROUTER, quote_identifier=IDENT + 1), Reply(MS)),
        },
        count=3,
        timeout_ns=S,
    )
    assert sim.of(ErrorEvent) == []
    st = sim.session.stats
    assert (st.errors, st.received) == (0, 1)
    assert [t.seq for t in sim.of(TimeoutEvent)] == [1, 2]


def test_redirect_is_reported_but_not_an_error() -> None:
    sim = simulate({1: (redirect(ROUTER, GATEWAY), Reply(2 * MS))}, count=1)
    (err,) = sim.of(ErrorEvent)
    assert (err.seq, err.icmp_type, err.icmp_code) == (1, 5, 1)
    st = sim.session.stats
    assert (st.errors, st.received) == (0, 1)


def test_source_quench_is_reported_but_not_an_error() -> None:
    # iputils ping4_parse_reply: error_pkt excludes ICMP_SOURCE_QUENCH as it does ICMP_REDIRECT.
    sim = simulate({1: (source_quench(ROUTER), Reply(2 * MS))}, count=1)
    (err,) = sim.of(ErrorEvent)
    assert (err.seq, err.icmp_type, err.icmp_code) == (1, 4, 0)
    st = sim.session.stats
    assert (st.errors, st.received) == (0, 1)


def test_foreign_identifier_and_cookie_are_ignored() -> None:
    sim = simulate(
        {
            1: (Reply(MS, foreign_identifier=True), Reply(2 * MS)),
            2: Reply(MS, foreign_cookie=True),
            3: Reply(MS, identifier=0),
        },
        count=3,
        timeout_ns=S,
    )
    assert [(r.seq, r.rtt_ns) for r in sim.replies] == [(1, 2 * MS)]
    assert [t.seq for t in sim.of(TimeoutEvent)] == [2, 3]
    assert sim.session.stats.duplicates == 0


def test_echo_requests_and_unknown_types_are_ignored() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(clock=clock)
    session = Session(config(count=1), DST, clock(), RULES)
    probe = session.due(clock())
    assert probe is not None
    session.on_sent(probe, transport.send(probe.icmp, DST), clock())
    transport.inject(probe.icmp, OTHER_DST)  # someone pings us with identical bytes
    transport.inject(bytes([13, 0, 0, 0, 0, 0, 0, 0]), OTHER_DST)  # a timestamp request
    transport.inject(b"\x00\x00", OTHER_DST)  # shorter than any ICMP header
    events = [session.on_inbound(i, clock()) for i in iter(transport.recv, None)]
    assert events == [None, None, None]
    clock.advance(DEFAULT_RTT)
    reply = transport.recv()
    assert reply is not None
    assert isinstance(session.on_inbound(reply, clock()), ReplyEvent)


def test_kernel_owned_identifier_matches_on_seq_and_cookie() -> None:
    # An ICMP datagram socket rewrites our identifier: replies carry the kernel's.
    sim = simulate(
        {2: Reply(MS, foreign_cookie=True), 3: unreachable(ROUTER)},
        kernel_owns_id=True,
        count=3,
        timeout_ns=S,
    )
    assert {p.identifier for p in sim.transport.sent} == {DEFAULT_KERNEL_IDENTIFIER}
    assert [r.seq for r in sim.replies] == [1]
    assert [e.seq for e in sim.of(ErrorEvent)] == [3]
    assert [t.seq for t in sim.of(TimeoutEvent)] == [2]


def test_without_kernel_owns_id_the_rewritten_identifier_is_not_ours() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(clock=clock, kernel_owns_id=True)
    session = Session(config(count=1, kernel_owns_id=False), DST, clock(), RULES)
    probe = session.due(clock())
    assert probe is not None
    session.on_sent(probe, transport.send(probe.icmp, DST), clock())
    clock.advance(S)
    inbound = transport.recv()
    assert inbound is not None
    assert session.on_inbound(inbound, clock()) is None


# --- sequence numbers -------------------------------------------------------------------------


def test_sequence_numbers_start_at_1_and_wrap_to_0() -> None:
    # More than 65536 probes, interval 0, driven by hand: drain after every send.
    total = (1 << 16) + 4
    newest_of_seq_3 = (1 << 16) + 2

    def script(seq: int, index: int) -> Actions:
        if index in (0, 65534, 65535, 1 << 16):
            return Reply(rtt_ns=0)
        if index == 2:  # answered so late that seq 3 was reused in the meantime
            return Reply(rtt_ns=(newest_of_seq_3 - 2) * US + 500)
        return Drop()

    clock = FakeClock()
    transport = ScriptedTransport(script, clock=clock, send_cost_ns=US)
    session = Session(config(count=total, interval_ns=0), DST, clock(), RULES)
    replies: list[ReplyEvent] = []
    for _ in range(total):
        now = clock()
        probe = session.due(now)
        assert probe is not None
        session.on_sent(probe, transport.send(probe.icmp, DST), now)
        for inbound in iter(transport.recv, None):
            event = session.on_inbound(inbound, clock())
            assert isinstance(event, ReplyEvent)
            replies.append(event)
    assert session.due(clock()) is None
    seqs = [p.seq for p in transport.sent]
    assert seqs[:2] == [1, 2]
    assert seqs[65533:65538] == [65534, 65535, 0, 1, 2]
    # index 0 (seq 1), 65534 (seq 65535), 65535 (seq 0), 65536 (seq 1 again, not a DUP),
    # then the old probe's reply for seq 3 lands after seq 3 was reused: it is the newest's.
    assert [(r.seq, r.duplicate) for r in replies] == [
        (1, False),
        (65535, False),
        (0, False),
        (1, False),
        (3, False),
    ]
    assert replies[-1].rtt_ns == 500
    st = session.stats
    assert (st.transmitted, st.received, st.duplicates) == (total, 5, 0)


# --- scheduling ---------------------------------------------------------------------------------


def test_no_drift_when_the_runner_is_late() -> None:
    # Every wakeup comes 300 ms late and every send costs 2 ms: due times still count from start.
    sim = simulate(count=5, late_wakeup_ns=300 * MS, send_cost_ns=2 * MS)
    assert sim.send_times_ns == [0, S + 300 * MS, 2 * S + 300 * MS, 3 * S + 300 * MS, 4 * S + 300 * MS]


def test_due_times_are_multiples_of_the_interval() -> None:
    sim = simulate(count=4, interval_ns=250 * MS, send_cost_ns=7 * MS)
    assert sim.send_times_ns == [0, 250 * MS, 500 * MS, 750 * MS]


def test_a_stalled_runner_does_not_burst() -> None:
    clock = FakeClock()
    session = Session(config(count=None), DST, clock(), RULES)
    first = session.due(clock())
    assert first is not None
    session.on_sent(first, clock.realtime_ns(), clock())
    clock.advance(5 * S + 500 * MS)  # e.g. the laptop was suspended
    burst = list(iter(lambda: session.due(clock()), None))
    assert len(burst) == 1


def test_preload_sends_at_once_then_paces() -> None:
    sim = simulate(count=5, preload=3, default=Reply(5 * MS))
    assert sim.send_times_ns == [0, 0, 0, S, 2 * S]
    assert [p.seq for p in sim.transport.sent] == [1, 2, 3, 4, 5]


def test_flood_sends_next_when_newest_answered_or_after_10ms() -> None:
    sim = simulate(
        {1: Reply(2 * MS), 2: Reply(15 * MS), 3: Reply(MS)},
        flood=True,
        interval_ns=0,
        count=4,
    )
    # 1 answered after 2 ms: 2 goes at once. 2 unanswered: 3 goes 10 ms later. 3 is answered at
    # 13 ms: nothing after the newest answer is in flight, so 4 goes at once (iputils counts
    # only probes after the newest answer), though 2 waits until 17 ms.
    assert sim.send_times_ns == [0, 2 * MS, 12 * MS, 13 * MS]
    assert sim.session.stats.received == 4


def test_flood_in_flight_counts_only_probes_after_the_newest_answer() -> None:
    # iputils in_flight() = ntransmitted - acked, acked = newest answered seq: once 3 is answered
    # the lost 2 no longer holds the flood back.
    sim = simulate({2: Drop(), 3: Reply(MS)}, default=Reply(MS), flood=True, interval_ns=0, count=4)
    assert sim.send_times_ns == [0, MS, 11 * MS, 12 * MS]


# --- ending: count, deadline, linger, stop ----------------------------------------------------


def test_deadline_with_count_counts_replies() -> None:
    # -w 5 -c 3: seq 1 is lost, so a fourth probe is needed for three replies.
    sim = simulate({1: Drop()}, count=3, deadline_ns=5 * S)
    st = sim.session.stats
    assert (st.transmitted, st.received) == (4, 3)
    assert sim.finished_at_ns <= 5 * S
    assert sim.session.exit_code() == 0


def test_count_of_replies_reached_ends_at_once() -> None:
    # iputils main_loop: "if (npackets && nreceived + nerrors >= npackets) break;" -- the third
    # reply ends the run; the lost seq 1 is not waited for.
    sim = simulate({1: Drop()}, count=3, deadline_ns=5 * S)
    assert sim.finished_at_ns == 3 * S + DEFAULT_RTT


def test_deadline_with_count_not_reached_exits_1() -> None:
    sim = simulate(count=5, deadline_ns=3 * S + 500 * MS)
    st = sim.session.stats
    assert (st.transmitted, st.received) == (4, 4)
    assert sim.finished_at_ns == 3 * S + 500 * MS
    assert sim.session.exit_code() == 1


def test_deadline_alone_ends_on_time() -> None:
    sim = simulate(default=Drop(), count=None, deadline_ns=2 * S + 500 * MS)
    assert sim.finished_at_ns == 2 * S + 500 * MS
    assert sim.session.stats.transmitted == 3
    assert sim.session.exit_code() == 1


def test_no_probe_is_sent_at_the_deadline() -> None:
    # -w 3 -i 1 on a perfect link: three probes, no loss (iputils: 3 transmitted, 0% loss).
    sim = simulate(count=None, deadline_ns=3 * S)
    st = sim.session.stats
    assert (st.transmitted, st.received) == (3, 3)
    assert st.loss_percent == 0.0


def test_deadline_run_ends_at_the_first_error() -> None:
    # ping(8) -w: waits "until count probes are answered or for some error notification".
    sim = simulate(default=unreachable(ROUTER), count=3, deadline_ns=10 * S)
    assert sim.session.stats.transmitted == 1
    assert sim.finished_at_ns == DEFAULT_RTT
    assert sim.session.exit_code() == 1


def test_linger_is_W_when_given() -> None:
    sim = simulate(default=Drop(), count=3, timeout_ns=2 * S)
    assert sim.finished_at_ns == 2 * S + 2 * S


def test_linger_is_twice_max_rtt_when_replies_came() -> None:
    sim = simulate({1: Reply(800 * MS), 3: Drop()}, count=3)
    assert sim.finished_at_ns == 2 * S + 1600 * MS


def test_linger_is_at_least_the_interval() -> None:
    sim = simulate({1: Reply(100 * MS), 3: Drop()}, count=3)
    assert sim.finished_at_ns == 2 * S + 1 * S


def test_linger_is_10_s_without_any_reply() -> None:
    sim = simulate(default=Drop(), count=3)
    assert sim.finished_at_ns == 2 * S + 10 * S
    assert sim.session.exit_code() == 1


def test_elapsed_is_the_time_of_the_last_probe() -> None:
    # iputils finish(): time = cur_time - start_time, and only pinger() sets cur_time, at each
    # send: "3 packets transmitted, 3 received, 0% packet loss, time 2003ms" whatever the RTT.
    sim = simulate(default=Reply(50 * MS), count=3)
    assert sim.finished_at_ns == 2 * S + 50 * MS
    assert sim.session.elapsed_ns == 2 * S


def test_stop_ends_now() -> None:
    sim = simulate(count=None, stop_at_ns=2 * S + 500 * MS)
    st = sim.session.stats
    assert sim.session.done
    assert sim.finished_at_ns == 2 * S + 500 * MS
    assert (st.transmitted, st.received) == (3, 3)
    assert sim.session.due(sim.clock() + 10 * S) is None
    assert sim.session.next_deadline() is None
    assert sim.session.exit_code() == 0


def test_stop_before_any_reply_exits_1() -> None:
    sim = simulate(default=Drop(), count=None, stop_at_ns=1500 * MS)
    assert sim.session.stats.transmitted == 2
    assert sim.session.exit_code() == 1


def test_refused_send_is_an_error_and_a_loss() -> None:
    sim = simulate({2: Refuse()}, count=3)
    (local,) = sim.of(LocalErrorEvent)
    assert (local.seq, local.text) == (2, "sendmsg: Network is unreachable")
    st = sim.session.stats
    assert (st.transmitted, st.received, st.errors) == (3, 2, 1)
    assert math.isclose(st.loss_percent, 100 / 3)
    assert sim.session.exit_code() == 0


# --- statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rtts_us",
    [
        [1000, 2000, 3000],
        [123, 124, 2500, 99],
        [10, 20, 30, 40, 50, 60, 70],
        [48213, 51077, 49990, 50002],
    ],
)
def test_min_avg_max_mdev_as_iputils(rtts_us: list[int]) -> None:
    script = {i + 1: Reply(r * US) for i, r in enumerate(rtts_us)}
    sim = simulate(script, count=len(rtts_us))
    assert stats_us(sim.session) == iputils_rtt_us(rtts_us)


def test_mdev_over_received_and_duplicates() -> None:
    sim = simulate({1: Reply(MS), 2: (Reply(2 * MS), Reply(6 * MS)), 3: Reply(3 * MS)})
    st = sim.session.stats
    # sum = 12 ms over 4 samples, sum2/n - avg^2 = 12.5 - 9 = 3.5 ms^2.
    assert st.rtt_avg_ns == 3 * MS
    assert math.isclose(st.rtt_mdev_ns, math.sqrt(3.5) * MS)
    assert stats_us(sim.session) == (1000, 3000, 6000, 1870)


def test_ewma_follows_iputils() -> None:
    rtts_us = [1000, 3000, 2000]
    sim = simulate({i + 1: Reply(r * US) for i, r in enumerate(rtts_us)})
    ewma_x8 = 0
    for r in rtts_us:
        ewma_x8 = r * 8 if not ewma_x8 else ewma_x8 + r - ewma_x8 // 8
    assert sim.session.stats.rtt_ewma_x8_ns == ewma_x8 * US
