"""The real Runner on the real clock with fake transports, and iputils-exact output lines.

Runner tests use short intervals and a watchdog, so each finishes in well under a second or
fails instead of hanging. The fake transports stamp ``rx_ns = tx_ns + rtt`` exactly, so even on
the real clock every ``time=`` printed is the scripted RTT. Output tests feed events from a
fake-clock session (``simulate``) into ``TextOutput`` and compare whole lines with what iputils
``ping`` prints (ping_common.c gather_statistics/finish, ping.c pr_icmph).
"""

from __future__ import annotations

import io
import itertools
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address

import pytest

from layerping.engine.runner import Runner
from layerping.engine.session import (
    ErrorEvent,
    Event,
    LocalErrorEvent,
    ReplyEvent,
    Session,
    TimeoutEvent,
    build_payload,
)
from layerping.engine.stats import Statistics
from layerping.inet.v4 import RULES
from layerping.output.text import TextOptions, TextOutput, format_ms, rtt_line, summary_line
from layerping.transport.base import Transport
from layerping.wire import pcap
from layerping.wire.ethernet import EthernetFrame, EtherType
from layerping.wire.icmpv4 import Echo
from layerping.wire.ipv4 import IPPROTO_ICMP, Ipv4Header, Ipv4Packet
from tests.engine.test_session import (
    COOKIE,
    DST,
    GATEWAY,
    IDENT,
    MS,
    ROUTER,
    US,
    Sim,
    config,
    iputils_rtt_us,
    simulate,
)
from tests.support.fake import (
    Actions,
    Drop,
    PcapReplayTransport,
    Refuse,
    Reply,
    ScriptedTransport,
    corrupt,
    duplicate,
    redirect,
    time_exceeded,
    unreachable,
)

LOCAL = IPv4Address("192.0.2.100")
WATCHDOG_S = 5.0


@contextmanager
def watchdog(runner: Runner, transport: ScriptedTransport | None = None) -> Iterator[None]:
    """Stop the runner (and fail the test) if it is still running after WATCHDOG_S."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        runner.request_stop()
        if transport is not None:
            transport.wake()

    timer = threading.Timer(WATCHDOG_S, fire)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
    assert not fired.is_set(), "the runner did not finish on its own"


def run_real(transport: Transport, session: Session, sink: list[Event] | TextOutput) -> Runner:
    def collect(event: Event) -> None:
        if isinstance(sink, list):
            sink.append(event)
        else:
            sink(event)

    runner = Runner(transport, session, collect)
    with watchdog(runner, transport if isinstance(transport, ScriptedTransport) else None):
        runner.run(handle_signals=False)
    return runner


def text_output(session: Session, **options: bool) -> tuple[TextOutput, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return TextOutput(session, str(DST), TextOptions(**options), out, err), out, err


# --- the real Runner, the real clock ----------------------------------------------------------


def test_runner_drives_a_scripted_network() -> None:
    script: dict[int, Actions] = {
        2: Drop(),
        3: duplicate(2, rtt_ns=MS, copy_gap_ns=100 * US),
        4: corrupt(),
        5: unreachable(ROUTER, code=0),
        6: Reply(2 * MS),
    }
    with ScriptedTransport(script) as transport:
        cfg = config(count=6, interval_ns=20 * MS, timeout_ns=100 * MS)
        session = Session(cfg, DST, time.monotonic_ns(), RULES)
        events: list[Event] = []
        started = time.monotonic()
        run_real(transport, session, events)
        took_s = time.monotonic() - started
    st = session.stats
    assert (st.transmitted, st.received, st.duplicates, st.corrupted, st.errors) == (6, 3, 1, 1, 1)
    assert sorted(e.seq for e in events if isinstance(e, TimeoutEvent)) == [2, 4]
    assert [(e.seq, e.duplicate, e.corrupted) for e in events if isinstance(e, ReplyEvent)] == [
        (1, False, False),
        (3, False, False),
        (3, True, False),
        (4, False, True),
        (6, False, False),
    ]
    assert {e.seq: e.rtt_ns for e in events if isinstance(e, ReplyEvent) and not e.duplicate} == {
        1: 123 * US,
        3: MS,
        4: 123 * US,
        6: 2 * MS,
    }
    assert [e.seq for e in events if isinstance(e, ErrorEvent)] == [5]
    assert session.exit_code() == 0
    assert 0.1 <= took_s < 2.0  # 5 intervals, then seq 4 waits out its 100 ms -W


def test_runner_prints_iputils_lines_on_the_real_clock() -> None:
    script = {1: Reply(123 * US), 2: Reply(1230 * US), 3: Reply(12300 * US, ttl=57)}
    with ScriptedTransport(script) as transport:
        # 50 ms apart: the linger after the last probe is max(2 * max RTT, interval) (iputils).
        session = Session(config(count=3, interval_ns=50 * MS), DST, time.monotonic_ns(), RULES)
        output, out, err = text_output(session)
        output.header(DST, 56, None, None)
        run_real(transport, session, output)
        output.summary()
    lines = out.getvalue().split("\n")
    assert lines[:4] == [
        "PING 198.51.100.2 (198.51.100.2) 56(84) bytes of data.",
        "64 bytes from 198.51.100.2: icmp_seq=1 ttl=63 time=0.123 ms",
        "64 bytes from 198.51.100.2: icmp_seq=2 ttl=63 time=1.23 ms",
        "64 bytes from 198.51.100.2: icmp_seq=3 ttl=57 time=12.3 ms",
    ]
    assert lines[4:6] == ["", "--- 198.51.100.2 ping statistics ---"]
    assert lines[6].startswith("3 packets transmitted, 3 received, 0% packet loss, time ")
    assert lines[7] == "rtt min/avg/max/mdev = 0.123/4.551/12.300/5.497 ms"
    assert iputils_rtt_us([123, 1230, 12300]) == (123, 4551, 12300, 5497)
    assert err.getvalue() == ""


def test_runner_stop_request_ends_with_a_summary() -> None:
    # What Ctrl-C does (SIGINT -> request_stop): here the sink asks after the third reply.
    with ScriptedTransport() as transport:
        session = Session(config(count=None, interval_ns=10 * MS), DST, time.monotonic_ns(), RULES)
        events: list[Event] = []
        runner = Runner(transport, session, events.append)

        def sink(event: Event) -> None:
            events.append(event)
            if isinstance(event, ReplyEvent) and event.seq == 3:
                runner.request_stop()

        runner.sink = sink
        with watchdog(runner, transport):
            runner.run(handle_signals=False)
    assert session.done
    st = session.stats
    assert (st.transmitted, st.received) == (3, 3)
    assert session.exit_code() == 0


def test_runner_flood() -> None:
    # RTT 5 ms: the linger after the last probe is 2 * max RTT, a margin for thread wakeups.
    with ScriptedTransport(default=Reply(5 * MS)) as transport:
        session = Session(config(count=50, interval_ns=0, flood=True), DST, time.monotonic_ns(), RULES)
        output, out, _ = text_output(session, flood=True)
        started = time.monotonic()
        run_real(transport, session, output)
        took_s = time.monotonic() - started
    assert session.stats.received == 50
    assert took_s < 2.0
    assert out.getvalue() == ".\b \b" * 50
    gaps_ns = sorted(b.monotonic_ns - a.monotonic_ns for a, b in itertools.pairwise(transport.sent))
    assert gaps_ns[0] >= 5 * MS  # never before the answer came...
    assert gaps_ns[len(gaps_ns) // 2] < 9 * MS  # ...but right after it, not 10 ms after the last probe


def test_runner_reads_what_is_queued_after_a_send_before_it_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply that is already queued when the send returns (the kernel ran the round trip inside
    the send call, as on a veth path) is read at once: no wait on the poller first. The transport
    here is never readable for epoll, so only that read can find the replies; and the run never
    waits on the poller (it would wait out the flood's 10 ms resend once per probe)."""
    real_epoll = select.epoll
    waits: list[float] = []

    class CountingEpoll:
        def __init__(self) -> None:
            self._epoll = real_epoll()

        def register(self, fd: int, mask: int) -> None:
            self._epoll.register(fd, mask)

        def poll(self, timeout: float = -1) -> list[tuple[int, int]]:
            if timeout != 0:
                waits.append(timeout)
            return self._epoll.poll(timeout)

        def close(self) -> None:
            self._epoll.close()

    monkeypatch.setattr(select, "epoll", CountingEpoll)

    class NeverReadable(ScriptedTransport):
        def __init__(self) -> None:
            super().__init__(default=Reply(0))
            self._silent_reader, self._silent_writer = os.pipe()

        def fileno(self) -> int:
            return self._silent_reader

        def close(self) -> None:
            super().close()
            os.close(self._silent_reader)
            os.close(self._silent_writer)

    with NeverReadable() as transport:
        session = Session(config(count=20, interval_ns=0, flood=True), DST, time.monotonic_ns(), RULES)
        events: list[Event] = []
        run_real(transport, session, events)
    assert session.stats.received == 20
    assert waits == []


def test_runner_deadline_without_replies() -> None:
    with ScriptedTransport(default=Drop()) as transport:
        session = Session(
            config(count=None, interval_ns=50 * MS, deadline_ns=150 * MS), DST, time.monotonic_ns(), RULES
        )
        started = time.monotonic()
        run_real(transport, session, [])
        took_s = time.monotonic() - started
    assert 0.15 <= took_s < 1.0
    assert session.stats.transmitted >= 3 and session.stats.received == 0
    assert session.exit_code() == 1


def test_runner_reports_a_refused_send_on_stderr() -> None:
    with ScriptedTransport({2: Refuse()}) as transport:
        session = Session(config(count=3, interval_ns=10 * MS), DST, time.monotonic_ns(), RULES)
        output, out, err = text_output(session)
        events: list[Event] = []

        def both(event: Event) -> None:
            events.append(event)
            output(event)

        runner = Runner(transport, session, both)
        with watchdog(runner, transport):
            runner.run(handle_signals=False)
    assert [e.seq for e in events if isinstance(e, LocalErrorEvent)] == [2]
    assert err.getvalue() == "layerping: sendmsg: Network is unreachable\n"
    assert "icmp_seq=2" not in out.getvalue()
    assert (session.stats.transmitted, session.stats.errors) == (3, 1)


# --- pcap replay ------------------------------------------------------------------------------


def _frame(src: IPv4Address, dst: IPv4Address, icmp: bytes, ttl: int = 64) -> bytes:
    header = Ipv4Header(
        tos=0,
        identification=0,
        flags=0,
        fragment_offset=0,
        ttl=ttl,
        protocol=IPPROTO_ICMP,
        source=src,
        destination=dst,
    )
    ip = Ipv4Packet(header, icmp).build()
    return EthernetFrame(b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02", EtherType.IPV4, ip).build()


def _capture() -> io.BytesIO:
    payload = build_payload(COOKIE, 56, b"")
    t0 = 1_700_000_000_000_000_000
    stream = io.BytesIO()
    writer = pcap.PcapWriter(stream, pcap.LINKTYPE_ETHERNET)
    arp = EthernetFrame(b"\xff" * 6, b"\x02\x00\x00\x00\x00\x02", EtherType.ARP, bytes(28)).build()
    writer.write(t0 - MS, arp)
    writer.write(t0, _frame(LOCAL, DST, Echo.request(IDENT, 1, payload).build()))
    writer.write(t0 + 1230 * US, _frame(DST, LOCAL, Echo.reply(IDENT, 1, payload).build(), ttl=59))
    # Another ping's reply on the same wire: not ours.
    writer.write(t0 + 1300 * US, _frame(DST, LOCAL, Echo.reply(IDENT ^ 0x8000, 1, payload).build()))
    t1 = t0 + 1_000_000_000
    writer.write(t1, _frame(LOCAL, DST, Echo.request(IDENT, 2, payload).build()))
    writer.write(t1 + 12300 * US, _frame(DST, LOCAL, Echo.reply(IDENT, 2, payload).build(), ttl=59))
    return io.BytesIO(stream.getvalue())


def test_pcap_replay_through_the_runner() -> None:
    with PcapReplayTransport(_capture(), local=LOCAL) as transport:
        assert transport.skipped == 1  # the ARP frame
        assert transport.remaining == 3
        session = Session(config(count=2, interval_ns=10 * MS), DST, time.monotonic_ns(), RULES)
        output, out, _ = text_output(session)
        runner = Runner(transport, session, output)
        with watchdog(runner):
            runner.run(handle_signals=False)
        assert transport.remaining == 0
    assert out.getvalue() == (
        "64 bytes from 198.51.100.2: icmp_seq=1 ttl=59 time=1.23 ms\n"
        "64 bytes from 198.51.100.2: icmp_seq=2 ttl=59 time=12.3 ms\n"
    )
    assert session.stats.received == 2


def test_pcap_replay_waits_for_the_probe() -> None:
    with PcapReplayTransport(_capture(), local=LOCAL) as transport:
        assert transport.recv() is None  # the reply to seq 1 comes after request 1 was sent
        transport.send(Echo.request(IDENT, 1, COOKIE).build(), DST)
        first = transport.recv()
        assert first is not None and first.ttl == 59 and first.src == DST
        assert Echo.parse(first.icmp).sequence == 1


# --- output lines -------------------------------------------------------------------------------


def transcript(sim: Sim, **options: bool) -> tuple[str, str]:
    output, out, err = text_output(sim.session, **options)
    for event in sim.events:
        output(event)
    output.summary()
    return out.getvalue(), err.getvalue()


def test_reply_dup_and_bad_checksum_lines_and_summary() -> None:
    sim = simulate(
        {1: Reply(MS), 2: duplicate(2, 2 * MS, copy_gap_ns=1 * US), 3: corrupt(3 * MS)}, timeout_ns=1_000 * MS
    )
    out, _ = transcript(sim)
    assert out == (
        "64 bytes from 198.51.100.2: icmp_seq=1 ttl=63 time=1.00 ms\n"
        "64 bytes from 198.51.100.2: icmp_seq=2 ttl=63 time=2.00 ms\n"
        "64 bytes from 198.51.100.2: icmp_seq=2 ttl=63 time=2.00 ms (DUP!)\n"
        "64 bytes from 198.51.100.2: icmp_seq=3 ttl=63 time=3.00 ms (BAD CHECKSUM!)\n"
        "\n"
        "--- 198.51.100.2 ping statistics ---\n"
        "3 packets transmitted, 2 received, +1 duplicates, +1 corrupted, 33.3333% packet loss, time 2000ms\n"
        "rtt min/avg/max/mdev = 1.000/1.667/2.001/0.471 ms\n"
    )
    assert iputils_rtt_us([1000, 2000, 2001]) == (1000, 1667, 2001, 471)


def test_icmp_error_lines_and_errors_in_summary() -> None:
    sim = simulate(
        {
            1: (redirect(ROUTER, GATEWAY), Reply(MS)),
            2: unreachable(ROUTER, code=0),
            3: unreachable(ROUTER, code=1),
            4: time_exceeded(ROUTER),
        },
        count=4,
    )
    out, _ = transcript(sim)
    assert out == (
        "From 192.0.2.1 icmp_seq=1 Redirect Host(New nexthop: 192.0.2.254)\n"
        "64 bytes from 198.51.100.2: icmp_seq=1 ttl=63 time=1.00 ms\n"
        "From 192.0.2.1 icmp_seq=2 Destination Net Unreachable\n"
        "From 192.0.2.1 icmp_seq=3 Destination Host Unreachable\n"
        "From 192.0.2.1 icmp_seq=4 Time to live exceeded\n"
        "\n"
        "--- 198.51.100.2 ping statistics ---\n"
        "4 packets transmitted, 1 received, +3 errors, 75% packet loss, time 3000ms\n"
        "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms\n"
    )


def test_nothing_received_has_no_rtt_line() -> None:
    sim = simulate(default=Drop(), count=2, timeout_ns=100 * MS)
    out, _ = transcript(sim)
    assert out.endswith(
        "--- 198.51.100.2 ping statistics ---\n"
        "2 packets transmitted, 0 received, 100% packet loss, time 1000ms\n"
    )


def test_late_reply_is_not_printed() -> None:
    sim = simulate({1: Reply(300 * MS)}, count=2, timeout_ns=200 * MS)
    out, _ = transcript(sim)
    assert "icmp_seq=1" not in out
    assert "icmp_seq=2 ttl=63" in out


def test_quiet_prints_only_the_summary() -> None:
    sim = simulate({1: unreachable(ROUTER)}, count=2)
    out, _ = transcript(sim, quiet=True)
    assert out.startswith(
        "\n--- 198.51.100.2 ping statistics ---\n2 packets transmitted, 1 received, +1 errors"
    )


def test_wrong_data_byte_index_as_iputils() -> None:
    payload = bytearray(build_payload(COOKIE, 56, b""))
    payload[20] = 0xFF
    sim = simulate({1: Reply(MS, payload=bytes(payload))}, count=1)
    out, _ = transcript(sim)
    # iputils: for (i = sizeof(struct timeval); i < datalen; ++i) ... "#%zu", i  -- data index.
    assert "\nwrong data byte #20 should be 0x14 but was 0xff\n" in out


@pytest.mark.parametrize(
    ("rtt_ns", "text"),
    [
        (123 * US, "0.123"),
        (1230 * US, "1.23"),
        (12300 * US, "12.3"),
        (123000 * US, "123"),
        (0, "0.000"),
        (123_999, "0.123"),  # sub-microsecond digits are cut, not rounded (iputils works in µs)
        (999 * US, "0.999"),
        (1000 * US, "1.00"),
        (1004 * US, "1.00"),
        (1005 * US, "1.01"),
        (9994 * US, "9.99"),
        (9995 * US, "10.0"),  # iputils: triptime >= 10000 - 5 takes one decimal
        (10049 * US, "10.0"),
        (10050 * US, "10.1"),
        (99949 * US, "99.9"),
        (99950 * US, "100"),  # triptime >= 100000 - 50: no decimals
        (1234567 * US, "1235"),
    ],
)
def test_format_ms_rounds_like_iputils(rtt_ns: int, text: str) -> None:
    assert format_ms(rtt_ns) == text


def _stats(
    transmitted: int, received: int, duplicates: int = 0, corrupted: int = 0, errors: int = 0
) -> Statistics:
    return Statistics(transmitted, received, duplicates, corrupted, errors)


@pytest.mark.parametrize(
    ("transmitted", "received", "loss"),
    [(3, 2, "33.3333"), (3, 1, "66.6667"), (7, 6, "14.2857"), (4, 0, "100"), (4, 4, "0"), (8, 7, "12.5")],
)
def test_summary_loss_is_printed_with_percent_g(transmitted: int, received: int, loss: str) -> None:
    line = summary_line(_stats(transmitted, received), 2_000_400_000)
    assert line == f"{transmitted} packets transmitted, {received} received, {loss}% packet loss, time 2000ms"


def test_summary_loss_is_single_precision_like_iputils() -> None:
    # finish(): printf(", %g%% packet loss", (float)(((long long)(ntransmitted - nreceived)) * 100.0
    # / ntransmitted)): float(74.193548...) = 74.19355011, so %g gives 74.1936, not 74.1935.
    assert "74.1936% packet loss" in summary_line(_stats(31, 8), 0)


def test_summary_time_rounds_to_the_nearest_ms() -> None:
    assert summary_line(_stats(1, 1), 1_499_999).endswith("time 1ms")
    assert summary_line(_stats(1, 1), 1_500_000).endswith("time 2ms")


def test_summary_counters_in_iputils_order() -> None:
    st = _stats(10, 5, duplicates=2, corrupted=1, errors=3)
    assert summary_line(st, 9_000_000_000) == (
        "10 packets transmitted, 5 received, +2 duplicates, +1 corrupted, +3 errors, "
        "50% packet loss, time 9000ms"
    )


def test_rtt_line_truncates_to_microseconds() -> None:
    st = Statistics(transmitted=2, received=2)
    st.add_rtt(1_234_999)
    st.add_rtt(2_345_999)
    assert rtt_line(st) == "rtt min/avg/max/mdev = 1.234/1.790/2.345/0.555 ms"
    assert rtt_line(Statistics(transmitted=2)) is None


def test_command_start_loads_no_heavy_module() -> None:
    """A one-shot ping's process never loads dataclasses, inspect or ast (see layerping/_entry.py).

    Every layer's start-up path is imported, as ``-c 1`` to 127.0.0.1 at each layer would."""
    out = _fresh_interpreter(
        "import sys; sys.argv = ['layerping', '-V']\n"
        "from layerping.cli import main\n"
        "rc = main()\n"
        "import layerping.api, layerping.engine.runner, layerping.output.text\n"
        "import layerping.transport.icmp_socket, layerping.transport.factory\n"
        "import layerping.transport.packet, layerping.discovery.plan, layerping.discovery.arp\n"
        "import layerping.many, layerping.multicli, layerping.engine.multi_runner\n"
        "heavy = sorted({'dataclasses', 'inspect', 'ast', 'dis', 'tokenize'} & sys.modules.keys())\n"
        "print(rc, heavy)\n"
    )
    assert out.splitlines()[-1] == "0 []"


def _fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new interpreter that imports layerping from this checkout."""
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src}
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_start_defines_no_enum_or_protocol_and_link_layers_leave_ring_and_ethernet_out() -> None:
    """The modules a one-shot ping imports at any layer define no Enum and no Protocol class
    (0.05 to 0.3 ms each to define, measured: five ICMP enums were 0.9 ms of every start, and
    the link layers' own made their first reply later than layer icmp's) but ``Layer`` (the
    choices of ``--layer``) and ``Transport`` (the interface the engine drives). The link layers
    leave the receive ring's module to the fast runs that use one, and layer ip leaves the
    Ethernet module to -v and --pcap (layer ethernet's framing writes its 14 bytes itself)."""
    out = _fresh_interpreter(
        "import enum, sys\n"
        "import layerping.cli, layerping.api, layerping.engine.runner, layerping.output.text\n"
        "import layerping.transport.icmp_socket\n"
        "before = set(sys.modules)\n"
        "import layerping.transport.factory, layerping.discovery.plan\n"
        "ethernet_at_layer_ip = 'layerping.wire.ethernet' in sys.modules\n"
        "import layerping.transport.packet, layerping.transport.framing\n"
        "link_only = sorted(set(sys.modules) - before)\n"
        "costly = [f'{name}.{cls.__name__}' for name in sorted(sys.modules) if name.startswith('layerping')\n"
        "          for cls in vars(sys.modules[name]).values()\n"
        "          if isinstance(cls, type) and cls.__module__ == name\n"
        "          and (issubclass(cls, enum.Enum) or getattr(cls, '_is_protocol', False))]\n"
        "print([name for name in link_only if name.startswith('layerping.')])\n"
        "print(costly, 'layerping.transport.ring' in sys.modules, ethernet_at_layer_ip)\n"
    )
    link_only, verdict = out.splitlines()
    assert "layerping.discovery.rtnetlink" in link_only and "layerping.transport.packet" in link_only
    assert verdict == "['layerping.transport.base.Layer', 'layerping.transport.base.Transport'] False False"
