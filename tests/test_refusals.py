"""What a would-be client's recording proves (`harness.observe.refusals`), on hand-made entries
in the format `speaker_process` writes: a refusal is a connection the RR closed before any OPEN
(RFC 4271 §8, design `bgp listen range <podCIDR>`); Bad Peer AS is the RR's OPEN, then its
NOTIFICATION 2/2 (RFC 4271 §6.2); a connection the speaker ended itself proves neither."""

from __future__ import annotations

import json

from harness.bgp.session import build_notification, build_open
from harness.bgp.update import build_update
from harness.model.base import Family
from harness.observe.refusals import (
    attempts,
    bad_peer_as,
    ended_by_speaker,
    refused,
    settled,
)
from harness.observe.speaker import SpeakerRib

RR = "10.244.0.10"
RR_OPEN = build_open(64514, 9, "1.1.1.1", [Family.L2VPN_EVPN]).hex()
OUR_OPEN = build_open(64999, 9, "10.244.0.51", [Family.L2VPN_EVPN]).hex()
BAD_PEER_AS = build_notification(2, 2, (64999).to_bytes(2)).hex()


def connection(*middle: dict, by: str | None = "peer", reason: str = "peer closed") -> list:
    """One connection's entries: TCP up, our OPEN sent, `middle`, its end (`by` None: open)."""
    out = [{"kind": "state", "state": "connected"}, {"kind": "sent", "message": "open"}]
    out += middle
    if by is not None:
        out.append({"kind": "state", "state": "down", "closed_by": by, "reason": reason})
    return [{"peer": RR, "time": 100.0 + i, **e} for i, e in enumerate(out)]


def received(kind: str, message: str) -> dict:
    return {"kind": kind, "hex": message}


NO_CONNECTION = {"peer": RR, "kind": "state", "state": "down", "closed_by": None, "reason": "x"}
ESTABLISHED = (
    received("open", RR_OPEN),
    {"kind": "state", "state": "up"},
)


def test_a_connection_the_rr_closes_before_any_open_is_a_refusal():
    (attempt,) = attempts(connection(reason="[Errno 104] Connection reset by peer"))
    assert refused(attempt) and not ended_by_speaker(attempt)
    assert "closed by the peer after 2000 ms" in attempt.describe()


def test_a_cease_without_an_open_is_a_refusal_too():
    """RFC 4486 §4: Cease / Connection Rejected."""
    (attempt,) = attempts(connection(received("notification", build_notification(6, 5).hex())))
    assert refused(attempt) and bad_peer_as(attempt) is None


def test_a_notification_answering_our_open_is_no_refusal():
    for code in ((2, 2), (1, 1), (3, 1)):
        (attempt,) = attempts(connection(received("notification", build_notification(*code).hex())))
        assert not refused(attempt), code


def test_a_close_by_the_speaker_itself_is_no_refusal():
    (attempt,) = attempts(connection(by="self", reason="hold timer expired"))
    assert not refused(attempt) and ended_by_speaker(attempt)
    assert settled([attempt], refused, enough=5)  # the check cannot wait on: no verdict


def test_a_connection_never_made_is_no_refusal():
    (attempt,) = attempts([NO_CONNECTION])
    assert not attempt.connected and not refused(attempt) and not ended_by_speaker(attempt)


def test_a_session_that_came_up_is_no_refusal_and_settles_the_check():
    up = connection(*ESTABLISHED, by=None)
    (attempt,) = attempts(up)
    assert attempt.established and attempt.end is None and not refused(attempt)
    assert bad_peer_as(attempt) is None
    assert settled([attempt], refused, enough=2)


def test_wrong_as_is_the_rrs_open_then_its_notification_2_2():
    (attempt,) = attempts(
        connection(received("open", RR_OPEN), received("notification", BAD_PEER_AS))
    )
    evidence = bad_peer_as(attempt)
    assert evidence is not None and not refused(attempt)
    assert (evidence.open.asn, evidence.open.router_id) == (64514, "1.1.1.1")
    assert str(evidence) == (
        "OPEN from 10.244.0.10 (AS 64514, BGP identifier 1.1.1.1), "
        "then NOTIFICATION 2/2 Bad Peer AS (data: fde7)"
    )


def test_a_notification_with_another_code_is_not_bad_peer_as():
    for code in ((2, 1), (2, 3), (6, 2), (3, 2)):
        notification = build_notification(*code).hex()
        (attempt,) = attempts(
            connection(received("open", RR_OPEN), received("notification", notification))
        )
        assert bad_peer_as(attempt) is None, code


def test_bad_peer_as_without_the_rrs_open_is_evidence_without_its_identity():
    """FRR 8.4 drops its queued OPEN when it writes the NOTIFICATION at once (`bad_peer_as`)."""
    (attempt,) = attempts(connection(received("notification", BAD_PEER_AS)))
    evidence = bad_peer_as(attempt)
    assert evidence is not None and evidence.open is None and not refused(attempt)
    assert str(evidence) == (
        "NOTIFICATION 2/2 Bad Peer AS (data: fde7) from 10.244.0.10 after our OPEN "
        "(its own OPEN not received)"
    )


def test_bad_peer_as_answers_our_open_and_never_follows_a_session():
    unsent = [e for e in connection(received("notification", BAD_PEER_AS)) if e["kind"] != "sent"]
    assert bad_peer_as(attempts(unsent)[0]) is None
    after_up = connection(*ESTABLISHED, received("notification", BAD_PEER_AS))
    assert bad_peer_as(attempts(after_up)[0]) is None
    garbled = connection(received("open", "ff" * 19), received("notification", BAD_PEER_AS))
    assert bad_peer_as(attempts(garbled)[0]) is None


def test_attempts_split_per_peer_in_order():
    other = [dict(e, peer="10.244.0.11") for e in connection(by="self")]
    mixed = [NO_CONNECTION]
    for a, b in zip(connection(), other, strict=True):
        mixed += [a, b]
    mixed += connection(by=None)
    split = attempts(mixed)
    assert [(a.peer, a.connected, a.closed_by) for a in split] == [
        (RR, False, None),
        (RR, True, "peer"),
        ("10.244.0.11", True, "self"),
        (RR, True, None),  # still going
    ]


def test_settled_counts_proofs_and_connections_the_peer_ended_otherwise():
    one = attempts(connection())
    assert not settled(one, refused, enough=2)
    assert settled(one * 2, refused, enough=2)
    opened = attempts(connection(received("open", RR_OPEN)))  # closed after its OPEN
    assert not refused(opened[0])
    assert settled(opened * 2, refused, enough=2)  # the rule failed twice: decided too
    assert not settled(attempts([NO_CONNECTION] * 5), refused, enough=2)


def test_the_speaker_rib_keeps_every_event_but_updates_in_order(tmp_path):
    entries = connection(
        received("open", RR_OPEN),
        received("update", build_update(Family.IPV4_UNICAST).hex()),  # a table's, not an event
        {"kind": "sent", "message": "notification", "hex": build_notification(4, 0).hex()},
        received("notification", BAD_PEER_AS),
        by="peer",
    )
    path = tmp_path / "received.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    rib = SpeakerRib("wrong-asn", path).refresh()
    assert rib.events == [e for e in entries if e["kind"] != "update"]
    assert rib.sessions == {RR: "down"}
    assert rib.notifications() == [(2, 2)]
