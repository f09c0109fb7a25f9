"""The lab as a picture, drawn from the plan (`harness.model.plan`): pods by role, the segments
they sit on, the BGP sessions the design implies (iBGP / eBGP), each as it was when the lab came
up (Established, or the state it was stuck in), and the RR replicas with their cluster id.

Drawn by Graphviz (`dot`, Debian's `graphviz`) through the `graphviz` package, as inline SVG:
a graph layout engine places any topology's nodes and edges without hand-placed coordinates,
and SVG text stays sharp and searchable in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.model.plan import LabPlan
from harness.model.topology import Node, Role

UNKNOWN = "unknown at start-up"  # the run stopped before its lab was up

IBGP, EBGP = "iBGP", "eBGP"
SHAPES = {
    Role.ROUTE_REFLECTOR: ("box3d", "#dbeafe"),
    Role.ROUTER: ("box", "#dcfce7"),
}
PEER_STYLE = ("ellipse", "#f3f4f6")


@dataclass(frozen=True)
class Session:
    """One BGP session of the plan, between two nodes of the lab."""

    a: str
    b: str
    kind: str  # IBGP or EBGP
    state: str  # "Established", the state it was stuck in at start-up, or "refused by design"
    anycast: bool = False

    @property
    def up(self) -> bool:
        return self.state == "Established"


def _addresses(node: Node) -> set[str]:
    return {str(a.ip) for i in node.interfaces for a in i.addresses}


def _state(unready: dict[str, dict[str, str]] | None, a: Node, b: Node, b_addr: str) -> str:
    """Established unless either end was left waiting for the other at start-up; `unknown`
    when the start-up's outcome is not known (the run stopped before the lab was up)."""
    if unready is None:
        return UNKNOWN
    stuck = unready.get(a.name, {}).get(b_addr)
    if stuck is None:
        theirs = unready.get(b.name, {})
        stuck = next((s for addr, s in theirs.items() if addr in _addresses(a)), None)
    return "Established" if stuck is None else stuck


def planned_sessions(plan: LabPlan, unready: dict[str, dict[str, str]] | None) -> list[Session]:
    """Every session the plan implies, each once, with its state at start-up; a would-be
    client the SUT must refuse is drawn as `refused by design`."""
    topo = plan.topology
    cluster = topo.cluster_network.name
    by_ip = {str(a.ip): n for n in plan.lab_nodes if (a := n.address_on(cluster)) is not None}
    out: dict[frozenset[str], Session] = {}

    def add(a: Node, b: Node, address: str, *, anycast: bool = False) -> None:
        kind = IBGP if a.asn == b.asn else EBGP
        state = _state(unready, a, b, address)
        out.setdefault(frozenset((a.name, b.name)), Session(a.name, b.name, kind, state, anycast))

    for router in plan.routers:
        for ip in plan.rr_ips(router):
            if ip in by_ip:
                add(router, by_ip[ip], ip)
            elif plan.mesh is not None:  # the side's anycast address: drawn to its holder
                add(router, plan.initial_holder(str(router.side)), ip, anycast=True)
        for neighbor in plan.external_neighbors(router):
            add(router, topo.node(neighbor.node), neighbor.address)
    rrs = list(plan.route_reflectors)
    if plan.mesh is not None:  # the full mesh between route servers
        for i, one in enumerate(rrs):
            for other in rrs[i + 1 :]:
                add(one, other, plan.cluster_ip(other))
    names = {n.name for n in plan.lab_nodes}
    for peer in plan.peers:
        for s in plan.sessions_expected(peer):
            if s.peer_name.startswith("anycast-") and plan.mesh is not None:
                add(peer, plan.initial_holder(s.peer_name.removeprefix("anycast-")), s.peer_address)
            elif s.peer_name in names:
                add(peer, topo.node(s.peer_name), s.peer_address)
    return [*out.values(), *_refused(plan, set(out))]


def _refused(plan: LabPlan, drawn: set[frozenset[str]]) -> list[Session]:
    """The would-be clients' sessions the SUT must refuse (`expected_session: refused`)."""
    names = {n.name for n in plan.lab_nodes}
    return [
        Session(peer.name, name, IBGP if peer.asn == other.asn else EBGP, "refused by design")
        for peer in plan.peers
        if peer.expected_session == "refused"
        for name in peer.peers
        if name in names
        and frozenset((peer.name, name)) not in drawn
        and (other := plan.topology.node(name))
    ]


def _rr_label(plan: LabPlan) -> list[tuple[str, list[Node]]]:
    """(caption, RR pods) per redundancy group: the Deployment, or each meshrr side."""
    values = plan.sut.values
    if plan.mesh is None:
        caption = f"RR Deployment: {values.replicas} replica(s), cluster id {values.cluster_id}"
        return [(caption, list(plan.route_reflectors))]
    groups = []
    for name, side in plan.mesh.sides.items():
        if plan.mesh.cluster_id_scope == "route-server":
            cid = "each route server its own cluster id"
        else:
            cid = f"cluster id {side.cluster_id or values.cluster_id}"
        caption = f"side {name}: {side.replicas} route server(s), anycast {side.anycast}, {cid}"
        groups.append((caption, [n for n in plan.route_reflectors if n.side == name]))
    return groups


def dot_source(plan: LabPlan, unready: dict[str, dict[str, str]] | None) -> str:
    """The topology in Graphviz's language."""
    import graphviz

    graph = graphviz.Graph(
        "topology",
        graph_attr={"rankdir": "LR", "fontname": "DejaVu Sans", "fontsize": "11", "pad": "0.2"},
        node_attr={"fontname": "DejaVu Sans", "fontsize": "10", "style": "filled"},
        edge_attr={"fontname": "DejaVu Sans", "fontsize": "9"},
    )
    cluster_segment = plan.topology.cluster_network.name
    for i, (caption, pods) in enumerate(_rr_label(plan)):
        with graph.subgraph(name=f"cluster_rr{i}") as group:
            group.attr(label=caption, style="rounded,dashed", color="#1d4ed8")
            for pod in pods:
                group.node(pod.name, _caption(plan, pod), shape="box3d", fillcolor="#dbeafe")
    drawn = {n.name for n in plan.route_reflectors}
    for node in plan.lab_nodes:
        if node.name in drawn:
            continue
        shape, fill = SHAPES.get(node.role, PEER_STYLE)
        if node.expected_session == "refused":
            fill = "#fee2e2"
        graph.node(node.name, _caption(plan, node), shape=shape, fillcolor=fill)
    _segments(graph, plan)
    for s in planned_sessions(plan, unready):
        color = "#2563eb" if s.kind == IBGP else "#ea580c"
        # iBGP is most edges: its colour says it (the legend); eBGP and anycast are named
        label = "anycast" if s.anycast else ("" if s.kind == IBGP else EBGP)
        if s.state == "refused by design":
            graph.edge(s.a, s.b, label="refused by design", style="dashed", color="#9ca3af",
                       fontcolor="#6b7280")  # fmt: skip
        elif s.up:
            graph.edge(s.a, s.b, label=label, color=color, penwidth="1.6")
        elif s.state == UNKNOWN:
            graph.edge(s.a, s.b, label=f"{s.kind}: {UNKNOWN}", style="dotted", color="#9ca3af",
                       fontcolor="#6b7280")  # fmt: skip
        else:
            graph.edge(s.a, s.b, label=f"{s.kind}: {s.state}", color="#dc2626", style="dashed",
                       fontcolor="#dc2626", penwidth="2")  # fmt: skip
    subnets = ", ".join(str(s) for s in plan.topology.cluster_network.subnets)
    legend = "blue: iBGP  ·  orange: eBGP  ·  red dashed: not Established at start-up"
    graph.attr(label=f"every pod on cluster network {cluster_segment} ({subnets})  ·  {legend}")
    return graph.source


def _segments(graph: Any, plan: LabPlan) -> None:
    """The segments other than the cluster network (every pod is on that one: the legend says
    it, rather than an edge from every pod), each linked to the nodes on it."""
    for segment in plan.topology.segments:
        if segment.name == plan.topology.cluster_network.name:
            continue
        subnets = ", ".join(str(s) for s in segment.subnets)
        name = f"segment {segment.name}"
        graph.node(name, f"{segment.name}\n{subnets}", shape="note", fillcolor="#fef9c3")
        for node in plan.lab_nodes:
            if node.interface_on(segment.name) is not None:
                graph.edge(node.name, name, style="dotted", color="#a3a3a3")


def _caption(plan: LabPlan, node: Node) -> str:
    address = node.address_on(plan.topology.cluster_network.name)
    role = node.role.value
    lines = [node.name, f"{role}, AS {node.asn}"]
    if address is not None:
        lines.append(str(address.ip))
    return "\n".join(lines)


def topology_svg(plan: LabPlan, unready: dict[str, dict[str, str]] | None) -> tuple[str, str]:
    """(SVG markup, "") or ("", why there is no picture): a machine without `dot` still gets
    its report."""
    import graphviz

    try:
        svg = graphviz.Source(dot_source(plan, unready)).pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as exc:
        return "", f"no topology picture: Graphviz's dot did not draw it ({exc})"
    start = svg.find("<svg")  # the XML declaration and DOCTYPE do not belong inside HTML
    return svg[start:], ""
