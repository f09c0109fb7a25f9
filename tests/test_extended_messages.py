"""RFC 8654 extended messages: each session's maximum message size is 65535 octets when both
OPENs carry the Extended Message capability (code 6), 4096 otherwise, and never more than 4096
for OPEN and KEEPALIVE (RFC 8654 §4, RFC 5492 §3). Issue 15: `rr-harness bench failover --routes
10000` ended in `length 65261 is outside 19..4096`; FRR had negotiated extended messages.

- the codec: splitting a stream, building a message, the maximum from two OPENs;
- the wire reassembly (`capture.Flow`): the maximum learned from the captured OPENs;
- the speaker's process against a loopback peer: what it reads and refuses, what it sends;
- a real session with FRR 8.4: the crafted speaker receives a > 4096-octet UPDATE only when it
  negotiated extended messages, and FRR answers an over-size UPDATE with NOTIFICATION 1/2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import needs_root
from scapy.layers.inet import IP, TCP
from test_speaker_process import PEER, Speaker, read_until

from harness.backends.netns.capture import TCP_SYN, Capture, Flow, Segment
from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.bgp.attributes import Attributes
from harness.bgp.session import build_keepalive, build_open, decode_open
from harness.bgp.stream import (
    BAD_MESSAGE_LENGTH,
    FramingError,
    check_size,
    negotiated_max_size,
    split_messages,
)
from harness.bgp.update import build_update, parse_update
from harness.daemons.crafted import CraftedSpeaker
from harness.errors import DaemonError
from harness.model.base import Family
from harness.model.loading import load_sut
from harness.model.plan import LabPlan
from harness.model.topology import Topology
from harness.observe.wait import wait_until
from harness.options import ESTABLISH_TIMEOUT
from harness.paths import DEFAULT_SUT
from harness.runtime.run import Run, new_run_id

V4 = Family.IPV4_UNICAST
ATTRS = Attributes(next_hop="10.0.0.1", local_pref=100)
WIDE = build_open(64514, 0, "10.0.0.1", [V4])  # capability 6 (the default, as FRR's)
NARROW = build_open(64514, 0, "10.0.0.2", [V4], extended_message=False)
CAPTURED = 65261  # the length in issue 15's traceback
SHORTER = {0: (), 1: ("0.0.0.0/0",), 2: ("11.0.0.0/8",), 3: ("11.1.0.0/16",), 4: ("11.1.1.0/24",)}


def host_routes(count: int, first: int = 0) -> list[str]:
    return [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32" for i in range(first, first + count)]


def update_of(octets: int) -> bytes:
    """An IPv4 UPDATE exactly `octets` long: /32s (5 octets of NLRI each), then one shorter
    prefix for the remainder (RFC 4271 §4.3)."""
    base = len(build_update(V4, attributes=ATTRS))
    count, rest = divmod(octets - base, 5)
    prefixes = host_routes(count) + list(SHORTER[rest])
    message = build_update(V4, prefixes, attributes=ATTRS, max_size=65535)
    assert len(message) == octets
    return message


BIG = update_of(CAPTURED)
SMALL = build_update(V4, host_routes(2), attributes=ATTRS)


# -- the codec -----------------------------------------------------------------------------------
def test_the_65261_octet_update_splits_only_on_a_session_with_extended_messages():
    stream = WIDE + build_keepalive() + BIG + SMALL
    with pytest.raises(FramingError, match=f"length {CAPTURED} is outside 19..4096") as refused:
        split_messages(stream)
    assert refused.value.subcode == BAD_MESSAGE_LENGTH
    assert refused.value.data == CAPTURED.to_bytes(2)  # RFC 4271 §6.1: the erroneous Length
    assert f"offset {len(WIDE) + 19}" in str(refused.value)
    found, rest = split_messages(stream, 65535)
    assert [m for _, m in found] == [WIDE, build_keepalive(), BIG, SMALL] and rest == b""
    announced = [prefix for _, prefix in parse_update(found[2][1]).announce]
    assert len(announced) == 13044 and announced[-1] == "11.0.0.0/8"


def test_an_extended_stream_splits_the_same_at_any_cut():
    stream = WIDE + build_keepalive() + BIG + SMALL
    cuts = {*range(0, len(stream) + 1, 997), len(WIDE) + 19 + 18, len(stream) - len(SMALL)}
    for cut in sorted(cuts):
        first, tail = split_messages(stream[:cut], 65535)
        rest, empty = split_messages(tail + stream[cut:], 65535)
        assert [m for _, m in first + rest] == [WIDE, build_keepalive(), BIG, SMALL], cut
        assert empty == b""


@pytest.mark.parametrize(("kind", "name"), [(1, "OPEN"), (4, "KEEPALIVE")])
def test_open_and_keepalive_stay_within_4096_octets_even_when_negotiated(kind, name):
    """RFC 8654 §4: the capability applies to every message but OPEN and KEEPALIVE."""
    header = b"\xff" * 16 + (4097).to_bytes(2) + bytes([kind])
    with pytest.raises(FramingError, match=r"length 4097 is outside 19\.\.4096.*never an extended"):
        split_messages(header + bytes(4097 - 19), 65535)
    with pytest.raises(ValueError, match="4096-octet limit"):
        check_size(header + bytes(4097 - 19), 65535)
    update = b"\xff" * 16 + (4097).to_bytes(2) + b"\x02" + bytes(4097 - 19)
    assert split_messages(update, 65535)[0] == [(2, update)], name


def test_the_encoder_keeps_to_the_session_maximum():
    routes = host_routes(3000)
    with pytest.raises(ValueError, match="15044 octets, over the 4096-octet limit"):
        build_update(V4, routes, attributes=ATTRS)
    assert len(build_update(V4, routes, attributes=ATTRS, max_size=65535)) == 15044
    with pytest.raises(ValueError, match="over the 65535-octet limit"):
        build_update(V4, host_routes(13200), attributes=ATTRS, max_size=65535)


def test_the_maximum_needs_both_opens_to_carry_capability_6():
    """RFC 5492 §3: a capability is used when both peers advertised it; RFC 8654 §4."""
    assert decode_open(WIDE).extended_message and not decode_open(NARROW).extended_message
    assert (6, b"") in decode_open(WIDE).capabilities
    assert negotiated_max_size(WIDE, WIDE) == 65535
    assert negotiated_max_size(WIDE, NARROW) == negotiated_max_size(NARROW, WIDE) == 4096
    assert negotiated_max_size(NARROW, None) == negotiated_max_size(None, NARROW) == 4096
    assert negotiated_max_size(WIDE, None) is None  # the other side's OPEN was not seen
    assert negotiated_max_size(None, None) is None
    assert negotiated_max_size(b"OPEN-OF-THE-SPEAKER", WIDE) == 4096  # not an OPEN: no capability


# -- the wire reassembly -------------------------------------------------------------------------
def segments(seq: int, data: bytes, *, syn: bool, at: float = 1.0) -> list[Segment]:
    """A SYN (when `syn`), then `data` in 1448-octet segments from sequence number `seq`."""
    out = [Segment(at, seq - 1, TCP_SYN, b"")] if syn else []
    for i in range(0, len(data), 1448):
        out.append(Segment(at + 0.001 * (i // 1448 + 1), seq + i, 0x10, data[i : i + 1448]))
    return out


def session(ours: bytes, theirs: bytes) -> Flow:
    """An RR's side of a session that began during the capture, with the peer's OPEN."""
    sent = Flow("10.0.0.10", "10.0.0.20", segments(1001, ours + build_keepalive() + BIG, syn=True))
    sent.reverse = Flow("10.0.0.20", "10.0.0.10", segments(5001, theirs, syn=True))
    return sent


def test_a_captured_session_is_read_within_the_maximum_its_opens_negotiated():
    flow = session(WIDE, WIDE)
    assert flow.open_message() == WIDE and flow.max_message_size == 65535
    assert [m for _, m in flow.messages()][-1] == BIG
    narrow = session(WIDE, NARROW)
    assert narrow.max_message_size == 4096
    with pytest.raises(FramingError, match=f"length {CAPTURED} is outside 19..4096"):
        list(narrow.messages())


def test_a_session_up_before_the_capture_is_read_up_to_65535_without_a_verdict():
    """No OPEN on the wire: the maximum is unknown (None), and the stream is read as the most
    a header can say (capture.py's module docstring)."""
    flow = Flow("10.0.0.10", "10.0.0.20", segments(1001, SMALL + BIG + SMALL, syn=False))
    flow.reverse = Flow("10.0.0.20", "10.0.0.10", segments(5001, build_keepalive(), syn=False))
    assert flow.open_message() is None and flow.max_message_size is None
    assert [m for _, m in flow.messages()] == [SMALL, BIG, SMALL]


def test_the_capture_pairs_each_direction_with_the_other():
    capture = Capture.__new__(Capture)  # no socket: only what `_add` files
    capture.flows = {}
    for src, dst, sport, dport, seq, flags, data in (
        ("10.0.0.10", "10.0.0.20", 179, 40000, 1000, "S", b""),
        ("10.0.0.20", "10.0.0.10", 40000, 179, 5000, "SA", b""),
        ("10.0.0.10", "10.0.0.20", 179, 40000, 1001, "A", WIDE),
        ("10.0.0.20", "10.0.0.10", 40000, 179, 5001, "A", WIDE),
    ):
        packet = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq, flags=flags) / data
        capture._add(1.0, bytes(packet))
    (rr,) = capture.from_peer("10.0.0.10")
    assert rr.reverse is capture.reverse(rr) and rr.reverse is not None
    assert rr.reverse.reverse is rr and rr.max_message_size == 65535


# -- the speaker's process, against a peer socket on loopback ------------------------------------
@pytest.fixture
def peer_socket():
    import socket

    server = socket.create_server((PEER, 179))
    server.settimeout(10)
    yield server
    server.close()


def up(speaker: Speaker, peer_socket, ours: bytes, theirs: bytes):
    """The session Established (RFC 4271 §8): the peer's OPEN and KEEPALIVE after ours."""
    conn, _ = peer_socket.accept()
    conn.settimeout(10)
    read_until(conn, ours)
    conn.sendall(theirs + build_keepalive())
    record = speaker.await_record(lambda r: r.get("state") == "up", "the session to come up")
    return conn, record


def request(message: bytes, *, oversize: bool = False) -> bytes:
    body = {"peer": PEER, "send": message.hex()} | ({"oversize": True} if oversize else {})
    return json.dumps(body).encode() + b"\n"


@needs_root
def test_the_speaker_negotiates_extended_messages_and_reads_and_sends_them(tmp_path, peer_socket):
    speaker = Speaker(tmp_path, hold_time=0, open_message=WIDE)
    try:
        conn, record = up(speaker, peer_socket, WIDE, WIDE)
        assert record["max_message_size"] == 65535
        conn.sendall(BIG)
        got = speaker.await_record(lambda r: r["kind"] == "update", "the extended UPDATE")
        assert bytes.fromhex(got["hex"]) == BIG
        assert speaker.ask(request(BIG)) == "done"  # within the negotiated 65535
        read_until(conn, BIG[-64:])
        conn.close()
    finally:
        speaker.stop()


@needs_root
def test_without_capability_6_over_4096_is_bad_message_length_both_ways(tmp_path, peer_socket):
    """The speaker sent no capability 6: the session's maximum is 4096 although the peer sent
    it. The API refuses a longer message unless `oversize`; a longer one from the peer is a
    Message Header Error, Bad Message Length (1/2) carrying the Length (RFC 4271 §6.1)."""
    speaker = Speaker(tmp_path, hold_time=0, open_message=NARROW)
    try:
        conn, record = up(speaker, peer_socket, NARROW, WIDE)
        assert record["max_message_size"] == 4096
        reply = speaker.ask(request(update_of(5000)))
        assert reply.startswith("error: message is 5000 octets, over the 4096-octet limit"), reply
        assert speaker.ask(request(update_of(5000), oversize=True)) == "done"
        read_until(conn, update_of(5000)[-64:])
        conn.sendall(update_of(5000))
        read_until(conn, b"\x03\x01\x02" + (5000).to_bytes(2))  # NOTIFICATION 1/2, Length 5000
        end = speaker.await_record(lambda r: r.get("state") == "down", "the speaker to close")
        assert end["closed_by"] == "self" and end["reason"].startswith("bad BGP length 5000")
        assert not any(r["kind"] == "update" for r in speaker.records())
        conn.close()
    finally:
        speaker.stop()


# -- a real session with FRR ---------------------------------------------------------------------
SENDER, WIDE_CLIENT, NARROW_CLIENT = "sender", "wide", "narrow"


def extended_plan() -> LabPlan:
    """The default SUT's RR pods, and three crafted clients: one sends, `wide` negotiates
    extended messages (capability 6, the default), `narrow` does not (`extended_message`)."""
    sut = load_sut(DEFAULT_SUT)
    net = sut.values.pod_cidr
    rrs = [f"rr-{i}" for i in range(sut.values.replicas)]

    def at(host: int) -> list[dict[str, object]]:
        return [
            {"segment": "cluster", "addresses": [f"{net.network_address + host}/{net.prefixlen}"]}
        ]

    labels = {  # the pods' labels, as the design's Deployment sets them
        "app.kubernetes.io/name": "openperouter-rr",
        "app.kubernetes.io/component": "route-reflector",
    }
    nodes: list[dict[str, object]] = [
        {"name": rr, "role": "route-reflector", "asn": sut.values.asn, "labels": labels}
        | {"interfaces": at(10 + i)}
        for i, rr in enumerate(rrs)
    ]
    for host, name in ((20, SENDER), (30, WIDE_CLIENT), (31, NARROW_CLIENT)):
        nodes.append(
            {
                "name": name,
                "role": "crafted-speaker",
                "asn": sut.values.asn,
                "interfaces": at(host),
                "families": ["ipv4-unicast"],
                "peers": rrs,
                "extended_message": name != NARROW_CLIENT,
            }
        )
    topology = Topology.model_validate(
        {
            "name": "extended-messages",
            "segments": [{"name": "cluster", "kind": "cluster-network", "subnets": [str(net)]}],
            "nodes": nodes,
        }
    )
    return LabPlan(topology, sut, source="extended-messages topology")


@pytest.fixture(scope="module")
def ext_lab() -> Iterator[NetnsLab]:
    with NetnsBackend().up(extended_plan(), Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        assert not lab.unready, lab.unready
        yield lab


def update_sizes(speaker: CraftedSpeaker, peer: str) -> list[int]:
    return [
        len(bytes.fromhex(e["hex"]))
        for e in map(json.loads, (speaker.directory / "received.jsonl").read_text().splitlines())
        if e["kind"] == "update" and e["peer"] == peer
    ]


@needs_root
def test_frr_sends_an_extended_update_only_to_a_client_that_negotiated_it(ext_lab):
    sender, wide, narrow = (ext_lab.speaker(n) for n in (SENDER, WIDE_CLIENT, NARROW_CLIENT))
    rr = sender.peer_address("rr-0")
    # what each side recorded of its OPENs, and what FRR says it negotiated
    assert (wide.rib.extended_messages(rr), narrow.rib.extended_messages(rr)) == (True, False)
    neighbors = ext_lab.frr("rr-0").query("show bgp neighbors json")
    said = {
        ip: neighbors[ip]["neighborCapabilities"].get("extendedMessage")
        for ip in (wide.sessions[0].local_address, narrow.sessions[0].local_address)
    }
    assert list(said.values()) == ["advertisedAndReceived", "advertised"], said
    routes = host_routes(3000, first=1 << 16)
    assert sender.max_message_size("rr-0") == 65535  # so the 3000 routes go in one UPDATE
    sender.announce(
        V4, routes, Attributes(next_hop=sender.sessions[0].local_address, local_pref=100), "rr-0"
    )
    wanted = set(routes)

    def held() -> dict[str, int]:
        return {
            s.node: len(wanted & {r.key for r in s.rib.routes() if r.peer == rr})
            for s in (wide, narrow)
        }

    wait_until(
        held, lambda h: min(h.values()) == len(wanted), timeout=20, what="3000 routes via rr-0"
    )
    wide_sizes, narrow_sizes = update_sizes(wide, rr), update_sizes(narrow, rr)
    assert max(wide_sizes) > 4096, wide_sizes  # FRR 8.4 packed them in 15066 octets here
    assert max(narrow_sizes) <= 4096, narrow_sizes


@needs_root
def test_frr_answers_an_over_size_update_with_bad_message_length(ext_lab):
    """`narrow` negotiated 4096 octets: its own encoder and its process refuse a longer UPDATE;
    sent on purpose (`oversize`), FRR answers NOTIFICATION Message Header Error / Bad Message
    Length (1/2) with the erroneous Length as data (RFC 4271 §6.1, RFC 8654 §4). The session
    resets; the speaker connects again."""
    narrow = ext_lab.speaker(NARROW_CLIENT)
    rr = narrow.peer_address("rr-0")
    routes = host_routes(1000, first=2 << 16)
    attributes = Attributes(next_hop=narrow.sessions[0].local_address, local_pref=100)
    with pytest.raises(ValueError, match="over the 4096-octet limit"):
        narrow.announce(V4, routes, attributes, peer="rr-0")
    message = build_update(V4, routes, attributes=attributes, max_size=65535)
    with pytest.raises(DaemonError, match=r"over the 4096-octet limit.*oversize"):
        narrow.send(message, peer="rr-0")
    before = len(narrow.rib.refresh().events)
    narrow.send(message, peer="rr-0", oversize=True)

    def since() -> list[dict[str, object]]:
        return [e for e in narrow.rib.refresh().events[before:] if e["peer"] == rr]

    seen = wait_until(
        since,
        lambda got: any(e.get("state") == "up" for e in got),
        timeout=30,
        what="rr-0's answer to the over-size UPDATE, then the session up again",
        describe=lambda got: [(e["kind"], e.get("state")) for e in got],
    )
    answers = [bytes.fromhex(str(e["hex"])) for e in seen if e["kind"] == "notification"]
    assert [(m[19], m[20], m[21:]) for m in answers] == [(1, 2, len(message).to_bytes(2))]
    assert narrow.rib.notifications(rr)[-1] == (1, 2)
