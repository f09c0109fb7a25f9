"""A router pod's VNI on a cluster: the same layout as the netns fabric's (`Fabric._add_vni`),
as iproute2 commands run inside the pod's FRR container (it has NET_ADMIN).

The VTEP address on lo, a VXLAN device in bridge `br<vni>`, and a veth "host port" whose
static fdb entries (and neighbour entries on the bridge) zebra turns into type-2 routes
(`advertise-all-vni`, RFC 7432 §7.2) and the VNI into a type-3 route (§7.3).
"""

from __future__ import annotations

from ipaddress import IPv4Address

from harness.model.topology import Evpn

VXLAN_PORT = 4789


def vni_commands(evpn: Evpn) -> list[str]:
    vni, vtep = evpn.vni, evpn.vtep
    out = [
        f"ip addr replace {vtep}/32 dev lo",
        f"ip link add br{vni} type bridge",
        f"ip link add vxlan{vni} type vxlan id {vni} local {vtep} dstport {VXLAN_PORT} nolearning",
        f"ip link add hp{vni} type veth peer name vm{vni}",
        f"ip link set vxlan{vni} master br{vni}",
        f"ip link set hp{vni} master br{vni}",
        f"bridge link set dev hp{vni} learning off",  # only the harness's entries
    ]
    out += [f"ip link set {dev}{vni} up" for dev in ("br", "vxlan", "hp", "vm")]
    for host in evpn.hosts:
        out += host_commands(vni, host.mac, host.ip, present=True)
    return out


def host_commands(vni: int, mac: str, ip: IPv4Address | None, *, present: bool) -> list[str]:
    """Add or remove a workload (what `Fabric.set_host` does through netlink)."""
    if present:
        out = [f"bridge fdb replace {mac} dev hp{vni} master static"]
        if ip is not None:
            out.append(f"ip neigh replace {ip} lladdr {mac} dev br{vni} nud permanent")
        return out
    out = [f"ip neigh del {ip} dev br{vni}"] if ip is not None else []
    return [*out, f"bridge fdb del {mac} dev hp{vni} master"]


def script(commands: list[str], *, tolerate_failures: bool = False) -> str:
    """One `sh -c` script: `set -e`, or `|| true` after each line where failures are fine
    (removing what is already gone). Every word is the harness's own (names, MACs, IPs)."""
    if tolerate_failures:
        return "".join(f"{c} || true\n" for c in commands)
    return "set -e\n" + "".join(f"{c}\n" for c in commands)


def router_entrypoint(evpn: Evpn | None, start: str) -> str:
    """The router container's start: its VNI, then FRR (`start`: the image's own start-up).
    FRR's run directory is a volume shared with the sampler container: made FRR's first."""
    own = "mkdir -p /var/run/frr && chown frr:frr /var/run/frr\n"
    if evpn is None:
        return own + f"exec {start}\n"
    check = (
        "command -v bridge >/dev/null || { echo 'rr-harness: this FRR image has no iproute2 "
        "(bridge, ip): the router VNI cannot be set up' >&2; exit 1; }\n"
    )
    return own + check + script(vni_commands(evpn)) + f"exec {start}\n"
