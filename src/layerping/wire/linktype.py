"""pcap link types (https://www.tcpdump.org/linktypes.html), apart from the pcap module so a
transport can name its link type without importing the pcap reader and writer."""

from __future__ import annotations

LINKTYPE_ETHERNET = 1  # DLT_EN10MB: an Ethernet frame without FCS
LINKTYPE_RAW = 101  # a raw IPv4 or IPv6 packet, told apart by the version nibble
LINKTYPE_LINUX_SLL = 113  # Linux "cooked" capture, v1
