"""Known deviations of named implementations and versions from an RFC: each is an expected
failure with its evidence, and a strict one.

A check that meets a known deviation of the SUT's implementation and version reports it as an
expected failure (xfail) only when everything it found is that deviation; anything else is an
ordinary failure. When the deviation is declared for the SUT's version but no longer seen, the
check fails, saying so: the table below must follow the software, not the other way round.
Deviations are keyed by version: one name may hold an entry per version it was measured on,
each with its own evidence; a version with no entry must pass the check. A deviation of a
design (what a SUT profile's templates render, whatever its FRR) names the design (`sut.yaml`'s
kind) and every version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest

from harness.backends.base import Lab, implementation


@dataclass(frozen=True)
class Deviation:
    name: str
    implementation: str  # the driver's name (sut.yaml `implementation`)
    versions: tuple[str, ...]  # version prefixes it was measured on ("8.4" covers 8.4.4)
    rule: str  # what the RFC asks
    evidence: str  # what was measured, and where
    cases: tuple[str, ...] = ()  # robustness cases it covers (harness/robustness/cases.py)
    design: str = ""  # the SUT design it belongs to (SutValues.kind); "" for any

    def applies(self, name: str, version: str, design: str = "") -> bool:
        return (
            name == self.implementation
            and version.startswith(self.versions)
            and self.design in ("", design)
        )


_NO_MED = (
    "RFC 4456 §10: a reflected route keeps its attributes; one sent without MED arrives without MED"
)
_AS_SET = (
    "RFC 4456 §10 (with RFC 4271 §5.1.2): a reflected route keeps its AS_PATH, an AS_SET "
    "included. RFC 9774 §3 (2025) deprecates AS_SET and asks for treat-as-withdraw: the "
    "newer RFC is what FRR 10.7 follows"
)
_RFC_7606_APPROACHES = (
    "RFC 7606 §2, §7: a malformed attribute is handled by treat-as-withdraw or attribute "
    "discard, never by a session reset; the approaches apply to iBGP as to eBGP"
)
NEXT_HOP_SELF_TO_NON_CLIENTS = "next-hop-self-force-to-non-clients"
KNOWN: tuple[Deviation, ...] = (
    Deviation(
        NEXT_HOP_SELF_TO_NON_CLIENTS,
        "frr",
        ("",),
        "RFC 4456 §10: an RR does not change NEXT_HOP (nor any attribute) of a reflected route",
        "OpenPERouter's merged design (upstream at 1d5dcdfd with PR #731) renders `neighbor X "
        "next-hop-self force` in ipv4/ipv6 unicast for every iBGP neighbor that is not a "
        "route-reflector client: the other RR nodes, and any configured non-client. `force` "
        "applies to reflected routes too: both non-clients receive a client's IPv4 route with "
        "the reflecting RR's own address as NEXT_HOP (attributes suite, ipv4). Between the RRs "
        "the shared cluster id hides it (each drops the other's reflections, RFC 4456 §8); RRs "
        "with different cluster ids would pass the RR's address on to their clients",
        design="openperouter-upstream",
    ),
    Deviation(
        "med-zero-added",
        "frr",
        ("8.4",),
        _NO_MED,
        "FRR 8.4.4 reflects a route sent without MED with MED 0: measured on the wire at a "
        "non-client and in the clients' tables (tests/data/frr-reflected-attributes.hex)",
    ),
    Deviation(
        "med-zero-added",
        "frr",
        ("10.3",),
        _NO_MED,
        "FRR 10.3 (Debian trixie 10.3-3+deb13u1) reflects a route sent without MED with MED 0, "
        "as 8.4 does: measured at the observer (ExaBGP decoding the RR's UPDATEs) and in every "
        "client's table, through both replicas, EVPN and IPv4 (`rr-harness run attributes "
        "--frr 10.3`). FRR 10.7.1 reflects it without MED",
    ),
    Deviation(
        "as-set-treated-as-withdraw",
        "frr",
        ("10.7",),
        _AS_SET,
        "FRR 10.7.1 (Debian sid 10.7.1-6) treats a route whose AS_PATH holds an AS_SET as "
        'withdrawn (`bgp reject-as-sets` is on by default): the RR logs "AS_SET and '
        'AS_CONFED_SET are deprecated from <client>" and "`bgp reject-as-sets` is enabled, and '
        'AS-path (64600 64601 {64602,64603}) contains AS_SET/AS_CONFED_SET", and no client nor '
        "the observer receives it. FRR 8.4.4 and 10.3 reflect it unchanged",
    ),
    # Robustness (suites/test_robustness.py), measured on Debian's FRR 8.4.4, 10.3-3+deb13u1
    # (trixie) and 10.7.1-6 (sid), the source read at FRRouting/frr's tags.
    Deviation(
        "ibgp-update-errors-reset-the-session",
        "frr",
        ("8.4", "10.3"),
        _RFC_7606_APPROACHES,
        "FRR 8.4.4 and 10.3 (the same, case by case) answer every malformed attribute from an "
        "iBGP peer (the RR's clients) with "
        "a NOTIFICATION and reset the session: 3/5 Attribute Length Error (ORIGIN, NEXT_HOP, "
        "MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, ORIGINATOR_ID, CLUSTER_LIST lengths; an "
        "attribute length past the path attributes), 3/6 (ORIGIN 7), 3/11 Malformed AS_PATH, "
        "3/9 Optional Attribute Error (communities of all kinds), 3/4 Attribute Flags Error; "
        'bgpd/bgp_attr.c bgp_attr_malformed(): "Only relax error handling for eBGP peers". '
        "The session comes back at once and no other session flaps; a missing well-known "
        "attribute is treated as withdraw, as RFC 7606 §3 d asks",
        (
            "origin-length-2",
            "origin-undefined",
            "as-path-unknown-segment-type",
            "as-path-segment-overrun",
            "as-path-segment-underrun",
            "as-path-zero-length-segment",
            "next-hop-length-5",
            "med-length-2",
            "med-length-2-evpn",
            "local-pref-length-2",
            "atomic-aggregate-length-1",
            "aggregator-length-7",
            "communities-length-3",
            "communities-length-0",
            "ext-communities-length-15",
            "large-communities-length-11",
            "originator-id-length-3",
            "cluster-list-length-0",
            "cluster-list-length-6",
            "origin-optional-bit",
            "local-pref-optional-bit",
            "extended-length-misread",
            "attribute-overruns-total-length",
            "attribute-header-truncated",
        ),
    ),
    Deviation(
        "ibgp-update-errors-reset-the-session",
        "frr",
        ("10.7",),
        _RFC_7606_APPROACHES,
        "FRR 10.7.1 handles the iBGP peer's malformed attributes as RFC 7606 asks but one: two "
        "octets left after the last attribute (fewer than an attribute header, RFC 7606 §4's "
        "second case) still get NOTIFICATION 3/5 and a session reset",
        ("attribute-header-truncated",),
    ),
    Deviation(
        "repeated-attribute-resets-the-session",
        "frr",
        ("8.4", "10.3", "10.7"),
        "RFC 7606 §3 g: an attribute other than MP_REACH_NLRI / MP_UNREACH_NLRI that appears "
        "twice is kept once (the first), the others discarded, and the UPDATE processed",
        "FRR 8.4.4, 10.3 and 10.7.1 answer a second MED with NOTIFICATION 3/1 Malformed "
        'Attribute List and reset the session (bgpd/bgp_attr.c bgp_attr_parse(): "If any '
        "attribute appears more than once in the UPDATE message, then the Error Subcode is set "
        "to Malformed Attribute List\", RFC 4271 §6.3's rule before RFC 7606)",
        ("duplicate-med",),
    ),
    Deviation(
        "closes-without-notification",
        "frr",
        ("8.4", "10.3", "10.7"),
        "RFC 4271 §6: an error is reported by a NOTIFICATION, and then the connection is "
        "closed; RFC 4760 §7: an incorrect MP_REACH_NLRI may end the session with 3/9 "
        "Optional Attribute Error",
        "FRR 8.4.4, 10.3 and 10.7.1 close the connection (FIN) with no NOTIFICATION on an "
        'MP_REACH_NLRI for an AFI never negotiated (136): the RR logs "Attribute '
        'MP_REACH_NLRI, parse error" and "bgp_process_packet: BGP UPDATE receipt failed for '
        "peer\". Found by `rr-harness fuzz --seed 1` (message 815: the AFI's first octet "
        "flipped); the session comes back at once, no other session flaps",
        ("mp-reach-unknown-afi",),
    ),
    Deviation(
        "evpn-treat-as-withdraw-keeps-the-route",
        "frr",
        ("10.7",),
        "RFC 7606 §2: an UPDATE handled by treat-as-withdraw withdraws every route it carries, "
        "in MP_REACH_NLRI too: a valid version of the route sent before is gone",
        "FRR 10.7.1 keeps the session, and keeps the EVPN route's earlier valid version: still "
        "at every router, the observer and the non-clients through the RR, and in its "
        "Adj-RIB-Out, 10 s on (MED of 2 octets, CLUSTER_LIST of 6, LOCAL_PREF flagged "
        "optional); the same errors on an IPv4 route withdraw it",
        ("med-length-2-evpn", "cluster-list-length-6", "local-pref-optional-bit"),
    ),
    Deviation(
        "unrecognised-well-known-treated-as-withdraw",
        "frr",
        ("10.7",),
        "RFC 4271 §5, §6.3: every well-known attribute is recognised; an attribute flagged "
        "well-known (Optional bit 0) with an unknown type code is answered with NOTIFICATION "
        "3/2 Unrecognized Well-known Attribute",
        "FRR 10.7.1 keeps the session: an unknown attribute bgp_attr_malformed() handles is "
        'treated as withdraw ("to prevent one more CVE from being introduced", '
        "bgpd/bgp_attr.c), where 8.4 and 10.3 send 3/2",
        ("unrecognised-well-known",),
    ),
    # GoBGP as the RR (fixtures/sut/gobgp-rr), measured on Debian's gobgpd 3.10.0 with its
    # source read at the v3.10.0 tag (github.com/osrg/gobgp).
    Deviation(
        "no-reflection-attributes-to-non-clients",
        "gobgp",
        ("3.10",),
        "RFC 4456 §8: an RR creates ORIGINATOR_ID when it reflects a route, and MUST prepend its "
        "CLUSTER_ID to the CLUSTER_LIST, to non-clients as to clients",
        "GoBGP 3.10.0 sends a client's route to a configured non-client with neither: it removes "
        "both unless the receiver is a client (internal/pkg/table/path.go, UpdatePathAttrs: "
        '"send these attributes to only rr clients"). Seen at both non-clients, EVPN and IPv4, '
        "through both replicas (reflection-rules suite)",
    ),
    Deviation(
        "own-cluster-id-reflected-to-non-clients",
        "gobgp",
        ("3.10",),
        "RFC 4456 §8: a route received with the RR's own CLUSTER_ID in its CLUSTER_LIST SHOULD "
        "be ignored: reflected to no one",
        "GoBGP 3.10.0 keeps it in its RIB and leaves it out only towards clients (debug log "
        '"cluster list path attribute has local cluster id, ignore", pkg/server/server.go '
        "filterpath); a configured non-client receives it, its CLUSTER_LIST removed. Seen at "
        "both non-clients, EVPN and IPv4 (loop-prevention suite)",
    ),
    Deviation(
        "partial-bit-not-set",
        "gobgp",
        ("3.10",),
        "RFC 4271 §9 (§5): an unrecognised optional transitive attribute passed on to other "
        "peers has its Partial bit set",
        "GoBGP 3.10.0 passes it on with the flags it arrived with (0xC0: Partial clear), values "
        "intact: decoded on the wire at both non-clients, EVPN and IPv4 (attributes suite; "
        "robustness suite, type 241); its source sets BGP_ATTR_FLAG_PARTIAL nowhere "
        "(pkg/packet/bgp, pkg/server)",
        ("unknown-optional-transitive",),
    ),
    Deviation(
        "idle-dynamic-neighbor-refuses-connections",
        "gobgp",
        ("3.10",),
        "the design's listen range with remote-as: every OPEN from another AS is answered with "
        "NOTIFICATION 2/2 Bad Peer AS (RFC 4271 §6.2), as FRR does. (RFC 4271 §8.2.2 lets a "
        "peer in Idle refuse connections, so this is the design's rule more than the RFC's)",
        "GoBGP 3.10.0 keeps a dynamic neighbor whose OPEN it refused, in Idle for its idle hold "
        "time (damped: 5 s after the second refusal), and closes that address's connections "
        'before any OPEN meanwhile (log: "Closed an accepted connection" '
        "State=BGP_FSM_IDLE); the connections after the hold time get 2/2 (listen-range "
        "suite). No session ever comes up",
    ),
)


def deviation_for(lab: Lab, name: str) -> Deviation | None:
    """Deviation `name` as declared for the SUT's implementation and version (None: none)."""
    if not any(d.name == name for d in KNOWN):
        raise KeyError(f"no deviation {name!r} in harness/deviations.py")
    impl, version = implementation(lab)
    design = lab.plan.sut.values.kind
    return next((d for d in KNOWN if d.name == name and d.applies(impl, version, design)), None)


def for_case(lab: Lab, case: str) -> Deviation | None:
    """The known deviation of the SUT's implementation and version a robustness case meets."""
    impl, version = implementation(lab)
    return next((d for d in KNOWN if case in d.cases and d.applies(impl, version)), None)


def judge(
    lab: Lab,
    name: str,
    problems: list[str],
    deviant: Callable[[str], bool],
    *,
    exposed: bool = True,
    also: Mapping[str, Callable[[str], bool]] | None = None,
) -> None:
    """The final verdict of a check whose `problems` may be known deviation `name` (`deviant`
    tells its problems apart): xfail when they all are and it applies to the SUT, a failure
    for anything else, and a failure when it applies but was not seen. `exposed`: whether what
    the check sent could show the deviation at all (e.g. a route sent without MED); when not,
    the check is judged as any other. `also`: further deviations the check exposes, each with
    its own test of a problem; one that applies must be seen among the problems, and its
    problems are excused with it."""
    impl, version = implementation(lab)
    for other, matches in (also or {}).items():
        extra = deviation_for(lab, other)
        if extra is None:
            continue
        mine = [p for p in problems if matches(p)]
        assert mine, (
            f"known deviation {other} of the {extra.design or impl} design no longer seen "
            f"({extra.rule}): remove it from harness/deviations.py"
        )
        problems = [p for p in problems if not matches(p)]
        if not problems and deviation_for(lab, name) is None:
            pytest.xfail(
                f"known deviation {other}: {extra.evidence}; {extra.rule}. Seen: {mine[0]}"
            )
    deviation = deviation_for(lab, name)
    if exposed and deviation is not None:
        assert problems, (
            f"known deviation {name} of {impl} {version} no longer seen ({deviation.rule}): "
            "remove it from harness/deviations.py"
        )
        seen = [p for p in problems if deviant(p)]
        if len(seen) == len(problems):
            pytest.xfail(
                f"known deviation of {impl} {version}: {deviation.evidence}; "
                f"{deviation.rule}. Seen: {seen[0]}"
                + (f" (and {len(seen) - 1} more)" if len(seen) > 1 else "")
            )
    assert not problems, "\n".join(problems)
