"""Linux constants that Python 3.11's :mod:`socket` module lacks.

Each value is quoted from the kernel header that defines it, so a reader can check it.
"""

from __future__ import annotations

# include/uapi/asm-generic/socket.h
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD: struct timespec cmsg, CLOCK_REALTIME
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_LOCK_FILTER = 44
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SO_BINDTODEVICE = 25
SO_MARK = 36

# include/uapi/linux/in.h
IP_RECVERR = 11
IP_RECVTTL = 12
IP_RECVTOS = 13
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IP_PMTUDISC_PROBE = 3
IP_TTL = 2
IP_TOS = 1
IP_PKTINFO = 8

# include/uapi/linux/errqueue.h: struct sock_extended_err.ee_origin
SO_EE_ORIGIN_NONE = 0
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

# include/uapi/linux/if_ether.h
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD

# include/uapi/linux/if_packet.h: sockaddr_ll.sll_pkttype
PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4
# socket options at SOL_PACKET
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_AUXDATA = 8
PACKET_RX_RING = 5
PACKET_TX_RING = 13
PACKET_VERSION = 10
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23

# include/uapi/linux/if_arp.h: dev->type as RTM_GETLINK reports it
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE  # tun devices in IFF_TUN mode
ARPHRD_PPP = 512

# include/uapi/linux/netlink.h
NETLINK_ROUTE = 0
