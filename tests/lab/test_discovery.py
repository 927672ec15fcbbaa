"""Path detection and ARP against a real kernel, inside the lab's namespaces.

Detection runs in the client namespace (a small Python program started with
``ip netns exec``, printing JSON) and is compared with iproute2 run in the same namespace:
``ip -j route get``, ``ip -j link show``, ``ip -j neigh show``, ``ip -j addr show``.
ARP is checked on the wire with tcpdump on the router's side of the link.

Only lab addresses appear here: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
198.18.0.0/15 and 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import layerping
from layerping._linux import ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE
from layerping.wire import netlink as nl
from tests.lab.netlab import (
    ABSENT_ON_LINK_IP,
    CLIENT_IP,
    ROUTER_CLIENT_IP,
    SERVER_IP,
    Capture,
    Lab,
    tshark_fields,
)

pytestmark = pytest.mark.lab

_SRC = str(Path(layerping.__file__).resolve().parents[1])

# Runs inside a namespace: one operation per call, arguments and result as JSON.
_PROBE = r"""
import json, select, sys, time
from ipaddress import IPv4Address as A
from layerping import errors
from layerping.discovery import arp, plan as P, rtnetlink as R
from layerping.wire import netlink as nl

args = json.loads(sys.argv[1])
op = args.pop("op")

def mac(value):
    return None if value is None else value.hex(":")

def plan_dict(p):
    return {
        "destination": str(p.destination), "ifindex": p.ifindex, "ifname": p.ifname,
        "source": str(p.source), "src_mac": mac(p.src_mac), "next_hop": str(p.next_hop),
        "gateway": None if p.gateway is None else str(p.gateway), "next_hop_mac": mac(p.next_hop_mac),
        "neighbour_state": p.neighbour_state, "link_type": p.link_type, "mtu": p.mtu,
        "has_link_header": p.has_link_header, "route_type": p.route_type,
        "is_loopback": p.is_loopback, "needs_arp": p.needs_arp,
    }

def link_dict(link):
    return {"index": link.index, "name": link.name, "mac": mac(link.mac), "broadcast": mac(link.broadcast),
            "mtu": link.mtu, "link_type": link.link_type, "flags": link.flags, "is_up": link.is_up,
            "operstate": link.operstate}

def plan_kwargs(a):
    kw = {}
    for key in ("source", "gateway"):
        if a.get(key):
            kw[key] = A(a[key])
    for key in ("src_mac", "next_hop_mac"):
        if a.get(key):
            kw[key] = bytes.fromhex(a[key].replace(":", ""))
    if a.get("interface"):
        kw["interface"] = a["interface"]
    return kw

try:
    if op == "plan":
        out = plan_dict(P.plan_path(A(args["dst"]), **plan_kwargs(args)))
    elif op == "plan_requests":
        with R.Rtnetlink() as rtnl:
            asked = []
            request = rtnl._request
            def counted(name, msg_type, body, *, dump):
                asked.append([msg_type, dump])
                return request(name, msg_type, body, dump=dump)
            rtnl._request = counted
            P.plan_path(A(args["dst"]), rtnl=rtnl)
            out = asked
    elif op == "route":
        with R.Rtnetlink() as rtnl:
            r = rtnl.route_get(A(args["dst"]), args.get("oif"))
        out = {"destination": str(r.destination), "oif": r.oif, "prefsrc": str(r.prefsrc),
               "gateway": None if r.gateway is None else str(r.gateway), "route_type": r.route_type,
               "table": r.table}
    elif op == "routes":
        with R.Rtnetlink() as rtnl:
            out = {"rules": rtnl.rule_count(), "routes": [
                {"table": r.get_u32(nl.RTA_TABLE) or r.table, "type": r.type, "dst_len": r.dst_len,
                 "dst": None if r.get_ipv4(nl.RTA_DST) is None else str(r.get_ipv4(nl.RTA_DST)),
                 "gateway": None if r.get_ipv4(nl.RTA_GATEWAY) is None else str(r.get_ipv4(nl.RTA_GATEWAY)),
                 "oif": r.get_u32(nl.RTA_OIF)} for r in rtnl.routes()]}
    elif op == "links":
        out = [link_dict(link) for link in R.links()]
    elif op == "link":
        out = link_dict(R.link_get(index=args.get("index"), name=args.get("name")))
    elif op == "addresses":
        out = [{"ifindex": a.ifindex, "address": str(a.address), "prefixlen": a.prefixlen,
                "broadcast": None if a.broadcast is None else str(a.broadcast),
                "peer": None if a.peer is None else str(a.peer)} for a in R.addresses(args.get("ifindex"))]
    elif op == "neigh":
        with R.Rtnetlink() as rtnl:
            found = []
            supported = []
            for use_get in (True, False):
                rtnl._neigh_get_supported = None if use_get else False  # False forces the dump
                e = rtnl.neigh_get(A(args["dst"]), args["ifindex"])
                supported.append(rtnl._neigh_get_supported)
                found.append(None if e is None else {"destination": str(e.destination), "ifindex": e.ifindex,
                                                    "mac": mac(e.mac), "state": e.state})
            out = {"get": found[0], "dump": found[1], "get_supported": supported[0]}
    elif op == "resolve":
        p = P.plan_path(A(args["dst"]))
        started = time.monotonic()
        got = arp.resolve(p, attempts=args["attempts"], interval_s=args["interval_s"])
        out = {"mac": mac(got), "elapsed_s": time.monotonic() - started, "needs_arp": p.needs_arp}
    elif op == "resolve_many":
        p = P.plan_path(A(args["targets"][0]))
        started = time.monotonic()
        got = arp.resolve_many([A(t) for t in args["targets"]], ifname=p.ifname, src_mac=p.src_mac,
                               source=p.source, attempts=args["attempts"], interval_s=args["interval_s"])
        out = {"resolved": {str(k): mac(v) for k, v in got.items()}, "elapsed_s": time.monotonic() - started}
    elif op == "resolver_api":
        p = P.plan_path(A(args["targets"][0]))
        with arp.ArpResolver.for_plan(p) as resolver:
            targets = [A(t) for t in args["targets"]]
            for t in targets:
                resolver.send_request(t)
            pending_at_start = sorted(str(t) for t in resolver.pending)
            batches = []
            deadline = time.monotonic() + args["wait_s"]
            while time.monotonic() < deadline and len(resolver.pending) > args["leave_pending"]:
                ready, _, _ = select.select([resolver], [], [], max(0.0, deadline - time.monotonic()))
                if ready:
                    learnt = resolver.handle_readable()
                    batches.append({str(k): mac(v) for k, v in learnt.items()})
            out = {"pending_at_start": pending_at_start, "pending": sorted(str(t) for t in resolver.pending),
                   "resolved": {str(k): mac(v) for k, v in resolver.resolved.items()}, "batches": batches,
                   "requests_sent": resolver.requests_sent}
    elif op == "filter_check":
        p = P.plan_path(A(args["dst"]))
        with arp.ArpResolver.for_plan(p) as resolver:
            resolver.send_request(A(args["dst"]))  # our own broadcast must not come back to us
            if args.get("gratuitous"):
                # Another socket of this host announces our address (ar$tpa = ours): a socket
                # bound to ETH_P_ARP must not get the outgoing copy.
                import socket
                from layerping.wire.arp import ArpPacket
                from layerping.wire.ethernet import BROADCAST_MAC, EtherType, EthernetFrame
                announce = ArpPacket.reply(p.src_mac, p.source, BROADCAST_MAC, p.source)
                frame = EthernetFrame(BROADCAST_MAC, p.src_mac, EtherType.ARP, announce.build())
                with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as other:
                    other.bind((p.ifname, 0))
                    other.send(frame.build())
            print("ready", file=sys.stderr, flush=True)
            deadline = time.monotonic() + args["wait_s"]
            while time.monotonic() < deadline:
                if select.select([resolver], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    resolver.handle_readable()
            out = {"frames_received": resolver.frames_received, "pending": [str(t) for t in resolver.pending]}
    elif op == "arp_socket":
        p = P.plan_path(A(args["dst"]))
        with arp.ArpResolver.for_plan(p) as resolver:
            out = "opened"
    else:
        raise SystemExit(f"unknown op {op}")
    print(json.dumps({"ok": out}))
except errors.LayerpingError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                      "text": str(exc)}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = _SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def detect(lab: Lab, op: str, ns: str | None = None, prefix: list[str] | None = None, **args: Any) -> Any:
    """Run one detection operation in a namespace (the client's by default) and return its JSON."""
    argv = ["ip", "netns", "exec", ns or lab.client, *(prefix or []), "python3", "-c", _PROBE,
            json.dumps({"op": op, **args})]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ok(lab: Lab, op: str, **args: Any) -> Any:
    answer = detect(lab, op, **args)
    assert "ok" in answer, answer
    return answer["ok"]


def refused(lab: Lab, op: str, **args: Any) -> dict[str, str]:
    answer = detect(lab, op, **args)
    assert "error" in answer, answer
    assert "\n" not in answer["text"]
    return dict(answer)


def ip_json(lab: Lab, ns: str, *argv: str) -> Any:
    return json.loads(lab.run(ns, "ip", "-j", *argv) or "[]")


def link_of(lab: Lab, ns: str, ifname: str) -> dict[str, Any]:
    (link,) = ip_json(lab, ns, "-d", "link", "show", "dev", ifname)
    return dict(link)


def neigh_of(lab: Lab, ns: str, address: str, ifname: str) -> dict[str, Any] | None:
    entries = ip_json(lab, ns, "neigh", "show", address, "dev", ifname)
    return dict(entries[0]) if entries else None


_NUD = {"INCOMPLETE": nl.NUD_INCOMPLETE, "REACHABLE": nl.NUD_REACHABLE, "STALE": nl.NUD_STALE,
        "DELAY": nl.NUD_DELAY, "PROBE": nl.NUD_PROBE, "FAILED": nl.NUD_FAILED, "NOARP": nl.NUD_NOARP,
        "PERMANENT": nl.NUD_PERMANENT}  # fmt: skip


def assert_plan_matches_oracle(lab: Lab, plan: dict[str, Any], dst: str, *oif: str) -> None:
    """Compare a plan with ``ip route get`` / ``ip link show`` / ``ip neigh show`` in the client."""
    (route,) = ip_json(lab, lab.client, "route", "get", dst, *(["oif", oif[0]] if oif else []))
    assert plan["destination"] == route["dst"] == dst
    assert plan["ifname"] == route["dev"]
    assert plan["source"] == route["prefsrc"]
    assert plan["gateway"] == route.get("gateway")
    assert plan["next_hop"] == route.get("gateway", dst)
    link = link_of(lab, lab.client, route["dev"])
    assert plan["ifindex"] == link["ifindex"]
    assert plan["mtu"] == link["mtu"]
    assert plan["src_mac"] == link.get("address")
    kind = {"ether": ARPHRD_ETHER, "loopback": ARPHRD_LOOPBACK, "none": ARPHRD_NONE}[link["link_type"]]
    assert plan["link_type"] == kind
    if kind == ARPHRD_ETHER and route.get("type", "unicast") == "unicast":
        neigh = neigh_of(lab, lab.client, plan["next_hop"], route["dev"])
        if neigh is None:
            assert plan["next_hop_mac"] is None and plan["neighbour_state"] is None
        else:
            assert plan["next_hop_mac"] == neigh.get("lladdr")
            assert plan["neighbour_state"] == _NUD[neigh["state"][0]]


def ping_once(lab: Lab, ns: str, dst: str) -> None:
    lab.run(ns, "ping", "-c", "1", "-W", "2", dst)


# --- routes, links, neighbours --------------------------------------------------------------------


def test_on_link_target_without_neighbour_entry_needs_arp(lab: Lab) -> None:
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    plan = ok(lab, "plan", dst=ROUTER_CLIENT_IP)
    assert_plan_matches_oracle(lab, plan, ROUTER_CLIENT_IP)
    assert plan["ifname"] == lab.client_if and plan["source"] == CLIENT_IP
    assert plan["gateway"] is None and plan["next_hop"] == ROUTER_CLIENT_IP
    assert plan["next_hop_mac"] is None and plan["needs_arp"]
    assert plan["has_link_header"] and not plan["is_loopback"]
    assert plan["route_type"] == nl.RTN_UNICAST


def test_on_link_target_with_reachable_neighbour(lab: Lab) -> None:
    ping_once(lab, lab.client, ROUTER_CLIENT_IP)
    plan = ok(lab, "plan", dst=ROUTER_CLIENT_IP)
    assert_plan_matches_oracle(lab, plan, ROUTER_CLIENT_IP)
    assert plan["next_hop_mac"] == lab.mac(lab.router, lab.router_client_if)
    assert plan["neighbour_state"] == nl.NUD_REACHABLE and not plan["needs_arp"]


def test_target_behind_router_uses_the_gateway_as_next_hop(lab: Lab) -> None:
    ping_once(lab, lab.client, SERVER_IP)
    plan = ok(lab, "plan", dst=SERVER_IP)
    assert_plan_matches_oracle(lab, plan, SERVER_IP)
    assert plan["gateway"] == plan["next_hop"] == ROUTER_CLIENT_IP
    assert plan["next_hop_mac"] == lab.mac(lab.router, lab.router_client_if)


def test_stale_neighbour_needs_arp(lab: Lab) -> None:
    router_mac = lab.mac(lab.router, lab.router_client_if)
    lab.run(lab.client, "ip", "neigh", "replace", ROUTER_CLIENT_IP, "lladdr", router_mac,
            "dev", lab.client_if, "nud", "stale")  # fmt: skip
    plan = ok(lab, "plan", dst=SERVER_IP)
    assert plan["next_hop_mac"] == router_mac
    assert plan["neighbour_state"] == nl.NUD_STALE and plan["needs_arp"]


def test_interface_given(lab: Lab) -> None:
    plan = ok(lab, "plan", dst=SERVER_IP, interface=lab.client_if)
    assert_plan_matches_oracle(lab, plan, SERVER_IP, lab.client_if)
    # A second device: forcing it makes the kernel assume the destination is on-link there.
    lab.run(lab.client, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    lab.run(lab.client, "ip", "addr", "add", "198.18.50.1/24", "dev", "d0")
    for ifname in ("d0", "d1"):
        lab.run(lab.client, "ip", "link", "set", ifname, "up")
    plan = ok(lab, "plan", dst=SERVER_IP, interface="d0")
    assert_plan_matches_oracle(lab, plan, SERVER_IP, "d0")
    assert plan["ifname"] == "d0" and plan["source"] == "198.18.50.1" and plan["gateway"] is None


def test_loopback_destination(shared_lab: Lab) -> None:
    lab = shared_lab
    plan = ok(lab, "plan", dst="127.0.0.1")
    (route,) = ip_json(lab, lab.client, "route", "get", "127.0.0.1")
    assert route["type"] == "local" and route["dev"] == "lo"
    assert plan["ifname"] == "lo" and plan["ifindex"] == link_of(lab, lab.client, "lo")["ifindex"]
    assert plan["route_type"] == nl.RTN_LOCAL and plan["link_type"] == ARPHRD_LOOPBACK
    assert plan["is_loopback"] and plan["has_link_header"] and not plan["needs_arp"]
    assert plan["next_hop_mac"] == plan["src_mac"] == "00:00:00:00:00:00"
    assert plan["source"] == route["prefsrc"] == "127.0.0.1"
    assert plan["mtu"] == link_of(lab, lab.client, "lo")["mtu"]


def test_own_address_goes_through_loopback(shared_lab: Lab) -> None:
    plan = ok(shared_lab, "plan", dst=CLIENT_IP)
    (route,) = ip_json(shared_lab, shared_lab.client, "route", "get", CLIENT_IP)
    assert route["type"] == "local" and route["dev"] == "lo"
    assert plan["ifname"] == "lo" and plan["is_loopback"] and plan["next_hop_mac"] == "00:00:00:00:00:00"
    assert plan["source"] == CLIENT_IP


def test_broadcast_destination(shared_lab: Lab) -> None:
    plan = ok(shared_lab, "plan", dst="192.0.2.255")
    (route,) = ip_json(shared_lab, shared_lab.client, "route", "get", "192.0.2.255")
    assert route["type"] == "broadcast"
    assert plan["route_type"] == nl.RTN_BROADCAST and plan["ifname"] == route["dev"]
    assert plan["next_hop_mac"] == "ff:ff:ff:ff:ff:ff" and not plan["needs_arp"]


def test_tun_device_has_no_link_header(lab: Lab) -> None:
    lab.run(lab.client, "ip", "tuntap", "add", "mode", "tun", "name", "tun0")
    lab.run(lab.client, "ip", "addr", "add", "198.18.200.1/24", "dev", "tun0")
    lab.run(lab.client, "ip", "link", "set", "tun0", "up")
    lab.run(lab.client, "ip", "route", "add", "198.18.210.0/24", "dev", "tun0")
    plan = ok(lab, "plan", dst="198.18.210.5")
    assert_plan_matches_oracle(lab, plan, "198.18.210.5")
    assert plan["ifname"] == "tun0" and plan["source"] == "198.18.200.1"
    assert plan["link_type"] == ARPHRD_NONE and not plan["has_link_header"]
    assert plan["src_mac"] is None and plan["next_hop_mac"] is None and not plan["needs_arp"]
    link = ok(lab, "link", name="tun0")
    assert link["mac"] is None and link["link_type"] == ARPHRD_NONE and link["is_up"]


def test_route_get_reports_table_and_type(shared_lab: Lab) -> None:
    lab = shared_lab
    route = ok(lab, "route", dst=SERVER_IP)
    (oracle,) = ip_json(lab, lab.client, "-d", "route", "get", SERVER_IP)
    assert route["gateway"] == oracle["gateway"] and route["prefsrc"] == oracle["prefsrc"]
    assert route["table"] == {"main": nl.RT_TABLE_MAIN, "local": nl.RT_TABLE_LOCAL}[oracle["table"]]
    assert route["route_type"] == nl.RTN_UNICAST and oracle["type"] == "unicast"
    assert route["oif"] == link_of(lab, lab.client, oracle["dev"])["ifindex"]


def test_route_and_rule_dumps_match_ip_route_and_ip_rule(lab: Lab) -> None:
    lab.run(lab.client, "ip", "rule", "add", "from", "192.0.2.77", "lookup", "100")
    dumped = ok(lab, "routes")
    assert dumped["rules"] == len(ip_json(lab, lab.client, "rule", "show")) == 4
    tables = {"local": nl.RT_TABLE_LOCAL, "main": nl.RT_TABLE_MAIN}
    types = {"unicast": nl.RTN_UNICAST, "local": nl.RTN_LOCAL, "broadcast": nl.RTN_BROADCAST}
    index = {link["ifname"]: link["ifindex"] for link in ip_json(lab, lab.client, "link", "show")}
    oracle = sorted(
        (tables[r.get("table", "main")], types[r.get("type", "unicast")],
         None if r["dst"] == "default" else r["dst"].split("/")[0],
         0 if r["dst"] == "default" else int(r["dst"].split("/")[1]) if "/" in r["dst"] else 32,
         r.get("gateway"), index[r["dev"]])
        for r in ip_json(lab, lab.client, "-4", "route", "show", "table", "all")
    )  # fmt: skip
    ours = sorted((r["table"], r["type"], r["dst"], r["dst_len"], r["gateway"], r["oif"])
                  for r in dumped["routes"])  # fmt: skip
    assert ours == oracle and len(ours) >= 5  # the lab's routes, and the local table's


def test_links_match_ip_link(shared_lab: Lab) -> None:
    lab = shared_lab
    ours = {link["name"]: link for link in ok(lab, "links")}
    oracle = {link["ifname"]: link for link in ip_json(lab, lab.client, "-d", "link", "show")}
    assert ours.keys() == oracle.keys() == {"lo", lab.client_if}
    for name, link in oracle.items():
        mine = ours[name]
        assert mine["index"] == link["ifindex"] and mine["mtu"] == link["mtu"]
        assert mine["mac"] == link["address"] and mine["broadcast"] == link["broadcast"]
        assert mine["is_up"] == ("UP" in link["flags"])
        assert nl.IF_OPER_NAMES[mine["operstate"]] == link["operstate"]
    assert ok(lab, "link", name=lab.client_if) == ours[lab.client_if]
    assert ok(lab, "link", index=oracle["lo"]["ifindex"]) == ours["lo"]


def test_addresses_match_ip_addr(shared_lab: Lab) -> None:
    lab = shared_lab
    ours = ok(lab, "addresses")
    oracle = [
        (iface["ifindex"], info["local"], info["prefixlen"], info.get("broadcast"))
        for iface in ip_json(lab, lab.client, "-4", "addr", "show")
        for info in iface["addr_info"]
    ]
    assert [(a["ifindex"], a["address"], a["prefixlen"], a["broadcast"]) for a in ours] == oracle
    c0 = link_of(lab, lab.client, lab.client_if)["ifindex"]
    assert [a["address"] for a in ok(lab, "addresses", ifindex=c0)] == [CLIENT_IP]


def test_neighbour_get_and_dump_agree(lab: Lab) -> None:
    ping_once(lab, lab.client, ROUTER_CLIENT_IP)
    c0 = link_of(lab, lab.client, lab.client_if)["ifindex"]
    found = ok(lab, "neigh", dst=ROUTER_CLIENT_IP, ifindex=c0)
    oracle = neigh_of(lab, lab.client, ROUTER_CLIENT_IP, lab.client_if)
    assert oracle is not None
    assert found["get_supported"] is True  # RTM_GETNEIGH "get" exists since Linux 4.20
    assert found["get"] == found["dump"]
    assert found["get"]["mac"] == oracle["lladdr"] and found["get"]["state"] == _NUD[oracle["state"][0]]
    missing = ok(lab, "neigh", dst=ABSENT_ON_LINK_IP, ifindex=c0)
    assert missing["get"] is None and missing["dump"] is None


# --- errors ---------------------------------------------------------------------------------------


def test_no_route(lab: Lab) -> None:
    lab.run(lab.client, "ip", "route", "del", "203.0.113.0/24")
    oracle = subprocess.run(lab.ns_argv(lab.client, "ip", "route", "get", "203.0.113.7"),
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert oracle.returncode != 0 and "unreachable" in oracle.stderr
    error = refused(lab, "plan", dst="203.0.113.7")
    assert error["error"] == "NoRoute"
    assert error["text"] == "no route to 203.0.113.7: add one or choose another interface with -I"


def test_interface_down(lab: Lab) -> None:
    lab.run(lab.client, "ip", "link", "set", lab.client_if, "down")
    error = refused(lab, "plan", dst=ROUTER_CLIENT_IP, interface=lab.client_if)
    assert error["error"] == "NoSuchInterface"
    assert error["hint"] == f"bring it up with `ip link set {lab.client_if} up`"
    # Without -I the kernel has no route left through the downed device.
    assert refused(lab, "plan", dst=ROUTER_CLIENT_IP)["error"] == "NoRoute"


def test_unknown_interface(shared_lab: Lab) -> None:
    oracle = subprocess.run(shared_lab.ns_argv(shared_lab.client, "ip", "link", "show", "nosuch0"),
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert oracle.returncode != 0
    error = refused(shared_lab, "plan", dst=ROUTER_CLIENT_IP, interface="nosuch0")
    assert error["error"] == "NoSuchInterface" and error["hint"] == "see `ip link`"
    too_long = refused(shared_lab, "plan", dst=ROUTER_CLIENT_IP, interface="x" * 40)
    assert too_long["error"] == "NoSuchInterface"


def test_contradicting_overrides(lab: Lab) -> None:
    lab.run(lab.client, "ip", "tuntap", "add", "mode", "tun", "name", "tun0")
    lab.run(lab.client, "ip", "addr", "add", "198.18.200.1/24", "dev", "tun0")
    lab.run(lab.client, "ip", "link", "set", "tun0", "up")
    # A source of this host, but of another device.
    error = refused(lab, "plan", dst=ROUTER_CLIENT_IP, source="198.18.200.1")
    assert error["error"] == "UsageError" and "not an address of c0" in error["message"]
    # A source that is no address of this host at all (the kernel says ENETUNREACH).
    error = refused(lab, "plan", dst=ROUTER_CLIENT_IP, source="192.0.2.77")
    assert error["error"] == "UsageError" and "192.0.2.77" in error["message"]
    # A gateway that is not on the link.
    error = refused(lab, "plan", dst=SERVER_IP, gateway="198.51.100.1")
    assert error["error"] == "UsageError" and "not on-link for c0" in error["message"]
    error = refused(lab, "plan", dst=SERVER_IP, gateway=CLIENT_IP)  # ourselves
    assert error["error"] == "UsageError"
    # MAC overrides where there are no MACs.
    for option in ("src_mac", "next_hop_mac"):
        error = refused(lab, "plan", dst="198.18.200.7", **{option: "02:00:00:00:00:01"})
        assert error["error"] == "UsageError" and "tun0" in error["message"]
    error = refused(lab, "plan", dst=ROUTER_CLIENT_IP, src_mac="02:00:00:00:01")
    assert error["error"] == "UsageError"


def test_overrides_replace_detected_values(lab: Lab) -> None:
    lab.run(lab.router, "ip", "addr", "add", "192.0.2.3/24", "dev", lab.router_client_if)
    plan = ok(lab, "plan", dst=SERVER_IP, gateway="192.0.2.3", source=CLIENT_IP,
              src_mac="02:00:00:00:00:aa", next_hop_mac="02:00:00:00:00:bb")  # fmt: skip
    assert plan["gateway"] == plan["next_hop"] == "192.0.2.3"
    assert plan["source"] == CLIENT_IP
    assert plan["src_mac"] == "02:00:00:00:00:aa" and plan["next_hop_mac"] == "02:00:00:00:00:bb"
    assert plan["neighbour_state"] is None and not plan["needs_arp"]
    # Loopback to this host accepts any of its addresses as the source.
    plan = ok(lab, "plan", dst="127.0.0.1", source=CLIENT_IP)
    assert plan["is_loopback"] and plan["source"] == CLIENT_IP


# --- ARP ------------------------------------------------------------------------------------------


def test_arp_request_on_the_wire_and_router_mac_returned(lab: Lab, tmp_path: Path) -> None:
    lab.run(lab.client, "ip", "neigh", "flush", "dev", lab.client_if)
    capture = Capture(lab, lab.router, lab.router_client_if, str(tmp_path / "arp.pcap"), bpf_filter="arp")
    try:
        result = ok(lab, "resolve", dst=ROUTER_CLIENT_IP, attempts=3, interval_s=0.5)
    finally:
        path = capture.stop()
    router_mac = lab.mac(lab.router, lab.router_client_if)
    client_mac = lab.mac(lab.client, lab.client_if)
    assert result["needs_arp"]
    assert result["mac"] == router_mac
    assert result["elapsed_s"] < 0.5  # answered within the first interval
    requests = tshark_fields(path, "arp.opcode == 1",
                             ["eth.src", "eth.dst", "arp.src.hw_mac", "arp.src.proto_ipv4",
                              "arp.dst.hw_mac", "arp.dst.proto_ipv4"])  # fmt: skip
    assert requests == [[client_mac, "ff:ff:ff:ff:ff:ff", client_mac, CLIENT_IP, "00:00:00:00:00:00",
                         ROUTER_CLIENT_IP]]  # fmt: skip
    replies = tshark_fields(path, "arp.opcode == 2", ["arp.src.hw_mac", "arp.dst.proto_ipv4"])
    assert replies == [[router_mac, CLIENT_IP]]
    # The request was ours, not the kernel's: the kernel made no neighbour entry for it.
    assert neigh_of(lab, lab.client, ROUTER_CLIENT_IP, lab.client_if) is None


def test_arp_for_an_absent_address_gives_none_after_bounded_attempts(lab: Lab, tmp_path: Path) -> None:
    capture = Capture(lab, lab.router, lab.router_client_if, str(tmp_path / "arp.pcap"), bpf_filter="arp")
    try:
        result = ok(lab, "resolve", dst=ABSENT_ON_LINK_IP, attempts=3, interval_s=0.2)
    finally:
        path = capture.stop()
    assert result["mac"] is None
    assert 0.55 <= result["elapsed_s"] < 1.5
    asked = tshark_fields(path, f"arp.opcode == 1 && arp.dst.proto_ipv4 == {ABSENT_ON_LINK_IP}",
                          ["eth.src"])  # fmt: skip
    assert asked == [[lab.mac(lab.client, lab.client_if)]] * 3


def _add_router_addresses(lab: Lab, count: int) -> list[str]:
    targets = [f"192.0.2.{10 + n}" for n in range(count)]
    for target in targets:
        lab.run(lab.router, "ip", "addr", "add", f"{target}/24", "dev", lab.router_client_if)
    return targets


def test_many_targets_resolved_in_parallel(lab: Lab) -> None:
    targets = _add_router_addresses(lab, 20)
    router_mac = lab.mac(lab.router, lab.router_client_if)
    started = time.monotonic()
    result = ok(lab, "resolve_many", targets=[*targets, ABSENT_ON_LINK_IP], attempts=2, interval_s=0.4)
    assert time.monotonic() - started < 10
    assert result["resolved"] == dict.fromkeys(targets, router_mac)
    # One round of requests answered them all at once; only the absent one cost both intervals.
    assert 0.75 <= result["elapsed_s"] < 1.5


def test_non_blocking_resolver_api(lab: Lab) -> None:
    targets = _add_router_addresses(lab, 8)
    router_mac = lab.mac(lab.router, lab.router_client_if)
    result = ok(lab, "resolver_api", targets=[*targets, ABSENT_ON_LINK_IP], wait_s=2.0, leave_pending=1)
    assert result["pending_at_start"] == sorted([*targets, ABSENT_ON_LINK_IP])
    assert result["requests_sent"] == 9
    assert result["pending"] == [ABSENT_ON_LINK_IP]
    assert result["resolved"] == dict.fromkeys(targets, router_mac)
    merged: dict[str, str] = {}
    for batch in result["batches"]:
        assert not merged.keys() & batch.keys()  # each target is reported once
        merged.update(batch)
    assert merged == result["resolved"]


def test_arp_needs_privilege(shared_lab: Lab) -> None:
    # Root without CAP_NET_RAW in its bounding set: exec'd programs cannot open packet sockets.
    answer = detect(shared_lab, "arp_socket", prefix=["setpriv", "--bounding-set", "-net_raw"],
                    dst=ROUTER_CLIENT_IP)  # fmt: skip
    assert answer["error"] == "PermissionDenied", answer
    assert "sudo" in answer["hint"] and "setcap" not in answer["hint"]
    assert ok(shared_lab, "arp_socket", dst=ROUTER_CLIENT_IP) == "opened"


def test_plan_path_asks_three_questions_and_dumps_nothing(shared_lab: Lab) -> None:
    """A path plan is the kernel's answer to three "get" requests (route, link, neighbour), as
    ``ip route get`` / ``ip link show dev`` / ``ip neigh get`` ask: no table is dumped, however
    many routes and neighbours the host has. (How long it takes is bench/layers.py's business.)"""
    asked = ok(shared_lab, "plan_requests", dst=SERVER_IP)
    assert asked == [[nl.RTM_GETROUTE, False], [nl.RTM_GETLINK, False], [nl.RTM_GETNEIGH, False]]


def _filter_check_while(lab: Lab, router_argv: list[str], gratuitous: bool = False) -> dict[str, Any]:
    """Run the client's resolver for a while as the router runs ``router_argv``."""
    args = {"op": "filter_check", "dst": ABSENT_ON_LINK_IP, "wait_s": 2.0, "gratuitous": gratuitous}
    argv = ["ip", "netns", "exec", lab.client, "python3", "-c", _PROBE, json.dumps(args)]
    pipe = subprocess.PIPE
    with subprocess.Popen(argv, stdout=pipe, stderr=pipe, text=True, env=_env()) as probe:
        assert probe.stderr is not None and probe.stdout is not None
        assert probe.stderr.readline().strip() == "ready"
        lab.run(lab.router, *router_argv, check=False)
        out, err = probe.communicate(timeout=30)
    answer = json.loads(out)
    assert "ok" in answer, (answer, err)
    return dict(answer["ok"])


def test_kernel_filter_passes_only_arp_for_us(lab: Lab, tmp_path: Path) -> None:
    capture = Capture(lab, lab.client, lab.client_if, str(tmp_path / "c0.pcap"), bpf_filter="arp")
    try:
        # The router asks for someone else: its broadcasts reach c0 but not our socket, and
        # neither do frames this host sends, even one about our own address (PACKET_OUTGOING).
        other = _filter_check_while(lab, ["ping", "-c", "1", "-W", "1", "192.0.2.77"], gratuitous=True)
    finally:
        path = capture.stop()
    seen = tshark_fields(path, "arp", ["arp.opcode", "arp.dst.proto_ipv4"])
    assert ["1", "192.0.2.77"] in seen and ["1", ABSENT_ON_LINK_IP] in seen and ["2", CLIENT_IP] in seen
    assert other == {"frames_received": 0, "pending": [ABSENT_ON_LINK_IP]}
    # The router asks for us: that request passes the filter (and teaches us nothing we asked).
    lab.run(lab.router, "ip", "neigh", "flush", "dev", lab.router_client_if)
    for_us = _filter_check_while(lab, ["ping", "-c", "1", "-W", "1", CLIENT_IP])
    assert for_us["frames_received"] >= 1 and for_us["pending"] == [ABSENT_ON_LINK_IP]
