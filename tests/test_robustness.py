"""The robustness suite's parts (issue 15): the raw UPDATE model, the cases as data, the
invariants, each shown able to fail.

- `RawUpdate` takes a valid UPDATE apart and puts it back octet for octet;
- every case is one change to a valid UPDATE, names its rule and action; the deviations name
  only cases that exist;
- a session that went down and came back is a flap, one whose uptime moved by FRR's rounding
  is not;
- in a small lab of its own: a session reset by a malformed message is reported as a flap, and
  an RR daemon killed by a signal as gone, with FRR's crash record as evidence.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from conftest import needs_root

from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute
from harness.bgp.update import build_update, parse_update
from harness.deviations import KNOWN
from harness.model.base import Family
from harness.model.loading import load_sut
from harness.model.plan import LabPlan
from harness.model.topology import Topology
from harness.observe.sessions import SessionLife
from harness.observe.wait import wait_until
from harness.options import ESTABLISH_TIMEOUT
from harness.paths import DEFAULT_SUT, FRR_HOST_TMP
from harness.robustness import invariants
from harness.robustness.cases import CASES, DISCARD, PASS, RESET, Action, Parts
from harness.robustness.probe import codec_only
from harness.robustness.raw import RawUpdate
from harness.runtime.crashes import POD_TMP, crash_records
from harness.runtime.run import Run, new_run_id

EVPN, IPV4 = Family.L2VPN_EVPN, Family.IPV4_UNICAST
ADDRESS = "10.244.0.31"
ROUTE = MacIpRoute(rd=f"{ADDRESS}:100", mac="02:00:00:00:99:01", label=100)
EVPN_ATTRS = Attributes(
    next_hop=ADDRESS, local_pref=100, ext_communities=("target:64514:100", "encap:vxlan")
)
IPV4_ATTRS = Attributes(next_hop=ADDRESS, local_pref=100)


def parts(family: Family) -> Parts:
    if family is EVPN:
        return Parts(EVPN, ROUTE, EVPN_ATTRS)
    return Parts(IPV4, "10.66.1.0/24", IPV4_ATTRS)


# -- the raw model -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "message",
    [
        build_update(EVPN, [ROUTE], attributes=EVPN_ATTRS),
        build_update(IPV4, ["10.66.1.0/24"], ["10.66.2.0/24"], attributes=IPV4_ATTRS),
        build_update(
            IPV4,
            ["10.66.1.0/24"],
            attributes=Attributes(
                next_hop=ADDRESS, local_pref=1, med=2, raw=((0xD0, 243, bytes(300)),)
            ),
        ),
        build_update(EVPN, withdraw=[ROUTE]),
    ],
    ids=["evpn", "ipv4-withdrawn", "extended-length", "mp-unreach"],
)
def test_a_valid_update_comes_apart_and_back_octet_for_octet(message):
    assert RawUpdate.parse(message).encode() == message


def test_every_length_field_can_be_overridden():
    update = RawUpdate.parse(build_update(IPV4, ["10.66.1.0/24"], attributes=IPV4_ATTRS))
    update.message_length, update.withdrawn_length, update.attributes_length = 30, 7, 9
    update.attributes[0].length = 200
    data = update.encode()
    assert int.from_bytes(data[16:18]) == 30 and int.from_bytes(data[19:21]) == 7
    assert int.from_bytes(data[21:23]) == 9 and data[25] == 200  # ORIGIN's length octet


# -- the cases -----------------------------------------------------------------------------------
def test_at_least_thirty_cases_each_named_once_each_citing_its_rule():
    names = [c.name for c in CASES]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for case in CASES:
        assert case.rfc.startswith("RFC ") and case.what, case.name
        if case.action in (DISCARD, PASS):
            assert case.attribute is not None, case.name
    assert {c.action for c in CASES} >= {Action.TREAT_AS_WITHDRAW, DISCARD, PASS, RESET}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_case_changes_the_valid_update(case):
    valid = parts(case.family).valid().encode()
    message = case.build(parts(case.family))
    assert message != valid and message[:16] == b"\xff" * 16
    if case.name != "unknown-message-type":
        assert message[18] == 2  # an UPDATE, whatever else is wrong with it
    assert case.build(parts(case.family)) == message  # the same bytes every time


def test_the_deviations_name_only_cases_that_exist():
    names = {c.name for c in CASES}
    for deviation in KNOWN:
        assert set(deviation.cases) <= names, deviation.name


def test_what_only_the_codec_refuses_is_not_malformed():
    """An RD of a type RFC 4364 does not define is opaque to an RR (measured: FRR 10.3 passes
    type 124 on, `rr-harness fuzz --seed 1` message 729): the codec refuses it, BGP does not."""
    update = RawUpdate.parse(build_update(EVPN, [ROUTE], attributes=EVPN_ATTRS))
    reach = update.attribute(14)
    at = update.mp_nlri_offset() + 2  # the RD's type, first in the type-2 route
    reach.value = reach.value[:at] + b"\x00\x7c" + reach.value[at + 2 :]
    with pytest.raises(ValueError, match="route distinguisher type 124") as refused:
        parse_update(update.encode())
    assert codec_only(str(refused.value))
    with pytest.raises(ValueError) as truly:
        parse_update(CASES[0].build(parts(IPV4)))
    assert not codec_only(str(truly.value))


# -- the invariants, without a lab -------------------------------------------------------------
UP = SessionLife("Established", uptime_ms=60_000, established=1, dropped=0, received=40, sent=50)


@pytest.mark.parametrize(
    ("now", "same"),
    [
        (SessionLife("Established", 62_000, 1, 0, 45, 55), True),
        (SessionLife("Established", 59_000, 1, 0, 40, 50), True),  # FRR rounds to seconds
        (SessionLife("Established", 2_000, 1, 0, 5, 6), False),  # a dynamic peer made anew
        (SessionLife("Established", 62_000, 2, 1, 45, 55), False),  # a configured peer's counts
        (SessionLife("Active", 0, 1, 1, 45, 55), False),
    ],
    ids=["later", "rounded", "made-anew", "counted", "down"],
)
def test_a_flap_is_told_from_a_session_that_went_on(now, same):
    assert now.same_session_as(UP) is same


def test_flaps_names_every_session_but_the_exempt_one():
    before = {("rr-0", "10.0.0.1"): UP, ("rr-0", "10.0.0.2"): UP, ("rr-1", "10.0.0.1"): UP}
    down = SessionLife("Idle", 0, 1, 1, 40, 50)
    after = {("rr-0", "10.0.0.1"): down, ("rr-0", "10.0.0.2"): down}
    problems = invariants.flaps(before, after, exempt=[("rr-0", "10.0.0.1")])
    assert problems == [
        "rr-0's session with 10.0.0.2 is Idle",
        "rr-1's session with 10.0.0.1 is gone",
    ]


def test_a_crash_record_is_found_in_the_pod_and_on_the_host_layouts(tmp_path):
    assert crash_records("bgpd", 4242, tmp_path) == []
    record = tmp_path / POD_TMP / "bgpd.4242" / "crashlog"
    record.parent.mkdir(parents=True)
    record.write_text("BGP: Received signal 11 at 1796037161; aborting...\n")
    (tmp_path / "core.4242").write_bytes(b"\x7fELF")
    assert crash_records("bgpd", 4242, tmp_path) == [record, tmp_path / "core.4242"]


# -- the invariants in a lab: a flap and a crash are seen ----------------------------------------
OTHER = "other"


def small_plan() -> LabPlan:
    """Two RR pods of the default SUT, the crafted client and one more crafted client."""
    sut = load_sut(DEFAULT_SUT)
    labels = {
        "app.kubernetes.io/name": "openperouter-rr",
        "app.kubernetes.io/component": "route-reflector",
    }
    nodes: list[dict[str, object]] = [
        {
            "name": f"rr-{i}",
            "role": "route-reflector",
            "asn": sut.values.asn,
            "labels": labels,
            "interfaces": [{"segment": "cluster", "addresses": [f"10.244.0.{10 + i}/16"]}],
        }
        for i in range(2)
    ]
    for name, host in (("client", 31), (OTHER, 32)):
        nodes.append(
            {
                "name": name,
                "role": "crafted-speaker",
                "asn": sut.values.asn,
                "interfaces": [{"segment": "cluster", "addresses": [f"10.244.0.{host}/16"]}],
                "families": ["ipv4-unicast", "l2vpn-evpn"],
                "peers": ["rr-0", "rr-1"],
            }
        )
    topology = Topology.model_validate(
        {
            "name": "invariants",
            "segments": [
                {"name": "cluster", "kind": "cluster-network", "subnets": ["10.244.0.0/16"]}
            ],
            "nodes": nodes,
        }
    )
    return LabPlan(topology, sut, source="invariants topology")


@pytest.fixture(scope="module")
def small_lab() -> Iterator[NetnsLab]:
    with NetnsBackend().up(small_plan(), Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        assert not lab.unready, lab.unready
        yield lab


@needs_root
def test_a_session_reset_by_a_malformed_message_is_a_flap(small_lab):
    """An UPDATE whose Length is 22 (under 23, RFC 4271 §6.1) resets the sender's session on
    any implementation; once it is back, it is not the session it was."""
    pods = ["rr-0", "rr-1"]
    before = invariants.session_lives(small_lab, pods)
    speaker = small_lab.speaker(OTHER)
    address = speaker.sessions[0].local_address
    update = RawUpdate.parse(build_update(IPV4, ["10.66.9.0/24"], attributes=IPV4_ATTRS))
    update.message_length = 22
    speaker.send(update.encode(), peer="rr-0")
    wait_until(
        lambda: speaker.rib.refresh().notifications(speaker.peer_address("rr-0")),
        timeout=10,
        what="rr-0's NOTIFICATION",
    )
    speaker.reconnect("rr-0")
    after = wait_until(
        lambda: invariants.session_lives(small_lab, pods),
        lambda lives: ("rr-0", address) in lives and lives["rr-0", address].state == "Established",
        timeout=10,
        what=f"{OTHER}'s session with rr-0 back",
    )
    problems = invariants.flaps(before, after)
    assert (
        len(problems) == 1
        and f"rr-0's session with {address} went down and came back" in (problems[0])
    ), problems
    assert invariants.flaps(before, after, exempt=[("rr-0", address)]) == []


@needs_root
def test_an_rr_daemon_killed_by_a_signal_is_gone_with_its_crash_record(small_lab):
    """FRR writes `crashlog` under /var/tmp/frr/bgpd.<pid>/ when it dies of a signal (the
    host's /var/tmp, or the pod's for an FRR run from a root filesystem): the invariant names
    the daemon and quotes the record. (The last test of the lab: it ends it.)"""
    before = invariants.daemons(small_lab, ["rr-0", "rr-1"])
    assert invariants.daemon_problems(small_lab, before) == []
    bgpd = next(d for d in before if d.node == "rr-1" and d.name == "bgpd")
    os.kill(bgpd.pid, signal.SIGSEGV)  # our own child, by PID
    gone = f"{bgpd} is no longer running"
    problems = wait_until(
        lambda: invariants.daemon_problems(small_lab, before),
        lambda found: gone in found,
        timeout=10,
        what="the killed bgpd to be gone",
        describe=lambda found: found,
    )
    assert len(problems) == 2, problems  # gone, and one crash record (seen through one path)
    assert "crashlog" in problems[1] and "Received signal 11" in problems[1], problems
    (record,) = crash_records(bgpd.name, bgpd.pid, bgpd.directory)  # host's FRR, or a tree's
    assert record in (
        FRR_HOST_TMP / f"bgpd.{bgpd.pid}" / "crashlog",
        bgpd.directory / POD_TMP / f"bgpd.{bgpd.pid}" / "crashlog",
    )
