"""BGP segments as they pass a pod's interfaces, timed by the kernel, and each session's byte
stream rebuilt into BGP messages.

Asking bgpd what it holds is answered only between two of its work items, and a sampler sees
only the moments it asks. The wire has neither limit: an AF_PACKET socket inside the pod's
namespace (setns, as the readiness probe does) receives every TCP segment to or from port 179,
in both directions, each stamped by the kernel (SO_TIMESTAMPNS, nanoseconds). Afterwards each
direction of each session is rebuilt from its SYN (sequence numbers; retransmissions dropped) or,
for a session already up when the capture began, from its first segment that starts with a BGP
marker; it is cut into BGP messages (RFC 4271 §4.1), each timed by the segment that completed it.
A session ends (RFC 4271 §8.2.2, §6) at its first FIN, RST or NOTIFICATION, in either direction.

Each session is read within its own maximum message size, learned from its two OPENs: 65535
octets when both carry the Extended Message capability, else 4096 (RFC 8654 §4; OPEN and
KEEPALIVE always within 4096). A session already up when the capture began shows no OPEN, and
nothing on the wire tells what it negotiated: its stream is read up to 65535 octets a message,
the most any BGP header can say, and `Flow.max_message_size` is None. That reader judges
nothing it cannot know: it neither rejects a message that the session may well have negotiated
(FRR advertises the capability by default, and sent a 65261-octet UPDATE at 10k EVPN routes)
nor claims the message was within what was negotiated; every marker is still checked.

Used by the failover drills (`harness.failover.wire`) and the bench (`harness.bench.wire`).
Only traffic the lab's own daemons exchange is read, inside a namespace of the run.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from harness.backends.netns.probe import socket_in
from harness.bgp.stream import (
    HEADER_SIZE,
    MARKER,
    MAX_EXTENDED_MESSAGE_SIZE,
    MAX_MESSAGE_SIZE,
    NOTIFICATION,
    OPEN,
    negotiated_max_size,
    split_messages,
)

ETH_P_ALL = 0x0003  # both directions: a protocol-specific packet socket sees no outgoing frame
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
BGP_PORT = 179
TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04
RCVBUF = 256 << 20  # a 100k-route burst is about 4 MB per session: never drop a segment
Endpoint = tuple[str, int]


@dataclass
class Segment:
    at: float  # time.monotonic() of the kernel's stamp
    seq: int
    flags: int
    payload: bytes


@dataclass
class Flow:
    """One direction of one BGP session: src -> dst, as captured."""

    src: str
    dst: str
    segments: list[Segment] = field(default_factory=list)
    sport: int = 0
    dport: int = 0
    reverse: Flow | None = field(default=None, repr=False, compare=False)  # the other direction

    @property
    def opened(self) -> bool:
        """Its SYN was captured: the session began during the capture."""
        return any(s.flags & TCP_SYN for s in self.segments)

    def ended_at(self) -> float | None:
        """When the sender closed or reset the session (FIN, RST)."""
        return next((s.at for s in self.segments if s.flags & (TCP_FIN | TCP_RST)), None)

    def closed_at(self) -> float | None:
        """When the sender ended the session: FIN, RST, or a NOTIFICATION (RFC 4271 §6)."""
        ends = [self.ended_at()]
        ends += [at for at, m in self.messages() if m[18] == NOTIFICATION][:1]
        return min((e for e in ends if e is not None), default=None)

    def _start(self, ordered: list[Segment]) -> int | None:
        syn = next((s for s in ordered if s.flags & TCP_SYN), None)
        if syn is not None:
            return (syn.seq + 1) & 0xFFFFFFFF
        # Captured mid-stream: bgpd writes whole messages, so a quiet session's next segment
        # starts with a marker (RFC 4271 §4.1); split_messages checks every later one.
        first = next((s for s in ordered if s.payload[:16] == MARKER), None)
        return None if first is None else first.seq

    def _stream(self, upto: float = math.inf) -> tuple[bytes, list[tuple[int, float]]]:
        """The bytes sent since the start, whole up to the first gap (or once `upto` octets are
        read), and (stream offset reached, arrival time) of each segment that added to them."""
        ordered = sorted(self.segments, key=lambda s: s.at)
        expected = self._start(ordered)
        stream = bytearray()
        ends: list[tuple[int, float]] = []
        if expected is None:
            return b"", ends  # no message boundary known
        for s in ordered:
            if not s.payload:
                continue
            offset = (s.seq - expected) & 0xFFFFFFFF
            if offset >= 1 << 31 or offset + len(s.payload) <= len(stream):
                continue  # a retransmission, or bytes from before the start
            if offset > len(stream) or len(stream) >= upto:
                break  # a gap: a segment was not captured; the stream is whole up to here
            stream += s.payload[len(stream) - offset :]
            ends.append((len(stream), s.at))
        return bytes(stream), ends

    def open_message(self) -> bytes | None:
        """The OPEN this side sent, when the session began during the capture (its first
        message, RFC 4271 §8); None otherwise."""
        if not self.opened:
            return None
        head = self._stream(upto=MAX_MESSAGE_SIZE)[0]
        length = int.from_bytes(head[16:18]) if len(head) >= HEADER_SIZE else 0
        if head[:16] != MARKER or head[18:19] != bytes([OPEN]) or len(head) < length:
            return None
        return head[:length] if HEADER_SIZE <= length <= MAX_MESSAGE_SIZE else None

    @property
    def max_message_size(self) -> int | None:
        """The session's maximum message size from the OPENs captured (`negotiated_max_size`,
        RFC 8654 §4); None when they do not tell (the session was already up)."""
        back = self.reverse.open_message() if self.reverse is not None else None
        return negotiated_max_size(self.open_message(), back)

    def messages(self) -> Iterator[tuple[float, bytes]]:
        """(arrival of its last byte, message) for every whole BGP message since the start,
        within the session's maximum message size (see the module)."""
        stream, ends = self._stream()
        whole, _ = split_messages(stream, self.max_message_size or MAX_EXTENDED_MESSAGE_SIZE)
        at, i = 0, 0
        for _, message in whole:
            at += len(message)
            while ends[i][0] < at:
                i += 1
            yield ends[i][1], message


class Capture:
    """Capture BGP segments passing one namespace's interfaces, until `stop()`."""

    def __init__(self, namespace: str) -> None:
        self.sock = socket_in(
            namespace, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL)
        )
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.2)
        self.offset = time.monotonic() - time.time()  # kernel stamps are CLOCK_REALTIME
        self.flows: dict[tuple[str, int, str, int], Flow] = {}
        self.started = time.monotonic()
        self.stopped: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        self.stopped = time.monotonic()

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
        flow = self.flows.get(key)
        if flow is None:
            flow = Flow(src, dst, sport=sport, dport=dport)
            flow.reverse = self.flows.get((dst, dport, src, sport))
            if flow.reverse is not None:
                flow.reverse.reverse = flow
            self.flows[key] = flow
        flow.segments.append(Segment(at, seq, tcp[13], bytes(payload)))

    def from_peer(self, src: str) -> list[Flow]:
        return [f for (s, _, _, _), f in list(self.flows.items()) if s == src]

    def reverse(self, flow: Flow) -> Flow | None:
        """The other direction of the same session, if any segment of it was captured."""
        return self.flows.get((flow.dst, flow.dport, flow.src, flow.sport))
