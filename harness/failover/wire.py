"""Each router's Adj-RIB-In per RR session, rebuilt from the wire, and the routes it lost.

The primary witness of "no route lost" (issue 13): every BGP segment at a router, captured with
kernel stamps (`harness.backends.netns.capture`), gives each session from an RR pod as a series of
timed UPDATEs. A route is held via a session from its announcement until its withdrawal
(RFC 4271 §3.2, §9), or until the session ends: a session that closes takes what came over it
(RFC 4271 §8.2.2, §9.1), unless graceful restart was negotiated for the family (both OPENs carry
the capability, RFC 4724 §3; the family listed by the RR): then the routes are kept, stale,
until the same peer's next session sends End-of-RIB for the family (RFC 4724 §4.2).

A session already up when the capture began is seeded with the routes the router held via that
RR before the fault (the drill checked every route via each RR pod). A route is lost at a router
while no RR session holds it; losses come with µs resolution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.backends.netns.capture import Capture, Flow
from harness.bgp.numbers import FAMILY_OF
from harness.bgp.stream import OPEN, UPDATE, capabilities
from harness.bgp.update import parse_update
from harness.model.base import Family
from harness.observe.route_keys import from_wire
from harness.observe.wire import decode_update

GRACEFUL_RESTART = 64  # RFC 4724 §3 capability code


@dataclass(frozen=True)
class Span:
    """A route held at a router via one session, from `start` to `end` (None: still held)."""

    peer: str
    start: float
    end: float | None
    stale: bool = False  # kept after the session ended (RFC 4724 §4.2)


@dataclass(frozen=True)
class WireLoss:
    """A route no RR session held at a router, from `start` to `end` (None: never back)."""

    router: str
    route: str
    start_ms: float  # after the fault
    end_ms: float | None

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ms is None else self.end_ms - self.start_ms

    def __str__(self) -> str:
        span = "never back" if self.end_ms is None else f"for {self.duration_ms:.3f} ms"
        return (
            f"{self.route} lost at {self.router} {self.start_ms:.3f} ms after the fault, "
            f"{span} (wire)"
        )


@dataclass
class Session:
    """One BGP session from an RR pod to the router, as far as the wire shows it."""

    peer: str
    begins: float  # SYN, or the capture's start for a session already up
    opened: bool  # its SYN was captured
    closed: float | None  # FIN, RST or NOTIFICATION in either direction
    updates: list[tuple[float, bytes]] = field(default_factory=list)
    graceful: frozenset[Family] | None = None  # families kept on close; None: OPENs not seen


def graceful_restart_families(message: bytes) -> frozenset[Family] | None:
    """The AFI/SAFIs of an OPEN's graceful restart capability (RFC 4724 §3), None without
    the capability (RFC 5492 §4: capabilities are optional parameter 2)."""
    found = None
    for code, cap in capabilities(message):
        if code == GRACEFUL_RESTART:
            tuples = (cap[i : i + 4] for i in range(2, len(cap) - 3, 4))
            listed = (FAMILY_OF.get((int.from_bytes(t[:2]), t[2])) for t in tuples)
            found = frozenset(f for f in listed if f is not None)
    return found


def _hold_time(theirs: bytes | None, ours: bytes | None, default: float) -> float:
    """The negotiated hold time: the smaller of the two OPENs' (RFC 4271 §4.2), else `default`."""
    if theirs is None or ours is None:
        return default
    return float(min(int.from_bytes(m[22:24]) for m in (theirs, ours)))


def _first_open(flow: Flow | None) -> bytes | None:
    if flow is None:
        return None
    return next((m for _, m in flow.messages() if m[18] == OPEN), None)


def sessions(
    capture: Capture, router: str, peers: Iterable[str], seeded: set[str], hold: float = 0.0
) -> list[Session]:
    """Every session from one of `peers` to `router`, in order; a peer in `seeded` gets one
    session from the capture's start even if the capture saw nothing of it (a quiet session).
    A session also ends when the router's hold timer expires (RFC 4271 §6.5): `hold` seconds
    (the OPENs' smaller hold time, when captured) after the peer's last message, as a router
    cut off from a silent peer sends its NOTIFICATION into a dark link, unseen."""
    found: list[Session] = []
    wanted = set(peers)
    for flow in list(capture.flows.values()):
        if flow.src not in wanted or flow.dst != router:
            continue
        back = capture.reverse(flow)
        opened = flow.opened or (back is not None and back.opened)
        theirs, ours = _first_open(flow), _first_open(back)
        if (opened and theirs is None) or (not opened and flow.src not in seeded):
            continue  # a connection attempt refused, or never Established: no session
        ends = [flow.closed_at(), back.closed_at() if back else None]
        session = Session(
            flow.src,
            min((s.at for s in flow.segments), default=capture.started),
            opened,
            min((e for e in ends if e is not None), default=None),
            [(at, m) for at, m in flow.messages() if m[18] == UPDATE],
        )
        if not opened:
            session.begins = capture.started
        heard = max((at for at, _ in flow.messages()), default=session.begins)
        expiry = heard + _hold_time(theirs, ours, hold)
        if expiry > heard and expiry < (capture.stopped or float("inf")):
            session.closed = min(expiry, session.closed or expiry)
        if theirs is not None and ours is not None:
            mine = graceful_restart_families(ours)
            listed = graceful_restart_families(theirs)
            session.graceful = frozenset() if mine is None else (listed or frozenset())
        found.append(session)
    quiet = seeded - {s.peer for s in found if not s.opened}
    silent = (
        capture.started + hold
        if hold and capture.stopped and capture.stopped > capture.started + hold
        else None
    )
    found += [Session(p, capture.started, False, silent) for p in sorted(quiet)]
    return sorted(found, key=lambda s: (s.begins, s.opened))


def adj_rib_in(
    router_name: str, all_sessions: list[Session], seed: frozenset[str]
) -> dict[str, list[Span]]:
    """Canonical route key -> the spans it was held via each session (see the module's rules).
    `seed`: canonical keys held via every session up before the capture."""
    spans: dict[str, list[Span]] = {}
    by_peer: dict[str, list[Session]] = {}
    for s in all_sessions:
        by_peer.setdefault(s.peer, []).append(s)
    for series in by_peer.values():
        for i, session in enumerate(series):
            after = series[i + 1] if i + 1 < len(series) else None
            end = session.closed
            if after is not None and (end is None or after.begins < end):
                end = after.begins  # a new session from the peer replaces this one
            _replay(router_name, session, end=end, after=after, seed=seed, spans=spans)
    return spans


def _replay(
    router_name: str,
    session: Session,
    *,
    end: float | None,
    after: Session | None,
    seed: frozenset[str],
    spans: dict[str, list[Span]],
) -> None:
    held: dict[str, tuple[Family, float]] = {}
    if not session.opened:
        held = {k: (_family(k), session.begins) for k in seed}
    for at, message in session.updates:
        if end is not None and at > end:
            break
        routes, withdrawn = decode_update(message, peer=session.peer, observed_at=router_name)
        for route in routes:
            held.setdefault(from_wire(route.family, route.key), (route.family, at))
        for family, key in withdrawn:
            canonical = from_wire(family, key)
            if canonical in held:
                spans.setdefault(canonical, []).append(
                    Span(session.peer, held.pop(canonical)[1], at)
                )
    graceful = session.graceful if session.graceful is not None else _graceful(after)
    for key, (family, start) in held.items():
        spans.setdefault(key, []).append(Span(session.peer, start, end))
        if end is not None and family in graceful:
            kept_until = _end_of_rib(after, family) if after is not None else None
            spans[key].append(Span(session.peer, end, kept_until, stale=True))


def _graceful(after: Session | None) -> frozenset[Family]:
    """Families kept on a close whose OPENs the capture missed: as the peer's next session
    negotiated (same pod, same configuration), else none."""
    return (after.graceful or frozenset()) if after is not None else frozenset()


def _end_of_rib(session: Session, family: Family) -> float | None:
    """When a session sent End-of-RIB for `family` (RFC 4724 §2), or ended without it."""
    for at, message in session.updates:
        if parse_update(message).end_of_rib is family:
            return at
    return session.closed


def _family(key: str) -> Family:
    return Family.L2VPN_EVPN if key.startswith("evpn ") else Family.IPV4_UNICAST


def losses(
    router: str, spans: Mapping[str, list[Span]], expected: Iterable[str], t0: float, end: float
) -> list[WireLoss]:
    """Every interval in [t0, end] in which no span held an expected route at `router`."""
    out = []
    for key in sorted(expected):
        reach = t0
        for s in sorted(spans.get(key, []), key=lambda s: s.start):
            stop = end if s.end is None else s.end
            if s.start > reach and reach < end:
                out.append(_loss(router, key, (reach, min(s.start, end)), t0, end))
            reach = max(reach, stop)
        if reach < end:
            out.append(_loss(router, key, (reach, end), t0, end))
    return out


def _loss(router: str, key: str, span: tuple[float, float], t0: float, end: float) -> WireLoss:
    (start, stop), ms = span, 1000.0
    return WireLoss(router, key, (start - t0) * ms, None if stop >= end else (stop - t0) * ms)


def window_ms(found: Iterable[WireLoss], horizon_ms: float) -> float:
    """The union of the loss intervals, in ms (a loss never back counts up to `horizon_ms`)."""
    total, reach = 0.0, -math.inf
    for start, stop in sorted(
        (x.start_ms, horizon_ms if x.end_ms is None else x.end_ms) for x in found
    ):
        if stop > reach:
            total += stop - max(start, reach)
            reach = stop
    return total
