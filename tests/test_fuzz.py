"""`rr-harness fuzz` (issue 15): the messages are the seed's, bad arguments are one line and exit
2, a short run on the default SUT checks every message, a saved finding replays.
"""

from __future__ import annotations

import json

import pytest
from conftest import needs_root, rr_harness

from harness.bgp.attributes import Attributes
from harness.bgp.stream import HEADER_SIZE, MARKER
from harness.bgp.update import build_update
from harness.errors import InputError
from harness.model.base import Family
from harness.robustness.cases import Parts, case
from harness.robustness.fuzz import Sender, mutant
from harness.robustness.fuzz_files import load, save

SENDER = Sender("10.244.0.31", 64514, 100)
RR = "10.244.0.10"


def test_message_i_of_a_seed_is_the_same_bytes_every_time():
    first = [mutant(7, i, SENDER) for i in range(50)]
    again = [mutant(7, i, SENDER) for i in range(50)]
    other = [mutant(8, i, SENDER) for i in range(50)]
    assert [m.message for m in first] == [m.message for m in again]
    assert [m.message for m in first] != [m.message for m in other]
    assert {m.family for m in first} == {Family.L2VPN_EVPN, Family.IPV4_UNICAST}
    assert all(m.mutations for m in first)


def test_a_mutant_never_claims_more_octets_than_it_has():
    """A longer header Length would make the RR wait for octets that never come."""
    for i in range(300):
        message = mutant(3, i, SENDER).message
        assert message[:16] == MARKER
        assert HEADER_SIZE <= int.from_bytes(message[16:18]) <= len(message)


def test_a_finding_saved_as_hex_and_pcap_loads_back(tmp_path):
    valid = build_update(
        Family.IPV4_UNICAST, ["10.66.1.0/24"], attributes=Attributes(next_hop="10.0.0.1")
    )
    hexa, pcap = save(tmp_path, "f", valid, ["a comment"], source="10.244.0.31", destination=RR)
    assert hexa.read_text().startswith("# a comment\n")
    assert load(hexa) == [valid] and load(pcap) == [valid]
    parts = Parts(Family.IPV4_UNICAST, "10.66.2.0/24", Attributes(next_hop="10.0.0.1"))
    broken = case("update-length-under-23").build(parts)  # framing broken on purpose
    hexa, pcap = save(tmp_path, "g", broken, [], source="10.244.0.31", destination=RR)
    assert load(hexa) == [broken] and load(pcap) == [broken]  # sent whole, as it was


@pytest.mark.parametrize(
    ("text", "error"),
    [(None, "no such file"), ("zz\n", "not hex lines"), ("# only a comment\n", "holds no message")],
)
def test_a_bad_replay_file_is_named(tmp_path, text, error):
    path = tmp_path / "finding.hex"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=f"--replay {path}: {error}"):
        load(path)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seconds", "-1"], "argument --seconds"),
        (["--seconds", "soon"], "argument --seconds"),
        (["--seed", "-3"], "argument --seed"),
        (["--seed", "x"], "argument --seed"),
        (["--replay", "/nonexistent/finding.hex"], "--replay /nonexistent/finding.hex"),
        (["--sut", "/nonexistent"], "/nonexistent"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, named):
    result = rr_harness("fuzz", *args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@needs_root
def test_a_short_run_checks_every_message_and_says_so(tmp_path):
    result = rr_harness(
        "fuzz", "--seconds", "3", "--seed", "5", "--reports", str(tmp_path), timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == json.loads(result.stdout)
    assert summary["messages"] >= 10 and summary["messages_per_s"] > 1, summary
    assert summary["distinct_outcomes"] >= 2 and summary["violations"] == [], summary
    assert sum(summary["outcomes"].values()) == summary["messages"]
    assert "messages (" in result.stderr  # progress on the terminal


@needs_root
def test_a_saved_finding_replays(tmp_path):
    """A case's message saved as the fuzzer saves a finding, sent again from its pcap: one
    message, judged, nothing broken (whatever the RR's version does with it)."""
    message = mutant(1, 0, SENDER).message
    _, pcap = save(tmp_path, "seed1-0", message, [], source=SENDER.address, destination=RR)
    result = rr_harness("fuzz", "--replay", str(pcap), "--reports", str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["messages"] == 1 and summary["violations"] == [], summary
    assert summary["replay"] == str(pcap)
    assert "message 0: " in result.stderr
