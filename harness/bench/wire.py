"""BGP messages as they arrive on a router pod's interface, timed by the kernel.

Asking bgpd how many routes it holds is answered only between two of its work items: while a
replacement RR's 100k routes are processed, answers come hundreds of ms apart, whatever the
sampler's pace. The wire is not slowed by that: an AF_PACKET socket inside the router's
namespace (setns, as the readiness probe does) receives every TCP segment from port 179, each
stamped by the kernel on arrival (SO_TIMESTAMPNS, nanoseconds). After the drill, each session's
byte stream is rebuilt from its SYN (sequence numbers, retransmissions dropped), cut into BGP
messages (RFC 4271 §4.1), and each message is timed by the segment that completed it.

Only traffic the lab's own daemons exchange is read, inside a namespace of the run.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.backends.netns.probe import socket_in
from harness.bench.burst import evpn_nlri
from harness.bgp.framing import split_messages

ETH_P_IP = 0x0800
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
BGP_PORT = 179
TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04
RCVBUF = 256 << 20  # a 100k-route burst is about 4 MB per session: never drop a segment


@dataclass
class Segment:
    at: float  # time.monotonic() of the kernel's arrival stamp
    seq: int
    flags: int
    payload: bytes


@dataclass
class Flow:
    """One direction of one BGP session: src -> dst, as captured."""

    src: str
    dst: str
    segments: list[Segment] = field(default_factory=list)

    def ended_at(self) -> float | None:
        """When the sender closed or reset the session (FIN, RST)."""
        return next((s.at for s in self.segments if s.flags & (TCP_FIN | TCP_RST)), None)

    def messages(self) -> Iterator[tuple[float, bytes]]:
        """(arrival of its last byte, message) for every whole BGP message since the SYN."""
        syn = next((s for s in self.segments if s.flags & TCP_SYN), None)
        if syn is None:
            return  # captured mid-stream: message boundaries unknown
        expected = (syn.seq + 1) & 0xFFFFFFFF
        stream = bytearray()
        ends: list[tuple[int, float]] = []  # stream offset reached -> arrival time
        for s in sorted(self.segments, key=lambda s: s.at):
            if not s.payload:
                continue
            offset = (s.seq - expected) & 0xFFFFFFFF
            if offset + len(s.payload) <= len(stream):
                continue  # a retransmission
            if offset > len(stream):
                break  # a gap: a segment was not captured; the stream is whole up to here
            stream += s.payload[len(stream) - offset :]
            ends.append((len(stream), s.at))
        whole, _ = split_messages(bytes(stream))
        at, i = 0, 0
        for _, message in whole:
            at += len(message)
            while ends[i][0] < at:
                i += 1
            yield ends[i][1], message


class Capture:
    """Capture BGP segments arriving at one namespace's interfaces, until `stop()`."""

    def __init__(self, namespace: str) -> None:
        self.sock = socket_in(
            namespace, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)
        )
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.2)
        self.offset = time.monotonic() - time.time()  # kernel stamps are CLOCK_REALTIME
        self.flows: dict[tuple[str, int, str, int], Flow] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(1 << 16, 64)
            except TimeoutError:
                continue
            except OSError:
                return
            stamp = next((d for lvl, kind, d in ancillary if kind == SO_TIMESTAMPNS), None)
            if stamp is None:
                continue
            seconds, nanos = struct.unpack("qq", stamp[:16])
            self._add(seconds + nanos / 1e9 + self.offset, data)

    def _add(self, at: float, packet: bytes) -> None:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_TCP:
            return
        ihl = (packet[0] & 0x0F) * 4
        tcp = packet[ihl:]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        if BGP_PORT not in (sport, dport):
            return
        src, dst = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
        total = int.from_bytes(packet[2:4])
        payload = tcp[(tcp[12] >> 4) * 4 : total - ihl]
        key = (src, sport, dst, dport)
        flow = self.flows.setdefault(key, Flow(src, dst))
        flow.segments.append(Segment(at, seq, tcp[13], bytes(payload)))

    def from_peer(self, src: str) -> list[Flow]:
        return [f for (s, _, _, _), f in list(self.flows.items()) if s == src]


def routes_complete_at(flows: list[Flow], count: int) -> float | None:
    """When the sender's UPDATEs first added up to `count` EVPN type-2 routes held."""
    held: set[bytes] = set()
    for flow in flows:
        for at, message in flow.messages():
            if message[18] != 2:  # UPDATE
                continue
            for announced, key in evpn_nlri(message):
                (held.add if announced else held.discard)(key)
            if len(held) >= count:
                return at
    return None
