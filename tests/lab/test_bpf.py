"""The kernel BPF filter of the raw ICMP socket lets through only what is ours.

Run inside a lab namespace so no other process's ICMP shows up: one raw socket sends echo
requests with two identifiers and ICMP errors quoting each; a second raw socket carries
``bpf.icmp_filter(ours)`` and must see exactly our reply and the error quoting our probe.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.lab.netlab import Lab
from tests.lab.tool import env

pytestmark = pytest.mark.lab

SNIPPET = r"""
import json, select, socket, time
from ipaddress import IPv4Address
from layerping.transport import bpf
from layerping.wire.icmpv4 import Echo, DestinationUnreachable, parse_icmpv4
from layerping.wire.ipv4 import Ipv4Header

OURS, THEIRS = 0x1234, 0x4321
lo = IPv4Address("127.0.0.1")
filtered = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
bpf.attach_filter(filtered, bpf.icmp_filter(OURS))
sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for ident in (THEIRS, OURS):
    sender.sendto(Echo.request(ident, 7, b"cookie!!").build(), ("127.0.0.1", 0))
    probe = Echo.request(ident, 9, b"").build()
    quoted = Ipv4Header(tos=0, identification=1, flags=0, fragment_offset=0, ttl=64, protocol=1,
                        source=lo, destination=IPv4Address("198.51.100.2"), total_length=28)
    sender.sendto(DestinationUnreachable(1, quoted, probe).build(), ("127.0.0.1", 0))
seen = []
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    if not select.select([filtered], [], [], 0.2)[0]:
        continue
    data = filtered.recv(2048)
    msg = parse_icmpv4(data[(data[0] & 15) * 4:])
    if isinstance(msg, Echo):
        seen.append(["echo", msg.type, msg.identifier, msg.sequence])
    else:
        seen.append(["error", msg.type, msg.quoted_echo[1]])
print(json.dumps(seen))
"""


def test_raw_socket_filter_passes_only_our_replies_and_errors(lab: Lab) -> None:
    out = subprocess.run(
        lab.ns_argv(lab.client, sys.executable, "-c", SNIPPET),
        capture_output=True, text=True, timeout=30, env=env(),
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    # Our echo reply and the error quoting our probe; not our own request (type 8), nothing of
    # the other identifier.
    assert sorted(seen) == [["echo", 0, 0x1234, 7], ["error", 3, 0x1234]]
