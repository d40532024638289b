#!/usr/bin/env python3
"""The lab's second exercise, a multicast chat, written for gamecast's tests and lab report.

Every member joins the group, greets it with "NAME: Entering user", then sends each line
typed as "NAME: line" until it types "quit"; everything the group says is printed as it
arrives. With a gamecast announcer on the group, the chat also shows the game
("announcer: Round 1: type roll"), and typing the game's moves plays it as ~NAME.

Unlike the handout's first listing, this one names its interface for both directions
(IP_MULTICAST_IF for what it sends, the membership for what it hears): without that, Linux
sends by the default route, and a game on loopback never hears it.

    python3 examples/lab/chat.py --name ana                 # on this machine (127.0.0.1)
    python3 examples/lab/chat.py --name ana --iface 192.168.1.20   # on a LAN
"""

import argparse
import socket
import struct
import sys
import threading


def open_socket(group, port, iface):
    """A UDP socket that is a member of GROUP on IFACE and sends there too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    # Several members on one machine bind the same port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", port))
    # Join the group on that interface...
    membership = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(iface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    # ...and send from it, one hop at most, looped back to this machine's other members.
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 1))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    return sock


def reader(sock, stop):
    """Prints every datagram of the group until STOP is set."""
    while not stop.is_set():
        try:
            data, _ = sock.recvfrom(65536)
        except OSError:
            break
        print(data.decode("utf-8", errors="replace"), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="how the group knows you")
    parser.add_argument("--group", default="224.1.1.1")
    parser.add_argument("--port", type=int, default=5007)
    parser.add_argument("--iface", default="127.0.0.1",
                        help="the IPv4 address of the interface to use (default: loopback)")
    args = parser.parse_args()

    sock = open_socket(args.group, args.port, args.iface)
    destination = (args.group, args.port)
    stop = threading.Event()
    listener = threading.Thread(target=reader, args=(sock, stop), daemon=True)
    listener.start()
    sock.sendto(f"{args.name}: Entering user".encode(), destination)

    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("Message <quit>: " if interactive else "")
        except EOFError:
            line = "quit"
        sock.sendto(f"{args.name}: {line}".encode(), destination)
        if line.strip().lower() == "quit":
            break
    stop.set()
    print("Stop writer", flush=True)


if __name__ == "__main__":
    main()
