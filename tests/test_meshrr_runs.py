"""The meshrr suite against the other cluster-id layout (the profile's default, one cluster per
route server, runs in tests/test_mutate.py's baseline)."""

from __future__ import annotations

import pytest
from conftest import needs_root, rr_harness

from harness.mutation.catalogue import MESHRR, PROFILES

pytestmark = [needs_root, pytest.mark.usefixtures("profile_frr")]


def test_a_shared_cluster_id_per_side_passes_the_mesh_checks(tmp_path):
    """meshrr.cluster_id_scope: side. The side's route servers share one cluster id: routes
    still cross the sides with CLUSTER_LIST [other side's id, own side's id], and the checks
    derive what they expect from the declared scope."""
    profile, topology = PROFILES[MESHRR]
    sut = tmp_path / "sut"
    sut.mkdir()
    for item in profile.iterdir():
        (sut / item.name).write_text(item.read_text())
    values = sut / "sut.yaml"
    text = values.read_text()
    assert "cluster_id_scope: route-server" in text
    values.write_text(text.replace("cluster_id_scope: route-server", "cluster_id_scope: side"))
    result = rr_harness(
        "run", "meshrr", "-k", "cross_sides or clients_only", "--sut", str(sut),
        "--topology", str(topology), "--junitxml", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
