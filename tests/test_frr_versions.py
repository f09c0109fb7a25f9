"""The observers read FRR 8.4, 10.3 and 10.7 alike (issue 14): the same Route records, sessions,
identifiers and sampler keys from each one's JSON (tests/data/frr-versions, one lab per version),
and the stronger allowas-in evidence where the JSON has it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conftest import DATA

from harness.model.base import Family
from harness.observe import frr
from harness.observe.samples import read_tables

VERSIONS = ("8.4.4", "10.3", "10.7.1")


def _json(version: str, what: str) -> Any:
    return json.loads((DATA / "frr-versions" / version / f"router-2-{what}.json").read_text())


def _routes(version: str) -> dict[tuple[str, str], dict[str, Any]]:
    routes = frr.evpn_routes(_json(version, "evpn-detail"), "router-2")
    routes += frr.unicast_routes(_json(version, "ipv4-detail"), Family.IPV4_UNICAST, "router-2")
    return {(r.key, r.peer): dataclasses.asdict(r) for r in routes}


def test_every_version_gives_the_same_routes_but_for_the_med_10_7_no_longer_adds():
    """8.4 and 10.3 reflect a route sent without MED with MED 0 (harness/deviations.py); 10.7
    does not. Everything else reads the same."""
    by_version = {v: _routes(v) for v in VERSIONS}
    assert len(by_version["8.4.4"]) == 26
    assert by_version["8.4.4"].keys() == by_version["10.3"].keys() == by_version["10.7.1"].keys()
    reflected = {k for k in by_version["8.4.4"] if k[1].startswith("10.244.0.")}
    for key, route in by_version["8.4.4"].items():
        for version in ("10.3", "10.7.1"):
            other = by_version[version][key]
            assert {f: v for f, v in route.items() if f != "med"} == {
                f: v for f, v in other.items() if f != "med"
            }, (version, key)
        if key in reflected and key[0].startswith("evpn"):
            assert (route["med"], by_version["10.3"][key]["med"]) == (0, 0)
            assert by_version["10.7.1"][key]["med"] is None
    some = by_version["10.7.1"][("evpn type-3 rd 10.0.0.1:2 vtep 100.65.0.1", "10.244.0.10")]
    assert (some["originator_id"], some["cluster_list"]) == ("10.0.0.1", ("1.1.1.1",))


@pytest.mark.parametrize("version", VERSIONS)
def test_sessions_identifiers_and_sampler_keys_read_alike(version):
    assert frr.session_states(_json(version, "summary")) == {
        "10.244.0.10": "Established",
        "10.244.0.11": "Established",
        "192.168.12.2": "Established",
    }
    assert frr.peer_identifiers(_json(version, "neighbors")) == {
        "10.244.0.10": "1.1.1.1",
        "10.244.0.11": "1.1.1.1",
        "192.168.12.2": "192.168.12.2",
    }
    paths, stale = read_tables(_json(version, "evpn-listing"), _json(version, "ipv4-listing"))
    assert len(paths) == 12 and not stale
    assert paths["evpn [2]:[0]:[48]:[02:00:00:00:01:42] rd 10.0.0.1:2"] == {
        "10.244.0.10",
        "10.244.0.11",
    }
    assert frr.unicast_prefixes(_json(version, "ipv4-listing")) == [
        "100.65.0.1/32",
        "100.65.0.2/32",
        "100.65.0.3/32",
    ]


def test_allowas_in_is_read_from_bgpd_where_its_json_reports_it():
    """10.x reports allowAsInCount on the families of neighbors that carry allowas-in (the
    cloud router's); 8.4 reports it nowhere, so its JSON is no evidence at all (None)."""
    assert frr.allowas_in(_json("8.4.4", "neighbors")) is None
    for version in ("10.3", "10.7.1"):
        assert frr.allowas_in(_json(version, "neighbors")) == {
            "10.244.0.10": {},
            "10.244.0.11": {},
            "192.168.12.2": {"ipv4Unicast": 3, "ipv6Unicast": 3},
        }


def test_only_8_4_has_the_upper_case_vni_key():
    def vni_keys(version: str) -> set[str]:
        data = _json(version, "evpn-detail")
        return {
            k
            for table in data.values()
            if isinstance(table, dict)
            for entry in table.values()
            if isinstance(entry, dict)
            for path in frr._paths(entry)
            for k in path
            if k.lower() == "vni"
        }

    assert vni_keys("8.4.4") == {"VNI", "vni"}
    assert vni_keys("10.3") == vni_keys("10.7.1") == {"vni"}
