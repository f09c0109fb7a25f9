"""The harness's own RR (`implementation: harness-rr`): its UPDATE error handling decides every
robustness case the way the case's rule asks (RFC 7606), and its config is checked, field by
field. The RR running in a lab is proven by the mutation proof (tests/test_mutate.py): its
baseline passes loop-prevention and robustness, each of its faults is caught by exactly the
checks of the rule it breaks."""

from __future__ import annotations

import pytest

from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute
from harness.bgp.framing import AFI_SAFI
from harness.daemons.reflector import parse_config
from harness.daemons.update_errors import DISCARD, TAW, SessionReset, examine
from harness.drivers.harness_rr import HarnessRouteServer
from harness.model.base import Family
from harness.robustness.builders import Parts
from harness.robustness.cases import CASES, PASS, RESET, Case

FAMILIES = {AFI_SAFI[Family.L2VPN_EVPN], AFI_SAFI[Family.IPV4_UNICAST]}
FRAMING = {"update-length-under-23", "unknown-message-type", "oversize-update"}  # not examine's


def _parts(family: Family) -> Parts:
    evpn = family is Family.L2VPN_EVPN
    route = (
        MacIpRoute(rd="10.244.0.31:100", mac="02:00:1f:00:00:01", label=100)
        if evpn
        else ("10.66.0.0/24")
    )
    attributes = Attributes(
        next_hop="10.244.0.31",
        local_pref=100,
        as_path=(),
        ext_communities=("target:64514:100", "encap:vxlan") if evpn else (),
    )
    return Parts(family, route, attributes)


def test_a_valid_update_is_accepted_as_sent():
    for family in (Family.L2VPN_EVPN, Family.IPV4_UNICAST):
        examined = examine(_parts(family).valid().encode(), FAMILIES)
        assert not examined.errors and len(examined.announced) == 1 and not examined.withdrawn


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in FRAMING], ids=lambda c: c.name)
def test_each_malformed_update_gets_the_action_its_rule_asks(case: Case):
    message = case.build(_parts(case.family))
    if case.action is RESET:
        with pytest.raises(SessionReset) as reset:
            examine(message, FAMILIES)
        if case.notification:
            assert (reset.value.code, reset.value.subcode) == case.notification
        return
    examined = examine(message, FAMILIES)
    if case.action is PASS:  # no error: the attribute kept as received, Partial set on reflection
        assert not examined.errors and len(examined.announced) == 1
        (path,) = examined.announced.values()
        assert case.attribute in {kind for _f, kind, _v in path.attributes}
    elif case.action.value == TAW:
        assert examined.treat_as_withdraw and not examined.announced and examined.withdrawn
    else:
        assert case.action.value == DISCARD and not examined.treat_as_withdraw
        (path,) = examined.announced.values()
        kinds = [kind for _f, kind, _v in path.attributes]
        assert kinds.count(case.attribute) <= 1  # gone, or the first of two kept


def test_a_config_error_names_the_field():
    config = "address: 10.244.0.10\nasn: 64514\nrouter_id: 1.1.1.1\ncluster_id: 1.1.1.1\n"
    config += "listen_ranges: [10.244.0.0/16]\nfamilies: [l2vpn-evpn]\nhold_time: 9\n"
    assert parse_config(config).faults == ()
    why = HarnessRouteServer().rejects(config + "faults: [drop-everything]\n")
    assert why is not None and "faults[0]" in why and "drop-everything" in why
    assert "hold_time" in str(HarnessRouteServer().rejects(config.replace("9", "1")))
