"""An UPDATE off the wire turned into `Route` records (RFC 4271 §4.3, RFC 4760), decoded with
the harness's own codec (`harness.bgp.update`).

Every attribute is seen exactly as sent: `unknown` holds every attribute the codec does not
model (`Attributes.raw`) with its flags octet as it was on the wire, so this is the observer
that shows whether a sender set Partial (RFC 4271 §9) on an unrecognised transitive attribute.
"""

from __future__ import annotations

from harness.bgp.attributes import Attributes
from harness.bgp.evpn import EvpnRoute
from harness.bgp.update import parse_update
from harness.model.base import Family
from harness.observe.route import Route, large_communities, unknown_attributes


def _key(route: str | EvpnRoute) -> str:
    return route if isinstance(route, str) else route.key


def decode_update(
    message: bytes, *, peer: str, observed_at: str
) -> tuple[list[Route], list[tuple[Family, str]]]:
    """Announced `Route`s (as `observed_at` holds them, learned from `peer`) and withdrawn
    (family, key) pairs of one UPDATE (RFC 4271 §4.3, RFC 4760)."""
    update = parse_update(message)
    a = update.attributes or Attributes()
    routes = [
        Route(
            family=family,
            key=_key(route),
            observed_at=observed_at,
            peer=peer,
            next_hop=update.next_hop(family),
            rd=None if isinstance(route, str) else route.rd,
            originator_id=a.originator_id,
            cluster_list=a.cluster_list,
            as_path=a.as_path,
            med=a.med,
            local_pref=a.local_pref,
            communities=a.communities,
            ext_communities=tuple(sorted(a.ext_communities)),
            origin=a.origin,
            as_path_segments=a.segments(),
            atomic_aggregate=a.atomic_aggregate,
            aggregator=a.aggregator,
            large_communities=large_communities(a.large_communities),
            unknown=unknown_attributes(a.raw),
        )
        for family, route in update.announce
    ]
    return routes, [(family, _key(route)) for family, route in update.withdraw]
