"""IPv4's ICMP error words, as iputils ``ping`` (ping.c ``pr_icmph``) and ``fping``
(fping.c ``icmp_unreach_str[]``, ``print_warning``) print them: part of the IPv4 family
(:data:`layerping.inet.v4.IPV4` ``ping_words``/``fping_words``), asked by output.
"""

from __future__ import annotations

from layerping.wire.icmpv4 import DestinationUnreachable, ParameterProblem, Redirect

_UNREACHABLE = {
    0: "Destination Net Unreachable",
    1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable",
    3: "Destination Port Unreachable",
    5: "Source Route Failed",
    6: "Destination Net Unknown",
    7: "Destination Host Unknown",
    8: "Source Host Isolated",
    9: "Destination Net Prohibited",
    10: "Destination Host Prohibited",
    11: "Destination Net Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service",
    13: "Packet filtered",
    14: "Precedence Violation",
    15: "Precedence Cutoff",
}
_REDIRECT = {
    0: "Redirect Network",
    1: "Redirect Host",
    2: "Redirect Type of Service and Network",
    3: "Redirect Type of Service and Host",
}
_TIME_EXCEEDED = {0: "Time to live exceeded", 1: "Frag reassembly time exceeded"}


def ping_words(icmp_type: int, code: int, message: object) -> str:
    """The words iputils prints for an ICMP error (``pr_icmph``)."""
    if icmp_type == 3:
        if code == 4 and isinstance(message, DestinationUnreachable):
            return f"Frag needed and DF set (mtu = {message.next_hop_mtu})"
        return _UNREACHABLE.get(code, f"Dest Unreachable, Bad Code: {code}")
    if icmp_type == 4:
        return "Source Quench"
    if icmp_type == 5:
        words = _REDIRECT.get(code, f"Redirect, Bad Code: {code}")
        if isinstance(message, Redirect):
            return f"{words}(New nexthop: {message.gateway})"
        return words
    if icmp_type == 11:
        return _TIME_EXCEEDED.get(code, f"Time exceeded, Bad Code: {code}")
    if icmp_type == 12 and isinstance(message, ParameterProblem):
        return f"Parameter problem: pointer = {message.pointer}"
    return f"Bad ICMP type: {icmp_type}"


# fping.c icmp_unreach_str[], indexed by code (RFC 792, RFC 1122, RFC 1812).
_FPING_UNREACHABLE = (
    "ICMP Network Unreachable",
    "ICMP Host Unreachable",
    "ICMP Protocol Unreachable",
    "ICMP Port Unreachable",
    "ICMP Unreachable (Fragmentation Needed)",
    "ICMP Unreachable (Source Route Failed)",
    "ICMP Unreachable (Destination Network Unknown)",
    "ICMP Unreachable (Destination Host Unknown)",
    "ICMP Unreachable (Source Host Isolated)",
    "ICMP Unreachable (Communication with Network Prohibited)",
    "ICMP Unreachable (Communication with Host Prohibited)",
    "ICMP Unreachable (Network Unreachable For Type Of Service)",
    "ICMP Unreachable (Host Unreachable For Type Of Service)",
    "ICMP Unreachable (Communication Administratively Prohibited)",
    "ICMP Unreachable (Host Precedence Violation)",
    "ICMP Unreachable (Precedence cutoff in effect)",
)
_FPING_OTHER = {
    4: "ICMP Source Quench",
    5: "ICMP Redirect",
    11: "ICMP Time Exceeded",
    12: "ICMP Parameter Problem",
}


def fping_words(icmp_type: int, code: int) -> str:
    """fping's words for an ICMP error (``ICMP Host Unreachable``...)."""
    if icmp_type == 3:
        if 0 <= code < len(_FPING_UNREACHABLE):
            return _FPING_UNREACHABLE[code]
        return "ICMP Unreachable (Invalid Code)"
    return _FPING_OTHER.get(icmp_type, "ICMP Unknown")
