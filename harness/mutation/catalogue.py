"""SUT variants, made from a SUT profile by named edits: how a check is shown able to fail, and
that it fails for the right reason.

A conformance check that passes against everything proves nothing. Each mutation breaks one
thing the design or an RFC requires; `rr-harness mutate` runs the suites against each variant
and tabulates which checks caught it, and the project's own tests assert that every variant is
caught and that every check catches at least one variant. A check that fails a correct SUT
proves nothing either: each equivalent variant (`EQUIVALENT`) configures the SUT differently in
a way RFC 4456 and the design allow, and must pass every check, as the profile itself does.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import InputError
from harness.model.loading import read_yaml
from harness.model.sut import ROUTER_TEMPLATE, RR_TEMPLATE, SUT_FILE
from harness.mutation.expected import EXPECTED
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY, FIXTURES_DIR


@dataclass(frozen=True)
class Edit:
    """Replace every occurrence of `old` (which must occur) by `new` in `file`."""

    file: str
    old: str
    new: str


FAILOVER_SUITE = "failover"
MESHRR_SUITE = "meshrr"
ROBUSTNESS_SUITE = "robustness"
STANDALONE, MESHRR, OPENPEROUTER = "standalone-rr", "meshrr", "openperouter-upstream"
HARNESS_RR = "harness-rr"
# Each variant edits one profile; `rr-harness mutate` runs that profile's baseline too.
PROFILES: dict[str, tuple[Path, Path]] = {
    STANDALONE: (DEFAULT_SUT, DEFAULT_TOPOLOGY),
    MESHRR: (FIXTURES_DIR / "sut" / "meshrr", FIXTURES_DIR / "topologies" / "meshrr.yaml"),
    OPENPEROUTER: (
        FIXTURES_DIR / "sut" / OPENPEROUTER,
        FIXTURES_DIR / "topologies" / f"{OPENPEROUTER}.yaml",
    ),
    HARNESS_RR: (FIXTURES_DIR / "sut" / "harness-rr", DEFAULT_TOPOLOGY),
}
# Profiles that are no product but the harness's own broken-on-purpose RR: correct for the
# suites their variants run, and only for those, so their baseline runs only those.
PARTIAL_BASELINES = frozenset({HARNESS_RR})


@dataclass(frozen=True)
class Mutation:
    name: str
    breaks: str  # the rule the variant violates
    edits: tuple[Edit, ...]
    suites: tuple[str, ...] = ()  # the suites run against it; () = all but failover
    profile: str = STANDALONE  # the SUT profile (and topology) it is a variant of
    must_pass: bool = False  # an equivalent variant: `breaks` says what differs, not a rule
    # A pytest -k expression: the checks of its suites the change can reach, when the others
    # would only cost minutes (each failover drill takes seconds to tens of seconds). The
    # proof holds it to `expected` among those; the baseline runs every check.
    select: str = ""
    # The checks that must catch it through their final assertion (`check_name` form,
    # `suite::test`), measured and reviewed: the mutation proof holds them to it.
    expected: tuple[str, ...] = ()

    def apply(self, profile: Path, target: Path) -> Path:
        """Write the variant into `target` (a new directory) and return it. A template the
        profile shares with another one (`../standalone-rr/router.conf.j2`) is copied beside
        it, at the same relative place."""
        shutil.copytree(profile, target)
        templates = (read_yaml(profile / SUT_FILE) or {}).get("templates") or {}
        for name in templates.values():
            if isinstance(name, str) and name.startswith("../"):
                shared = (target / name).resolve()
                shared.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(profile / name, shared)
        for edit in self.edits:
            path = target / edit.file
            text = path.read_text()
            if edit.old not in text:
                raise InputError(
                    f"mutation {self.name}: {profile / edit.file} does not contain {edit.old!r}; "
                    "the profile no longer has the shape this mutation edits"
                )
            path.write_text(text.replace(edit.old, edit.new))
        return target


def _rr(old: str, new: str) -> Edit:
    return Edit(RR_TEMPLATE, old, new)


def _router(old: str, new: str) -> Edit:
    return Edit(ROUTER_TEMPLATE, old, new)


_RR_CLIENT = "  neighbor CLIENTS route-reflector-client\n"


def _rewriting(what: str, attribute: str, set_lines: str) -> Mutation:
    """An RR whose outbound route-map changes `attribute` of every reflected route. FRR ignores
    outbound policy on reflected routes unless told otherwise, which is exactly the knob a
    misguided RR configuration turns."""
    return Mutation(
        f"rr-route-map-{what}",
        f"RFC 4456 §10: the RR does not change {attribute} of reflected routes",
        (
            _rr(
                "router bgp {{ sut.asn }}\n",
                f"route-map REWRITE permit 10\n {set_lines}\n!\n"
                "router bgp {{ sut.asn }}\n bgp route-reflector allow-outbound-policy\n",
            ),
            _rr(_RR_CLIENT, _RR_CLIENT + "  neighbor CLIENTS route-map REWRITE out\n"),
        ),
    )


CONFORMANCE: tuple[Mutation, ...] = (
    Mutation(
        "rr-without-route-reflector-client",
        "RFC 4456 §6 / design 'RR FRR Configuration': clients' routes are reflected",
        (_rr(_RR_CLIENT, ""),),
    ),
    Mutation(
        "client-to-client-reflection-disabled",
        "RFC 4456 §6: a route from a client is reflected to the other clients",
        (_rr(" bgp cluster-id", " no bgp client-to-client reflection\n bgp cluster-id"),),
    ),
    Mutation(
        "next-hop-self-on-rr",
        "RFC 4456 §10: the RR does not change NEXT_HOP (the VTEP)",
        (_rr(_RR_CLIENT, _RR_CLIENT + "  neighbor CLIENTS next-hop-self force\n"),),
    ),
    Mutation(
        "per-replica-cluster-ids",
        "RFC 4456 §7 / design: redundant RR replicas share one cluster id",
        (_rr("bgp cluster-id {{ sut.cluster_id }}", "bgp cluster-id {{ pod.address }}"),),
    ),
    _rewriting("rewriting-local-pref", "LOCAL_PREF", "set local-preference 200"),
    _rewriting("rewriting-origin", "ORIGIN", "set origin igp"),
    _rewriting("adding-med", "MED (a route sent without one gets one)", "set metric 77"),
    _rewriting(
        "adding-communities",
        "COMMUNITIES and LARGE_COMMUNITIES",
        "set community 64514:999 additive\n set large-community 64514:9:9 additive",
    ),
    _rewriting("rewriting-aggregator", "AGGREGATOR", "set aggregator as 64999 10.9.9.8"),
    Mutation(
        "listen-range-too-narrow",
        "design: the RR accepts clients from the whole pod CIDR",
        (_rr("bgp listen range {{ sut.pod_cidr }}", "bgp listen range 10.244.0.0/24"),),
    ),
    Mutation(
        "listen-range-too-wide",
        "design: the RR accepts clients from the pod CIDR only",
        (_rr("bgp listen range {{ sut.pod_cidr }}", "bgp listen range 10.0.0.0/8"),),
    ),
    Mutation(
        "listen-range-accepts-any-as",
        "design: RR clients are iBGP, in the SUT's AS",
        (
            # An eBGP neighbor inside the pod CIDR (the topology's would-be client in another
            # AS). A second listen range overlapping the pod CIDR cannot stand for it: FRR 8.4
            # refuses the overlap ("Config Failed") and then accepts no client at all.
            _rr(
                " ! Define peer-group first\n",
                " neighbor 10.244.0.51 remote-as external\n ! Define peer-group first\n",
            ),
            _rr(
                "  neighbor CLIENTS activate\n",
                "  neighbor CLIENTS activate\n  neighbor 10.244.0.51 activate\n",
            ),
        ),
    ),
    Mutation(
        "non-clients-configured-as-clients",
        "RFC 4456 §6: a route from a non-client is reflected to clients only",
        (
            _rr(
                "  neighbor {{ n.address }} activate\n",
                "  neighbor {{ n.address }} activate\n"
                "  neighbor {{ n.address }} route-reflector-client\n",
            ),
        ),
    ),
    Mutation(
        "allowas-in-on-ibgp",
        "design 'FRR Template Changes': allowas-in only on eBGP neighbors",
        (_router("{% if n.asn != router.asn %}", "{% if true %}"),),
    ),
    Mutation(
        "no-allowas-in-on-ebgp",
        "design 'FRR Template Changes': eBGP neighbors (the ToR) carry allowas-in",
        (_router("  neighbor {{ n.address }} allowas-in\n", ""),),
    ),
    Mutation(
        "routers-share-one-router-id",
        "RFC 4271 §4.2 / RFC 4456 §8: each router has a BGP identifier of its own (ORIGINATOR_ID "
        "tells the originator apart)",
        (_router("bgp router-id {{ router.router_id }}", "bgp router-id 10.0.0.1"),),
    ),
    Mutation(
        "no-ipv6-to-external",
        "design 'Use Case: Cloud Provider Environments': IPv4/IPv6 with the cloud router",
        (_router('["ipv4-unicast", "ipv6-unicast"]', '["ipv4-unicast"]'),),
    ),
    Mutation(
        "no-evpn-to-external",
        "design 'Route Flow in Hybrid Scenario': EVPN flows between router pods and the ToR",
        (
            _router(
                '{% for n in neighbors if "l2vpn-evpn" in n.families %}',
                '{% for n in neighbors if "l2vpn-evpn" in n.families and n.asn == router.asn %}',
            ),
        ),
    ),
)


# Variants only the robustness suite runs against (the other suites judge none of what they
# change: the client's unknown attribute types). An explicit neighbor for the crafted client
# (its address in the default topology), because FRR 10.3 keeps `path-attribute` off the
# dynamic members of a peer group (measured: set on CLIENTS, no effect).
_CLIENT = "10.244.0.31"
ROBUSTNESS: tuple[Mutation, ...] = (
    Mutation(
        "client-path-attributes-discarded",
        "RFC 4271 §5, §9: an unrecognised optional transitive attribute is passed on; §6.3: an "
        "unrecognised well-known one resets the session (the RR discards both types, 241 and "
        "243, from the client: FRR >= 9.1's `neighbor X path-attribute discard`)",
        (
            _rr(
                " ! Define peer-group first\n",
                f" neighbor {_CLIENT} remote-as {{{{ sut.asn }}}}\n"
                f" neighbor {_CLIENT} path-attribute discard 241 243\n"
                " ! Define peer-group first\n",
            ),
            _rr(
                _RR_CLIENT,
                _RR_CLIENT + f"  neighbor {_CLIENT} activate\n"
                f"  neighbor {_CLIENT} route-reflector-client\n",
            ),
        ),
        (ROBUSTNESS_SUITE,),
    ),
)

# Variants the failover suite catches (issue 4): `rr-harness mutate` runs the failover suite
# against these only, and the other suites against the rest (a failover run takes a minute).
FAILOVER: tuple[Mutation, ...] = (
    Mutation(
        "single-replica",
        "design 'Key Design Decisions' 2: RR redundancy is replicas of the Deployment",
        (Edit(SUT_FILE, "replicas: 2", "replicas: 1"),),
        (FAILOVER_SUITE,),
        select="rr_pod_deleted",
    ),
    Mutation(
        "no-min-ready-seconds",
        "a rollout restart of the RR Deployment keeps every route (the design as written sets "
        "no minReadySeconds)",
        (Edit(SUT_FILE, "min_ready_seconds: 5", "min_ready_seconds: 0"),),
        (FAILOVER_SUITE,),
        select="rolling_restart",
    ),
    Mutation(
        "graceful-restart-undeclared",
        "RFC 4724 / sut.yaml: without graceful restart, routes of a lost RR are withdrawn at once "
        "(the variant configures it while its values say it is off)",
        (
            _rr("{% if sut.graceful_restart.enabled %}", "{% if true %}"),
            _router("{% if sut.graceful_restart.enabled %}", "{% if true %}"),
        ),
        (FAILOVER_SUITE,),
        select="all_rrs_down",
    ),
    Mutation(
        "listen-range-only-existing-pods",
        "design: the RR accepts clients from the whole pod CIDR, so a rescheduled router pod "
        "with a new IP is accepted with no RR change",
        (
            _rr(
                "bgp listen range {{ sut.pod_cidr }} peer-group CLIENTS",
                "bgp listen range 10.244.0.0/26 peer-group CLIENTS\n"
                " bgp listen range 10.244.1.0/26 peer-group CLIENTS",
            ),
        ),
        (FAILOVER_SUITE,),
        select="router_pod_rescheduled",
    ),
)

# Upstream OpenPERouter before PR #731: IPv4/IPv6 unicast route-reflector clients also got
# `next-hop-self force`, which FRR applies to reflected routes (the profile renders after #731).
OPENPEROUTER_VARIANTS: tuple[Mutation, ...] = (
    Mutation(
        "next-hop-self-force-unicast",
        "RFC 4456 §10: the RR does not change NEXT_HOP of reflected IPv4/IPv6 routes (upstream "
        "OpenPERouter before PR #731 rewrote it to the RR's own address)",
        (
            _rr(
                "    neighbor {{ id }} route-reflector-client\n{% else %}\n",
                "    neighbor {{ id }} route-reflector-client\n{% endif %}\n{% if true %}\n",
            ),
        ),
        profile=OPENPEROUTER,
    ),
    Mutation(
        "graceful-restart-undeclared-per-node",
        "RFC 4724 / sut.yaml: without graceful restart, the routes of a restarted RR router pod "
        "are withdrawn at once (the variant configures it while its values say it is off)",
        (
            _rr("{% if sut.graceful_restart.enabled %}", "{% if true %}"),
            _router("{% if sut.graceful_restart.enabled %}", "{% if true %}"),
        ),
        (FAILOVER_SUITE,),
        select="all_rrs_down or every_rr_pod_restarted",
        profile=OPENPEROUTER,
    ),
)

# Variants of the meshrr profile, run against the meshrr and sessions suites.
_MESH_LOOP = "{% for peer in mesh %}"
_START_UP = ("10.244.0.10", "10.244.1.10", "10.244.2.10")  # rs-a-0, rs-b-0, rs-b-1
_SIDE_A_NODE = "10.244.0."  # side a's node: its route servers' pod addresses
MESHRR_VARIANTS: tuple[Mutation, ...] = (
    Mutation(
        "mesh-missing-one-peering",
        "meshrr: every route server peers with every other one (the full mesh)",
        (_rr(_MESH_LOOP, "{% for peer in mesh[1:] %}"),),
        (MESHRR_SUITE, "sessions"),
        MESHRR,
    ),
    Mutation(
        "route-server-reflects-between-mesh-peers",
        "RFC 4456 §6: a route learned from a mesh peer (non-client) goes to clients only",
        (
            _rr(
                "  neighbor MESH activate\n",
                "  neighbor MESH activate\n  neighbor MESH route-reflector-client\n",
            ),
        ),
        (MESHRR_SUITE, "sessions"),
        MESHRR,
    ),
    Mutation(
        "one-cluster-id-for-all-route-servers",
        "meshrr / RFC 4456 §7: each route server is its own cluster (sut.yaml "
        "cluster_id_scope), so routes cross the mesh",
        (_rr(" bgp cluster-id {{ pod.address }}", " bgp cluster-id 10.255.255.255"),),
        (MESHRR_SUITE, "sessions"),
        MESHRR,
    ),
    # The mesh written out for the route servers of the start-up (their pod addresses in
    # fixtures/topologies/meshrr.yaml) instead of taken from discovery: it forms, and never
    # takes in a route server added by scaling or rescheduled with a new address.
    Mutation(
        "mesh-of-the-start-up-route-servers-only",
        "meshrr: the peer updater keeps the full mesh as route servers come and go "
        '("automatically forming full-mesh iBGP peerings between route servers")',
        (_rr(_MESH_LOOP, f"{{% for peer in {list(_START_UP)} if peer != pod.address %}}"),),
        (MESHRR_SUITE, "sessions"),
        MESHRR,
    ),
    # The same rule broken on one side only: side b's route servers have side a's written in
    # by its start-up address (as when the sides run in two clusters, which the design allows,
    # and side b's peer updater sees its own cluster only), side a's still discovers every
    # one. Only a rescheduled side-a route server shows it: the whole-side drill's.
    Mutation(
        "side-b-meshes-side-a-by-its-start-up-address",
        "meshrr: the peer updater keeps the full mesh as route servers come and go (a "
        "rescheduled route server of the other side is meshed again)",
        (
            _rr(
                _MESH_LOOP,
                f'{{% if side.name == "b" %}}\n neighbor {_START_UP[0]} peer-group MESH\n'
                f"{{% endif %}}\n"
                f'{{% for peer in mesh if side.name == "a" or not peer.startswith('
                f'"{_SIDE_A_NODE}") %}}',
            ),
        ),
        (MESHRR_SUITE, "sessions"),
        MESHRR,
    ),
)


# Rules neither FRR nor GoBGP can be configured to break: the harness's own RR breaks them, one
# `fault` each (harness/daemons/reflector_process.py), and is otherwise a correct RR (its
# baseline passes the suites these variants run).
def _harness_rr_fault(name: str, fault: str, breaks: str, *suites: str) -> Mutation:
    return Mutation(
        name,
        breaks,
        (Edit("route-reflector.yaml.j2", "faults: []", f"faults: [{fault}]"),),
        suites,
        profile=HARNESS_RR,
    )


HARNESS_RR_VARIANTS: tuple[Mutation, ...] = (
    _harness_rr_fault(
        "rr-overwrites-originator-id",
        "overwrite-originator-id",
        "RFC 4456 §8: an RR does not replace an ORIGINATOR_ID already present",
        "loop-prevention",
    ),
    _harness_rr_fault(
        "rr-resets-on-every-update-error",
        "reset-on-every-update-error",
        "RFC 7606 §2, §7: a malformed attribute makes its UPDATE treat-as-withdraw, or is "
        "discarded; the RR ends the session instead, as RFC 4271 §6.3 had it",
        ROBUSTNESS_SUITE,
    ),
)

# A rule of the routers, not of the RR, that no router implementation here can be configured to
# break: each drops a route carrying its own BGP identifier as ORIGINATOR_ID unconditionally
# (FRR 8.4, 10.3, 10.7: bgpd/bgp_route.c 'originator is us', no knob; GoBGP 3.10:
# pkg/server/peer.go). The broken router is a router pod the harness plays with its crafted
# speaker (sut.yaml `harness_routers`): one iBGP session per RR pod, everything received kept.
# router-3: its only sessions are with the RR pods (the speaker connects, never accepts, so
# router-1's ToR and router-2's cloud router could not reach it).
HARNESS_ROUTER_VARIANTS: tuple[Mutation, ...] = (
    Mutation(
        "router-keeps-its-own-originator-id",
        "RFC 4456 §8: a router ignores a route whose ORIGINATOR_ID is its own BGP identifier",
        (Edit(SUT_FILE, "harness_routers: []", "harness_routers: [router-3]"),),
        ("loop-prevention",),
    ),
)

# What the proof does not hold yet, each with why: checks that catch no variant through their
# final assertion, and variants that no check catches that way. The project's test holds this
# list to the measured table, so it can only shrink. Empty today.
UNPROVEN: dict[str, str] = {}

# Checks shown able to fail by the project's tests rather than by a configuration variant: no
# SUT configuration makes a daemon crash, so the broken SUT is a daemon crashed on purpose.
PROVEN_ELSEWHERE: dict[str, str] = {
    "every-suite::sut_daemons_survived": "tests/test_crashes.py crashes a router pod's bgpd "
    "(SIGSEGV): the check fails naming it, with FRR's own crash report",
}

CATALOGUE: tuple[Mutation, ...] = tuple(
    replace(m, expected=EXPECTED[m.name])
    for m in (
        CONFORMANCE
        + ROBUSTNESS
        + FAILOVER
        + MESHRR_VARIANTS
        + OPENPEROUTER_VARIANTS
        + HARNESS_RR_VARIANTS
        + HARNESS_ROUTER_VARIANTS
    )
)

# Correct SUTs configured otherwise than the profile: every conformance check must pass them.
EQUIVALENT: tuple[Mutation, ...] = (
    Mutation(
        "router-ids-from-pod-addresses",
        "routers take their pod address as BGP identifier (RFC 4456 §8 only asks that "
        "ORIGINATOR_ID be the identifier the originator really uses)",
        (_router("bgp router-id {{ router.router_id }}", "bgp router-id {{ router.address }}"),),
        must_pass=True,
    ),
    Mutation(
        "another-cluster-id-other-timers-extra-logging",
        "another shared cluster id (OpenPERouter's default 192.0.2.1), other timers, and "
        "harmless extra configuration (neighbor change logging)",
        (
            Edit(SUT_FILE, "cluster_id: 1.1.1.1", "cluster_id: 192.0.2.1"),
            Edit(SUT_FILE, "keepalive: 3 ", "keepalive: 4 "),
            Edit(SUT_FILE, "hold: 9", "hold: 12"),
            _rr(
                " no bgp ebgp-requires-policy\n",
                " no bgp ebgp-requires-policy\n bgp log-neighbor-changes\n",
            ),
        ),
        must_pass=True,
    ),
)


def mutation(name: str) -> Mutation:
    for m in CATALOGUE + EQUIVALENT:
        if m.name == name:
            return m
    known = ", ".join(m.name for m in CATALOGUE + EQUIVALENT)
    raise InputError(f"unknown mutation {name!r} (known: {known})")
