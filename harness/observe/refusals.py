"""A crafted speaker's connection attempts, read from its recording, and what each one proves.

Design: the RR has `bgp listen range <podCIDR> peer-group CLIENTS` with `remote-as <asn>`: iBGP
clients from the pod CIDR, nobody else. The would-be client records what it saw on each
connection (`harness.daemons.speaker_process` lists the entries), and a refusal is one of these
facts, not a session that failed to appear:
- outside the listen range the RR has no neighbor for the address: it closes the connection
  before it sends any OPEN (RFC 4271 §8: no BGP session is started on it);
- inside the range with another AS, the RR answers the speaker's OPEN with NOTIFICATION OPEN
  Message Error, Bad Peer AS (RFC 4271 §6.2: code 2, subcode 2), after its own OPEN (§8) when
  that one reaches the wire (`bad_peer_as`).
A connection the speaker ended itself (hold timer, an error on its side, shutdown) proves
neither: what the RR would have done is unknown. Everything here is a pure function of the
recorded entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.bgp.session import OpenMessage

PEER, SELF = "peer", "self"  # `closed_by` of a recorded end (`speaker_process`)
OPEN_MESSAGE_ERROR, BAD_PEER_AS = 2, 2  # RFC 4271 §4.5, §6.2
CEASE = 6  # RFC 4271 §6.7


def notification_code(message: bytes) -> tuple[int, int] | None:
    """(error code, subcode) of a NOTIFICATION (RFC 4271 §4.5); None when it is too short."""
    return (message[19], message[20]) if len(message) >= 21 else None


@dataclass(frozen=True)
class Attempt:
    """One connection attempt of one session: its entries in the order recorded, from the TCP
    connection (or the failure to make one) to its end; the last attempt may be going on."""

    peer: str
    events: tuple[dict[str, Any], ...]

    def _states(self) -> list[str]:
        return [str(e.get("state")) for e in self.events if e.get("kind") == "state"]

    @property
    def connected(self) -> bool:
        return "connected" in self._states()

    @property
    def established(self) -> bool:
        return "up" in self._states()

    @property
    def end(self) -> dict[str, Any] | None:
        """The entry that closed the attempt, if it is over."""
        last = self.events[-1] if self.events else {}
        return last if last.get("state") == "down" else None

    @property
    def closed_by(self) -> str | None:
        """`PEER`, `SELF`, or None (no connection was made, or it is still open)."""
        return None if self.end is None else self.end.get("closed_by")

    def received(self, kind: str) -> list[bytes]:
        """The messages of `kind` ("open", "notification") received on this connection."""
        return [bytes.fromhex(e["hex"]) for e in self.events if e.get("kind") == kind]

    def describe(self) -> str:
        """One line: when, what was sent and received, and how it ended."""
        first, seen = self.events[0], []
        when = datetime.fromtimestamp(float(first.get("time", 0))).strftime("%H:%M:%S.%f")[:-3]
        for e in self.events:
            kind = e.get("kind")
            if kind == "state" and e.get("state") in ("connected", "up"):
                seen.append("TCP up" if e["state"] == "connected" else "Established")
            elif kind == "sent":
                seen.append(f"sent {str(e.get('message')).upper()}")
            elif kind == "open":
                seen.append("OPEN received")
            elif kind == "notification":
                code = notification_code(bytes.fromhex(e["hex"]))
                seen.append(f"NOTIFICATION {'/'.join(map(str, code or ['(short)']))} received")
        end = self.end
        if end is None:
            seen.append("still open")
        else:
            took = float(end.get("time", 0)) - float(first.get("time", 0))
            by = {PEER: "closed by the peer", SELF: "closed by the speaker"}.get(
                end.get("closed_by"), "no connection"
            )
            seen.append(f"{by} after {took * 1000:.0f} ms ({end.get('reason', '?')})")
        return f"{self.peer} at {when}: " + ", ".join(seen)


def attempts(events: Iterable[dict[str, Any]]) -> list[Attempt]:
    """Split a speaker's recorded entries (`SpeakerRib.events`) into connection attempts, per
    peer, in order: an attempt starts at `connected` (or is a lone `down`: a connection that
    was never made) and ends at its `down`. Updates and entries of other peers interleave
    freely."""
    done: list[Attempt] = []
    going: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        peer, state = str(event.get("peer")), event.get("state")
        if event.get("kind") == "state" and state == "connected" and going.get(peer):
            done.append(Attempt(peer, tuple(going.pop(peer))))  # its end was not recorded
        going.setdefault(peer, []).append(event)
        if event.get("kind") == "state" and state == "down":
            done.append(Attempt(peer, tuple(going.pop(peer))))
    return done + [Attempt(peer, tuple(events)) for peer, events in going.items()]


def refused(attempt: Attempt) -> bool:
    """RFC 4271 §8, design `bgp listen range <podCIDR>`: the peer closed the connection (EOF,
    RST, or a NOTIFICATION Cease, RFC 4486 §4: Connection Rejected) before it sent any OPEN,
    and no session came up. A NOTIFICATION of another code answers our OPEN (the peer took the
    connection for a session); a connection the speaker ended itself, or one never made, is no
    refusal."""
    codes = [notification_code(m) for m in attempt.received("notification")]
    return (
        attempt.connected
        and attempt.closed_by == PEER
        and not attempt.received("open")
        and not attempt.established
        and all(code is not None and code[0] == CEASE for code in codes)
    )


@dataclass(frozen=True)
class BadPeerAs:
    """Evidence of a wrong-AS rejection: the peer's NOTIFICATION 2/2 answering our OPEN, and the
    peer's own OPEN (its AS and BGP identifier) when it came first."""

    peer: str
    open: OpenMessage | None
    notification: bytes

    def __str__(self) -> str:
        data = self.notification[21:].hex() or "none"
        told = f"NOTIFICATION {OPEN_MESSAGE_ERROR}/{BAD_PEER_AS} Bad Peer AS (data: {data})"
        if self.open is None:
            return f"{told} from {self.peer} after our OPEN (its own OPEN not received)"
        return (
            f"OPEN from {self.peer} (AS {self.open.asn}, BGP identifier {self.open.router_id}), "
            f"then {told}"
        )


def bad_peer_as(attempt: Attempt) -> BadPeerAs | None:
    """RFC 4271 §6.2, design `remote-as <asn>` on the listen range's peer group: the speaker
    sent its OPEN, the peer answered NOTIFICATION OPEN Message Error / Bad Peer AS (2/2) on the
    same connection, and no session came up. The peer's OPEN (RFC 4271 §8: sent as the TCP
    connection comes up) is part of the evidence when it arrived before the NOTIFICATION; FRR
    8.4 drops its own OPEN still queued when it writes a NOTIFICATION (`bgp_notify_send` empties
    the output queue), so on a few connections it does not (measured here: 2 in 30, 1 in 3 in
    another run). An OPEN that arrived but does not decode is no evidence."""
    if attempt.established:
        return None
    from harness.bgp.session import decode_open  # scapy: where OPENs are read (issue 18)

    sent, opened = False, None
    for event in attempt.events:
        kind = event.get("kind")
        if kind == "sent" and event.get("message") == "open":
            sent = True
        elif kind == "open" and opened is None:
            try:
                opened = decode_open(bytes.fromhex(event["hex"]))
            except ValueError:
                return None
        elif kind == "notification" and sent:
            message = bytes.fromhex(event["hex"])
            if notification_code(message) == (OPEN_MESSAGE_ERROR, BAD_PEER_AS):
                return BadPeerAs(attempt.peer, opened, message)
    return None


def ended_by_speaker(attempt: Attempt) -> bool:
    """The speaker closed the connection itself: no verdict on the peer."""
    return attempt.closed_by == SELF


def settled(tried: list[Attempt], proves: Callable[[Attempt], object], enough: int) -> bool:
    """Whether the attempts so far decide a check: a session came up (a finding), the speaker
    ended a connection itself (no verdict), `enough` attempts prove the rule (`proves`), or
    `enough` connections the peer ended prove it not."""
    if any(a.established or ended_by_speaker(a) for a in tried):
        return True
    by_peer = [a for a in tried if a.connected and a.closed_by == PEER]
    proofs = sum(1 for a in by_peer if proves(a))
    return proofs >= enough or len(by_peer) - proofs >= enough
