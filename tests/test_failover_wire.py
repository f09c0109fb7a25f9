"""The wire witness without a lab: sessions rebuilt from hand-made segments, each router's
Adj-RIB-In per RR session, loss intervals to the µs, the key mapping, and the comparison of
the two witnesses (RFC 4271 §9.1, RFC 4724 §4.2)."""

from __future__ import annotations

import pytest

from harness.backends.netns.capture import TCP_FIN, TCP_RST, TCP_SYN, Capture, Flow, Segment
from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute
from harness.bgp.update import build_update
from harness.errors import PreconditionFailed, WitnessUndecided
from harness.failover import wire
from harness.failover.attempts import take
from harness.failover.witness import check_samples, disagreements, held_via
from harness.model.base import Family
from harness.observe.route_keys import from_listing, from_wire
from harness.observe.samples import Sample

ROUTER, RR1, RR2 = "10.244.0.20", "10.244.0.10", "10.244.1.11"
ACK = 0x10
ROUTE = MacIpRoute(rd="10.0.0.2:2", mac="02:00:00:00:02:01", label=100)
KEY = ROUTE.key  # evpn type-2 rd 10.0.0.2:2 mac 02:00:00:00:02:01
LISTED = "evpn [2]:[0]:[48]:[02:00:00:00:02:01] rd 10.0.0.2:2"
ATTRS = Attributes(next_hop="100.65.0.2", local_pref=100)


def announce() -> bytes:
    return build_update(Family.L2VPN_EVPN, announce=[ROUTE], attributes=ATTRS)


def withdraw() -> bytes:
    return build_update(Family.L2VPN_EVPN, withdraw=[ROUTE])


def keepalive() -> bytes:
    return b"\xff" * 16 + b"\x00\x13\x04"


class Recorded:
    """What `Capture` holds after a drill, made by hand."""

    reverse = Capture.reverse

    def __init__(self, started: float) -> None:
        self.started = started
        self.stopped = started + 10.0
        self.flows: dict[tuple[str, int, str, int], Flow] = {}

    def flow(self, src: str, dst: str, sport: int, dport: int, *segments: Segment) -> None:
        self.flows[src, sport, dst, dport] = Flow(src, dst, list(segments), sport, dport)


def stream(seq: int, *timed: tuple[float, bytes], flags: int = ACK) -> list[Segment]:
    """Segments carrying `timed` messages back to back from sequence number `seq`."""
    out = []
    for at, data in timed:
        out.append(Segment(at, seq & 0xFFFFFFFF, flags, data))
        seq += len(data)
    return out


def held(capture: Recorded, seeded: set[str], t0: float, end: float) -> list[wire.WireLoss]:
    found = wire.sessions(capture, ROUTER, {RR1, RR2}, seeded)
    spans = wire.adj_rib_in("router-1", found, frozenset({KEY}))
    return wire.losses("router-1", spans, {KEY}, t0, end)


def test_a_withdraw_then_reannounce_between_two_samples_is_a_loss_to_the_microsecond():
    """A session up before the capture (no SYN): resynchronised on its first marker, seeded
    with what the router held; withdrawn at 10.0031, announced again at 10.0035: 400 µs."""
    capture = Recorded(started=9.0)
    capture.flow(
        RR1, ROUTER, 179, 40000, *stream(1000, (10.0031, withdraw()), (10.0035, announce()))
    )
    capture.flow(RR2, ROUTER, 179, 40001)  # a quiet session: nothing captured
    assert held(capture, {RR1}, t0=10.0, end=11.0) != []  # RR2 not seeded: only RR1 held it
    (loss,) = held(capture, {RR1}, t0=10.0, end=11.0)
    assert (loss.router, loss.route) == ("router-1", KEY)
    assert loss.start_ms == pytest.approx(3.1) and loss.duration_ms == pytest.approx(0.4)
    assert "for 0.400 ms (wire)" in str(loss)
    # The other RR's quiet session held it throughout: no loss at all.
    assert held(capture, {RR1, RR2}, t0=10.0, end=11.0) == []


def test_a_closed_session_takes_its_routes_and_a_new_one_brings_them_back():
    """RFC 4271 §9.1: RR1's session ends (RST at 10.2); a new session (SYN at 12.0) announces
    the route at 12.5. Without graceful restart the route is lost from 10.2 to 12.5."""
    capture = Recorded(started=9.0)
    capture.flow(RR1, ROUTER, 179, 40000, Segment(10.2, 5000, TCP_RST, b""))
    opens = _opens(graceful=False)
    capture.flow(RR1, ROUTER, 179, 40002, Segment(12.0, 99, TCP_SYN | ACK, b""),
                 *stream(100, (12.1, opens[0]), (12.5, announce())))  # fmt: skip
    capture.flow(ROUTER, RR1, 40002, 179, Segment(11.9, 7, TCP_SYN, b""),
                 *stream(8, (12.05, opens[1])))  # fmt: skip
    (loss,) = held(capture, {RR1}, t0=10.0, end=13.0)
    assert loss.start_ms == pytest.approx(200.0) and loss.end_ms == pytest.approx(2500.0)
    # A NOTIFICATION from the router ends the session as surely as a FIN (RFC 4271 §6).
    capture = Recorded(started=9.0)
    capture.flow(RR1, ROUTER, 179, 40000)
    notification = b"\xff" * 16 + b"\x00\x15\x03\x04\x00"  # hold timer expired
    capture.flow(ROUTER, RR1, 40000, 179, *stream(1, (10.3, notification)))
    (loss,) = held(capture, {RR1}, t0=10.0, end=13.0)
    assert loss.start_ms == pytest.approx(300.0) and loss.end_ms is None
    assert "never back" in str(loss)
    # A peer gone silent (its link dark, nothing sent): the router's hold timer ends the
    # session 9 s after the peer's last message (RFC 4271 §6.5), whatever the router sent.
    capture = Recorded(started=9.0)
    capture.flow(RR1, ROUTER, 179, 40000, *stream(1000, (10.1, keepalive())))
    capture.stopped = 20.0
    found = wire.sessions(capture, ROUTER, {RR1}, {RR1}, hold=9.0)
    (loss,) = wire.losses(
        "router-1", wire.adj_rib_in("r", found, frozenset({KEY})), {KEY}, 10, 19.5
    )
    assert loss.start_ms == pytest.approx(9100.0)


def _opens(*, graceful: bool, families: tuple[tuple[int, int], ...] = ((25, 70),)) -> list[bytes]:
    """The RR's and the router's OPENs, with or without the graceful restart capability."""
    caps = b""
    if graceful:
        body = b"\x00\x78" + b"".join(afi.to_bytes(2) + bytes([safi, 0]) for afi, safi in families)
        caps = bytes([64, len(body)]) + body
    params = bytes([2, len(caps)]) + caps if caps else b""
    body = b"\x04" + (64514).to_bytes(2) + (9).to_bytes(2) + bytes(4) + bytes([len(params)])
    message = b"\xff" * 16 + (19 + len(body) + len(params)).to_bytes(2) + b"\x01" + body + params
    return [message, message]


def test_graceful_restart_keeps_the_routes_stale_until_end_of_rib():
    """RFC 4724 §4.2: with the capability for EVPN in both OPENs, the routes of a closed
    session stay until the next session's End-of-RIB; a family not listed is dropped."""
    opens = _opens(graceful=True)
    assert wire.graceful_restart_families(opens[0]) == {Family.L2VPN_EVPN}
    assert wire.graceful_restart_families(_opens(graceful=False)[0]) is None
    eor = build_update(Family.L2VPN_EVPN)
    capture = Recorded(started=9.0)
    capture.flow(RR1, ROUTER, 179, 40000, Segment(10.2, 5000, TCP_FIN, b""))
    capture.flow(RR1, ROUTER, 179, 40002, Segment(11.0, 99, TCP_SYN | ACK, b""),
                 *stream(100, (11.1, opens[0]), (11.5, eor)))  # fmt: skip
    capture.flow(ROUTER, RR1, 40002, 179, Segment(10.9, 7, TCP_SYN, b""),
                 *stream(8, (11.05, opens[1])))  # fmt: skip
    (loss,) = held(capture, {RR1}, t0=10.0, end=13.0)  # kept until End-of-RIB, then gone
    assert loss.start_ms == pytest.approx(1500.0) and loss.end_ms is None
    ipv4_only = _opens(graceful=True, families=((1, 1),))
    capture.flows[RR1, 179, ROUTER, 40002].segments[1].payload = ipv4_only[0]
    (loss,) = held(capture, {RR1}, t0=10.0, end=13.0)
    assert loss.start_ms == pytest.approx(200.0)


def test_a_refused_connection_is_no_session():
    capture = Recorded(started=9.0)
    capture.flow(RR1, ROUTER, 179, 40000, *stream(1000, (10.1, keepalive())))
    capture.flow(RR2, ROUTER, 179, 40009, Segment(10.5, 0, TCP_RST | ACK, b""))  # refused
    capture.flow(ROUTER, RR2, 40009, 179, Segment(10.49, 5, TCP_SYN, b""))
    assert [s.peer for s in wire.sessions(capture, ROUTER, {RR1, RR2}, {RR1})] == [RR1]


def test_both_witnesses_name_a_route_alike():
    assert from_listing(LISTED) == KEY == from_wire(Family.L2VPN_EVPN, KEY)
    assert from_listing("evpn [2]:[0]:[48]:[02:AA:00:00:02:01]:[32]:[10.1.1.5] rd 10.0.0.2:2") == (
        "evpn type-2 rd 10.0.0.2:2 mac 02:aa:00:00:02:01 ip 10.1.1.5"
    )
    assert from_listing("evpn [3]:[0]:[32]:[100.65.0.1] rd 10.0.0.1:2") == (
        "evpn type-3 rd 10.0.0.1:2 vtep 100.65.0.1"
    )
    assert from_listing("evpn [5]:[0]:[24]:[10.9.0.0] rd 10.0.0.1:3") == (
        "evpn type-5 rd 10.0.0.1:3 prefix 10.9.0.0/24"
    )
    assert from_listing("ipv4 100.65.0.2/32") == from_wire(Family.IPV4_UNICAST, "100.65.0.2/32")
    with pytest.raises(ValueError, match="neither"):
        from_listing("vpnv4 1.2.3.0/24")


def sample(at, keys, *, error=None, client="router-1"):
    paths = {k: frozenset({RR1}) for k in keys}
    return Sample(at, client, paths, frozenset(), {}, error, at - 0.001)


def test_the_witnesses_agree_on_a_loss_shorter_than_the_samples_can_see():
    short = wire.WireLoss("router-1", KEY, 3.1, 3.5)  # 400 µs between two samples
    samples = [sample(10.0 + i * 0.01, [LISTED]) for i in range(5)]
    expected = {"router-1": frozenset({KEY})}
    assert disagreements([short], samples, expected, {RR1}, 10.0) == []
    assert held_via(samples[0], {RR1}) == {KEY} and held_via(samples[0], {RR2}) == set()


def test_the_witnesses_disagree_both_ways_with_the_evidence():
    expected = {"router-1": frozenset({KEY})}
    long = wire.WireLoss("router-1", KEY, 0.0, 1000.0)  # a second on the wire
    samples = [sample(10.5, [LISTED])]  # ... yet bgpd held it in the middle of it
    (said,) = disagreements([long], samples, expected, {RR1}, 10.0)
    assert "the wire shows it lost" in said and "500 ms after the fault" in said
    (said,) = disagreements([], [sample(10.2, [])], expected, {RR1}, 10.0)
    assert "missing from the sample answered 200 ms after the fault, yet held on the wire" in said


def test_samples_that_cannot_corroborate_leave_the_attempt_undecided():
    good = [sample(10.0 + i * 0.01, [LISTED]) for i in range(10)]
    check_samples(good, ["router-1"], 10.0, 10.09)
    with pytest.raises(WitnessUndecided, match=r"router-1: no answer 30 ms .*vty timed out"):
        check_samples(
            [*good[:3], sample(10.03, [], error="vty timed out")], ["router-1"], 10, 10.09
        )
    gap = [*good[:2], *good[7:]]  # nothing from 10.01 to 10.07
    with pytest.raises(WitnessUndecided, match="no answer for 60 ms, from 10 ms to 70 ms"):
        check_samples(gap, ["router-1"], 10.0, 10.09, bound=0.05)
    with pytest.raises(WitnessUndecided, match="router-2: no sample after the fault"):
        check_samples(good, ["router-1", "router-2"], 10.0, 10.09)


def test_an_undecided_attempt_is_taken_again_on_the_record_then_is_an_error():
    def drill(outcomes):
        def attempt():
            outcome = next(outcomes)
            if outcome is None:
                raise WitnessUndecided("router-1: no answer for 140 ms")
            return outcome

        return attempt

    # two undecided attempts among five: three decided runs, both retakes named
    taken = take(drill(iter([None, "a", None, "b", "c"])), 3, "drill")
    assert taken.runs == ["a", "b", "c"]
    assert [u.split(":")[0] for u in taken.undecided] == ["attempt 1", "attempt 3"]
    # a third undecided attempt is an error of the harness (a PreconditionFailed), never a pass
    with pytest.raises(PreconditionFailed, match=r"3 attempts undecided: attempt 1: .*attempt 4"):
        take(drill(iter([None, "a", None, None, "b"])), 2, "drill")
    # a failure of the SUT is no undecided attempt: nothing is retaken
    with pytest.raises(AssertionError):
        take(lambda: (_ for _ in ()).throw(AssertionError("lost")), 1, "drill")


def test_the_wire_loss_window_is_the_union_of_the_intervals():
    found = [
        wire.WireLoss("a", "k1", 0.0, 2.0),
        wire.WireLoss("b", "k1", 1.0, 3.0),
        wire.WireLoss("a", "k2", 10.0, None),  # never back: counted to the horizon
    ]
    assert wire.window_ms(found, horizon_ms=12.0) == pytest.approx(5.0)
