"""Namespaces, segments and links of one run, over netlink (pyroute2); never the host's.

Each node is a namespace `rrh-<run>-<node>`. Each segment is a bridge inside one more namespace,
`rrh-<run>-fabric`, and each interface a veth created there with its peer moved straight into the
node (LAB-NOTES "Namespaces"), so nothing is ever created in, or moved through, the host
namespace. Every link carries the ifalias `rr-harness:<run>`. Namespaces are registered before
they are created, so a failure half-way still tears down what exists.

No fork per namespace (issue 18): a namespace is made by unshare(2) in the calling thread, and
each thread that talks to a namespace gets its own netlink socket made in it (pyroute2 keeps a
handle to the thread that made it).
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Interface, IPv6Interface

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from harness.errors import LabError
from harness.model.topology import Evpn, Interface, Node, Topology
from harness.runtime.netns_socket import create_namespace, socket_in
from harness.runtime.run import Run, link_alias

FABRIC = "fabric"
IFA_F_NODAD = 0x02  # IPv6 address usable at once: no duplicate address detection delay
NUD_NOARP = 0x40  # `bridge fdb add ... static` / `ip neigh ... nud noarp`
NUD_PERMANENT = 0x80  # never garbage-collected (the neighbour table and its GC are host-wide)
NTF_MASTER = 0x04
VXLAN_PORT = 4789  # RFC 7348 §5
NETLINK_ROUTE = 0


class Handle:
    """One thread's rtnetlink handle on one namespace: pyroute2 over a socket made in it."""

    def __init__(self, namespace: str) -> None:
        self.socket = socket_in(namespace, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        self.ipr = IPRoute(use_socket=self.socket)

    def close(self) -> None:
        """The socket too: a socket in a namespace keeps the namespace alive."""
        try:
            self.ipr.close()
        finally:
            self.socket.close()


class Fabric:
    """Owns the namespaces of a run; `close()` removes every one it created."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._handles: dict[tuple[str, int], Handle] = {}  # (namespace, thread) -> handle
        self._lock = threading.Lock()
        self._bridges: dict[str, int] = {}  # segment name -> bridge ifindex in the fabric
        self._outer: dict[str, list[str]] = {}  # node -> its veths' fabric-side names
        self._next_index = 0  # veth names `n<index>i<j>` are never reused within a run
        # Each node's interface MACs, by topology node and interface: a node's own NIC (an
        # OpenPERouter router pod's underlay NIC) keeps its MAC in the pod that replaces it.
        self._macs: dict[tuple[str, int], str] = {}
        self.namespaces: list[str] = []

    # -- construction ---------------------------------------------------------------------
    def build(self, topology: Topology, nodes: list[Node]) -> None:
        """Create the fabric namespace, one bridge per segment, and every node's interfaces."""
        fab = self._namespace(FABRIC)
        for i, seg in enumerate(topology.segments):
            self._bridges[seg.name] = self._add_link(fab, f"br{i}", kind="bridge")
            self._up(fab, self._bridges[seg.name])
        for node in nodes:
            self.add_node(node)

    def add_node(self, node: Node, name: str | None = None, *, same_nic: bool = False) -> None:
        """Namespace, interfaces, addresses (and VNI for a router) of one node; `name` (a
        rescheduled pod's) overrides the node's own for the namespace. `same_nic`: the pod
        takes over its node's NICs, MACs included (a DaemonSet's pod replacing another)."""
        name = name or node.name
        ns = self._namespace(name)
        self._up(ns, _index(ns, "lo"))
        index, self._next_index = self._next_index, self._next_index + 1
        for j, iface in enumerate(node.interfaces):
            mac = self._macs.get((node.name, j)) if same_nic else None
            inner = self._attach(ns, name, n=index, j=j, iface=iface, mac=mac)
            self._macs[node.name, j] = ns.get_links(inner)[0].get_attr("IFLA_ADDRESS")
        if node.evpn is not None:
            self._add_vni(ns, node.evpn)

    def go_dark(self, name: str) -> None:
        """Take a node's links down on the fabric side: from now on nothing it sends arrives
        and nothing reaches it, and nobody is told (a node lost, not a pod deleted)."""
        fab = self.handle(FABRIC)
        for outer in self._outer.get(name, []):
            fab.link("set", index=_index(fab, outer), state="down")

    def remove_node(self, name: str) -> list[str]:
        """Remove one node's namespace (its links go with it). Returns failures."""
        namespace = self.run.namespace(name)
        self._close_handles(namespace)
        self._outer.pop(name, None)
        failures = remove_namespaces([namespace])
        if not failures and namespace in self.namespaces:
            self.namespaces.remove(namespace)
        return failures

    def _namespace(self, node: str) -> IPRoute:
        name = self.run.namespace(node)
        if name in netns.listnetns():  # never adopt (and later remove) somebody else's
            raise LabError(
                f"{node}: namespace {name} already exists; is run "
                f"{self.run.run_id} already running? (`rr-harness cleanup`)"
            )
        self.namespaces.append(name)  # registered first: teardown removes even a half-made one
        try:
            create_namespace(name)
            return self._handle(name)
        except (OSError, NetlinkError) as exc:
            raise LabError(f"{node}: cannot create namespace {name}: {exc}") from exc

    def _add_link(self, ns: IPRoute, ifname: str, **spec: object) -> int:
        try:
            ns.link("add", ifname=ifname, **spec)
            index = _index(ns, ifname)
            ns.link("set", index=index, ifalias=link_alias(self.run.run_id))
            peer = spec.get("peer")
            if isinstance(peer, dict) and "net_ns_fd" not in peer:  # both ends live here
                peer_index = _index(ns, peer["ifname"])
                ns.link("set", index=peer_index, ifalias=link_alias(self.run.run_id))
        except NetlinkError as exc:
            raise LabError(f"cannot create link {ifname} ({spec.get('kind')}): {exc}") from exc
        return int(index)

    @staticmethod
    def _up(ns: IPRoute, index: int) -> None:
        ns.link("set", index=index, state="up")

    def _attach(
        self, ns: IPRoute, name: str, *, n: int, j: int, iface: Interface, mac: str | None = None
    ) -> int:
        """veth `n<node>i<iface>` on the segment's bridge, its peer `eth<iface>` in the node
        (with `mac`, if given); returns the peer's index."""
        fab = self.handle(FABRIC)
        outer = f"n{n}i{j}"
        inner = f"eth{j}"
        target = self.run.namespace(name)
        index = self._add_link(fab, outer, kind="veth", peer={"ifname": inner, "net_ns_fd": target})
        self._outer.setdefault(name, []).append(outer)
        fab.link("set", index=index, master=self._bridges[iface.segment], state="up")
        inner_index = _index(ns, inner)
        if mac is not None:
            ns.link("set", index=inner_index, address=mac)
        ns.link("set", index=inner_index, ifalias=link_alias(self.run.run_id), state="up")
        for addr in iface.addresses:
            self._address(ns, inner_index, addr, name)
        return int(inner_index)

    @staticmethod
    def _address(ns: IPRoute, index: int, addr: IPv4Interface | IPv6Interface, node: str) -> None:
        flags = IFA_F_NODAD if addr.version == 6 else 0
        try:
            ns.addr(
                "add",
                index=index,
                address=str(addr.ip),
                prefixlen=addr.network.prefixlen,
                flags=flags,
            )
        except NetlinkError as exc:
            raise LabError(f"{node}: cannot add address {addr}: {exc}") from exc

    def _add_vni(self, ns: IPRoute, evpn: Evpn) -> None:
        """VTEP on lo, VXLAN in a bridge, and a veth "host port" for the workloads' MACs.

        zebra (`advertise-all-vni`) turns the bridge's static fdb entries into type-2 MAC
        routes, neighbour entries on the bridge into MAC+IP routes, and the VNI into a type-3
        route (RFC 7432 §7.2, §7.3; LAB-NOTES "Namespaces").
        """
        lo = _index(ns, "lo")
        ns.addr("add", index=lo, address=str(evpn.vtep), prefixlen=32)
        bridge = self._add_link(ns, f"br{evpn.vni}", kind="bridge")
        vxlan = self._add_link(
            ns,
            f"vxlan{evpn.vni}",
            kind="vxlan",
            vxlan_id=evpn.vni,
            vxlan_local=str(evpn.vtep),
            vxlan_port=VXLAN_PORT,
            vxlan_learning=0,
        )
        host = self._add_link(ns, f"hp{evpn.vni}", kind="veth", peer={"ifname": f"vm{evpn.vni}"})
        ns.link("set", index=vxlan, master=bridge)
        ns.link("set", index=host, master=bridge)
        ns.brport("set", index=host, learning=0)  # only the harness's entries, never learned ones
        for index in (bridge, vxlan, host, _index(ns, f"vm{evpn.vni}")):
            self._up(ns, index)
        for host_entry in evpn.hosts:
            self.set_host(ns, evpn.vni, host_entry.mac, host_entry.ip, present=True)

    # -- EVPN workloads ---------------------------------------------------------------------
    def handle(self, node: str) -> IPRoute:
        """The calling thread's netlink handle on a node's namespace."""
        return self._handle(self.run.namespace(node))

    def _handle(self, namespace: str) -> IPRoute:
        key = (namespace, threading.get_ident())
        with self._lock:
            handle = self._handles.get(key)
        if handle is None:
            handle = Handle(namespace)
            with self._lock:
                self._handles[key] = handle
        return handle.ipr

    def _close_handles(self, namespace: str | None = None) -> None:
        """Close the handles on `namespace` (every one: None) of every thread."""
        with self._lock:
            keys = [k for k in self._handles if namespace in (None, k[0])]
            closing = [self._handles.pop(k) for k in keys]
        for handle in closing:
            handle.close()

    @staticmethod
    def set_host(ns: IPRoute, vni: int, mac: str, ip: IPv4Address | None, *, present: bool) -> None:
        """Add (or remove) a workload: static fdb entry on the host port, neighbour on the SVI.

        The neighbour entry is PERMANENT, not NOARP: the neighbour table's garbage collector is
        host-wide, and once all namespaces together hold more than gc_thresh1 entries it drops
        unused NOARP entries after gc_stale_time (seen: a MAC+IP route withdrawn 60 s into a run
        while three labs ran side by side).

        Removing it withdraws both its MAC route and, when it has an IP, its MAC+IP route.
        """
        bridge = _index(ns, f"br{vni}")
        host = _index(ns, f"hp{vni}")
        try:
            if present:
                ns.fdb(
                    "replace",
                    ifindex=host,
                    lladdr=mac,
                    master=bridge,
                    state=NUD_NOARP,
                    flags=NTF_MASTER,
                )
                if ip is not None:
                    ns.neigh(
                        "replace", dst=str(ip), lladdr=mac, ifindex=bridge, state=NUD_PERMANENT
                    )
            else:  # removing what is already gone is fine
                if ip is not None:
                    _absent_ok(ns.neigh, "del", dst=str(ip), lladdr=mac, ifindex=bridge)
                _absent_ok(ns.fdb, "del", ifindex=host, lladdr=mac, master=bridge, flags=NTF_MASTER)
        except NetlinkError as exc:
            raise LabError(
                f"vni {vni}: cannot {'add' if present else 'remove'} host {mac} {ip or ''}: {exc}"
            ) from exc

    # -- teardown ------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Remove every namespace this fabric created (links go with them). Returns failures."""
        self._close_handles()
        failures = remove_namespaces(reversed(self.namespaces))
        self.namespaces.clear()
        return failures


def remove_namespaces(names: Iterable[str]) -> list[str]:
    """Remove namespaces by name (one already gone is fine); returns what could not be."""
    failures = []
    for name in names:
        try:
            netns.remove(name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failures.append(f"namespace {name}: {exc}")
    return failures


def _index(ns: IPRoute, ifname: str) -> int:
    """A link's index, by one RTM_GETLINK of its name (not a dump of every link)."""
    return int(ns.link("get", ifname=ifname)[0]["index"])


def _absent_ok(call: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        call(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code != errno.ENOENT:
            raise
