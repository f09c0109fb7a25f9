"""The crafted-UPDATE speaker against two independent decoders: FRR and ExaBGP.

What the speaker encodes (our own EVPN NLRI codec on scapy's BGP layers) must be read back by
FRR (router-2, through the RRs) and by ExaBGP (the observer) as the same routes with the same
attributes; and what the speaker receives must decode into the same `Route` records FRR shows.
"""

from __future__ import annotations

import pytest
from conftest import needs_root

from harness.backends.base import routes, unready_sessions
from harness.bgp.attributes import Attributes
from harness.bgp.evpn import InclusiveMulticastRoute, IpPrefixRoute, MacIpRoute
from harness.bgp.update import build_update
from harness.errors import DaemonError
from harness.expect import await_tables, missing_reflections, reflectors
from harness.inject import Injector, attributes_for
from harness.model.base import Family
from harness.observe.wait import wait_until

pytestmark = [needs_root, pytest.mark.usefixtures("profile_frr")]
EVPN = Family.L2VPN_EVPN

ROUTES = [
    MacIpRoute(rd="10.244.0.31:100", mac="02:31:00:00:00:01", label=100),
    MacIpRoute(rd="10.244.0.31:100", mac="02:31:00:00:00:02", ip="10.100.0.131", label=100),
    MacIpRoute(rd="10.244.0.31:100", mac="02:31:00:00:00:03", ip="fd00:100::31", label=100),
    InclusiveMulticastRoute(rd="10.244.0.31:100", originator_ip="10.244.0.31"),
    IpPrefixRoute(rd="10.244.0.31:5", prefix="10.131.0.0/16", label=5000),
    IpPrefixRoute(rd="10.244.0.31:5", prefix="2001:db8:131::/48", label=5000),
]


@pytest.fixture
def injector(lab):
    inject = Injector(lab)
    yield inject
    inject.withdraw_all(timeout=10.0)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key.split(" rd ")[0] + f" {r.key[-20:]}")
def test_evpn_encoding_reads_the_same_in_frr_and_exabgp(lab, injector, route):
    client = lab.plan.topology.node("client")
    extra = {"pmsi": (6, 100, "10.244.0.31")} if isinstance(route, InclusiveMulticastRoute) else {}
    attrs = attributes_for(lab, client, EVPN, med=7, communities=("64514:31",), **extra)
    rr = reflectors(lab)[0]
    injector.announce("client", EVPN, [route], attrs, peer=rr.name)
    frr_node, exa_node = lab.plan.topology.node("router-2"), lab.plan.topology.node("observer")
    tables = await_tables(
        lab,
        [frr_node, exa_node],
        lambda t: missing_reflections(t, {route.key}, "client", [rr]),
        timeout=10,
        what=f"{route.key} to reach FRR and ExaBGP",
    )
    (by_frr,) = tables["router-2"].paths(route.key)
    (by_exabgp,) = tables["observer"].paths(route.key)
    for got in (by_frr, by_exabgp):
        assert got.rd == route.rd
        assert got.next_hop == attrs.next_hop
        assert got.med == 7 and got.local_pref == 100
        assert got.communities == ("64514:31",)
        assert set(got.ext_communities) == set(attrs.ext_communities)
        assert got.originator_id == str(client.router_id)


def test_what_the_speaker_receives_decodes_like_frr_shows_it(lab):
    """The ToR (a crafted speaker) receives router-1's EVPN over eBGP; its decoding of those
    UPDATEs must name the same routes, next hops and route targets FRR shows for them."""
    own = routes(lab, "router-1").local()
    tor = wait_until(
        lambda: routes(lab, "tor"),
        lambda t: {r.key for r in own} <= t.keys(),
        timeout=10,
        what="router-1's routes at the ToR",
        describe=lambda t: t.summary(),
    )
    for sent in own:
        (got,) = tor.paths(sent.key)
        assert got.next_hop == sent.next_hop
        assert set(got.ext_communities) >= set(sent.ext_communities)
        assert got.as_path == (64514,)


def test_ipv4_and_ipv6_unicast_encoding_reads_the_same_in_frr_and_exabgp(lab, injector):
    client = lab.plan.topology.node("client")
    rr = reflectors(lab)[0]
    prefix = "10.131.7.0/24"
    injector.announce(
        "client",
        Family.IPV4_UNICAST,
        [prefix],
        attributes_for(lab, client, Family.IPV4_UNICAST, as_path=(64700,)),
        peer=rr.name,
    )
    tables = await_tables(
        lab,
        [lab.plan.topology.node("router-2"), lab.plan.topology.node("observer")],
        lambda t: missing_reflections(t, {prefix}, "client", [rr]),
        timeout=10,
        what=f"{prefix} to reach FRR and ExaBGP",
    )
    for node in ("router-2", "observer"):
        (got,) = tables[node].paths(prefix)
        assert (got.next_hop, got.as_path) == ("10.244.0.31", (64700,)), node


# Every attribute a route reflector passes on (RFC 4456 §10, RFC 4271 §5), an unknown optional
# transitive one included: what FRR 8.4 does with each is in tests/test_observe.py.
EVERY_ATTRIBUTE = {
    "as_path_segments": (("sequence", (64600,)), ("set", (64602, 64601))),
    "atomic_aggregate": True,
    "aggregator": "4200000001:10.9.9.9",
    "communities": ("64514:31", "64514:3"),
    "large_communities": ("64514:7:8", "4200000001:1:2"),
    "med": 7,
    "raw": ((0xC0, 240, bytes.fromhex("0102030405")),),
}


@pytest.mark.parametrize(
    ("family", "route", "origin"),
    [
        (EVPN, MacIpRoute(rd="10.244.0.31:100", mac="02:31:00:00:00:07", label=100), "egp"),
        (Family.IPV4_UNICAST, "10.131.8.0/24", "incomplete"),
    ],
    ids=["evpn", "ipv4"],
)
def test_every_attribute_reads_the_same_in_frr_exabgp_and_the_wire(
    lab, injector, family, route, origin
):
    """ORIGIN, AS_PATH with an AS_SET, ATOMIC_AGGREGATE, AGGREGATOR (4-octet AS), both kinds
    of communities and an unknown optional transitive attribute, as FRR (router-2), ExaBGP
    (the observer) and the harness's decoder (nonclient-1) read them after reflection."""
    client = lab.plan.topology.node("client")
    attrs = attributes_for(lab, client, family, origin=origin, **EVERY_ATTRIBUTE)
    rr = reflectors(lab)[0]
    injector.announce("client", family, [route], attrs, peer=rr.name)
    key = route if isinstance(route, str) else route.key
    nodes = [lab.plan.topology.node(n) for n in ("router-2", "observer", "nonclient-1")]
    tables = await_tables(
        lab,
        nodes,
        lambda t: missing_reflections(t, {key}, "client", [rr]),
        timeout=10,
        what=f"{key} to reach FRR, ExaBGP and a crafted speaker",
    )
    unknown = {  # FRR 8.4 shows none; the RR set Partial, which ExaBGP would show anyway
        "router-2": (),
        "observer": ((0xE0, 240, "0102030405"),),
        "nonclient-1": ((0xE0, 240, "0102030405"),),
    }
    for node, table in tables.items():
        (got,) = table.paths(key)
        assert got.origin == origin, node
        assert got.as_path_segments == (("sequence", (64600,)), ("set", (64601, 64602))), node
        assert got.as_path == (64600, 64601, 64602), node
        assert (got.atomic_aggregate, got.aggregator) == (True, "4200000001:10.9.9.9"), node
        assert tuple(sorted(got.communities)) == ("64514:3", "64514:31"), node
        assert got.large_communities == ("64514:7:8", "4200000001:1:2"), node
        assert got.unknown == unknown[node], node
        assert set(got.ext_communities) == set(attrs.ext_communities), node


def test_raw_malformed_attribute_bytes_reach_the_wire_untouched(lab):
    """Raw attribute bytes are sent as given: a MED of two octets (RFC 4271 §5.1.4 wants four,
    RFC 7606 §7.4) is what the RR reports receiving, and the route is not installed."""
    rr = reflectors(lab)[0]
    node = lab.plan.topology.node("nonclient-2")
    message = build_update(
        Family.IPV4_UNICAST,
        ["10.131.9.0/24"],
        attributes=Attributes(
            next_hop=str(node.router_id), local_pref=100, raw=((0x80, 4, b"\x00\x07"),)
        ),
    )
    lab.speaker("nonclient-2").send(message, peer=rr.name)
    wait_until(
        lambda: lab.frr(rr.name).log_text(),
        lambda text: "MED attribute length isn't four [2]" in text,
        timeout=10,
        what=f"{rr.name} to log the two-octet MED",
        describe=lambda text: text.splitlines()[-5:],
    )
    assert not routes(lab, rr.name, Family.IPV4_UNICAST).paths("10.131.9.0/24")
    # FRR 8.4 answers with NOTIFICATION 3/5 and resets the session, where RFC 7606 §7.4 asks
    # for treat-as-withdraw; the speaker reconnects. Leave the shared lab as it was found.
    wait_until(
        lambda: unready_sessions(lab),
        lambda down: not down,
        timeout=15,
        what="every session to be Established again",
        describe=lambda d: d,
    )


def test_sending_on_a_session_that_is_not_up_is_a_clear_error(lab):
    with pytest.raises(
        DaemonError, match=r"outsider: could not send to 10\.244\.0\.10: error: session"
    ):
        lab.speaker("outsider").send(build_update(EVPN), peer="rr-0")
