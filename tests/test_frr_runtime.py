"""The FRR a lab runs (issue 14): a choice of host, a version or a tree; versions resolved to the
Debian suite that ships them; the profile's tree built once and reused; bad choices named (exit
2); a tree lab on the record, run from the tree, leaving nothing behind (nor in the tree)."""

from __future__ import annotations

import os
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import CLI, RESOLVE, needs_root, rr_harness

from harness.backends.netns.cleanup import find_leftovers
from harness.daemons import frr_tree
from harness.daemons.frr_runtime import _fstab
from harness.daemons.frr_tree import SUITES, _entries, ships, upstream
from harness.model.sut import frr_choice
from harness.runtime.run import new_run_id


# -- the choice's form, and Debian's version numbers (no lab, no archive) ------------------------
@pytest.mark.parametrize("text", ["host", "8.4", "10.3", "10.7.1", "/srv/frr-tree", "./tree"])
def test_an_frr_choice_is_host_a_version_or_a_path(text):
    assert frr_choice(text) == text


@pytest.mark.parametrize("text", ["banana", "10", "v10.3", "", "10.3-3"])
def test_anything_else_is_refused_saying_what_is_expected(text):
    with pytest.raises(ValueError, match=r"expected host, an FRR version such as 10\.3, or a path"):
        frr_choice(text)


def test_a_version_covers_its_point_releases_and_nothing_else():
    assert upstream("1:8.4.4-1.1~deb12u2") == "8.4.4"
    assert ships("1:8.4.4-1.1~deb12u2", "8.4") and ships("10.3-3+deb13u1", "10.3")
    assert ships("10.7.1-6", "10.7") and ships("10.7.1-6", "10.7.1")
    assert not ships("10.70-1", "10.7") and not ships("10.3-3+deb13u1", "10.3.1")


def test_the_debian_archive_is_found_in_either_apt_sources_format():
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /nonexistent.gpg\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n"
    )
    assert [u for u, _ in _entries(deb822, deb822=True)] == ["http://mirror.example/debian"]
    one_line = (
        "deb http://security.example/debian-security bookworm-security main\n"
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64] http://mirror.example/debian bookworm main contrib\n"
    )
    assert [u for u, _ in _entries(one_line, deb822=False)] == ["http://mirror.example/debian"]


# -- bad input: one line naming the field, exit status 2 -----------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("banana", "sut.yaml: frr: expected host, an FRR version such as 10.3, or a path"),
        ("10.3", 'sut.yaml: frr: write the version as a string (frr: "10.3")'),
        ("/nonexistent/tree", "sut.yaml: frr: /nonexistent/tree: not a root filesystem with FRR"),
    ],
    ids=["word", "number", "missing-tree"],
)
def test_a_bad_frr_in_sut_yaml_is_named_and_exits_2(sut_copy, value, message):
    path = sut_copy / "sut.yaml"
    path.write_text(path.read_text().replace('frr: "10.3"', f"frr: {value}"))
    result = rr_harness("validate", "--sut", str(sut_copy))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_frr_option_is_named_and_exits_2():
    result = rr_harness("run", "--frr", "banana")
    assert result.returncode == 2
    assert "argument --frr: expected host, an FRR version such as 10.3" in result.stderr


@needs_root
def test_a_version_no_suite_ships_is_named_with_what_the_suites_ship():
    result = rr_harness("validate", "--frr", "9.1")
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert line.startswith("rr-harness validate: --frr 9.1: no Debian suite ships FRR 9.1 (")
    assert all(f"{suite} " in line for suite in SUITES) and "Traceback" not in line


@needs_root
def test_an_unreachable_archive_is_one_line_and_exits_2(tmp_path):
    """Nothing cached (an empty cache) and the archive out of reach (a proxy that refuses)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "http_proxy": "http://127.0.0.1:9"}
    result = subprocess.run(
        [*CLI, "validate", "--frr", "10.3"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert line.startswith("rr-harness validate: --frr 10.3: cannot read Debian's package list")
    assert "Traceback" not in line and len(line.splitlines()) == 1


# -- resolution and the cache --------------------------------------------------------------------
@needs_root
def test_versions_resolve_to_the_debian_suite_that_ships_them():
    found = {v: frr_tree.locate(v, "--frr") for v in ("8.4", "10.3", "10.7")}
    assert {v: suite for v, (suite, _) in found.items()} == {
        "8.4": "bookworm",
        "10.3": "trixie",
        "10.7": "sid",
    }
    assert all(ships(package, v) for v, (_, package) in found.items())


def test_the_profile_s_tree_is_built_at_most_once_and_reused(profile_frr):
    """Two processes asked at once (the session's fixture): at most one built. A third finds
    the tree as it was, at once, and says nothing about building."""
    building = [out for out in profile_frr.outputs if "building FRR" in out]
    assert len(building) <= 1, profile_frr.outputs
    assert (
        profile_frr.root.parent == frr_tree.TREES
        and (profile_frr.root / "usr/lib/frr/bgpd").is_file()
    )
    before = profile_frr.root.stat()
    started = time.monotonic()
    again = subprocess.run(
        [CLI[0], "-c", RESOLVE], capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0 and again.stdout.strip() == f"root {profile_frr.root}"
    assert "building" not in again.stdout + again.stderr
    assert time.monotonic() - started < 15
    after = profile_frr.root.stat()
    assert (after.st_ino, after.st_mtime) == (before.st_ino, before.st_mtime)
    assert not list(frr_tree.TREES.glob(".building-*"))


# -- labs ----------------------------------------------------------------------------------------
def _properties(report: Path) -> dict[str, str]:
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def _untouched(tree: Path) -> list[str]:
    """What a run may have left in the shared tree (its mounts are the daemons' own)."""
    left = [str(p) for d in ("tmp", "var/tmp") for p in (tree / d).iterdir()]
    left += [str(p) for p in (tree / "run").iterdir() if p.name != "lock"]
    mounts = Path("/proc/self/mountinfo").read_text()
    return left + ([f"a mount under {tree}"] if str(tree) in mounts else [])


@needs_root
def test_a_tree_lab_forms_its_sessions_and_says_which_frr_ran(tmp_path, profile_frr):
    run_id = new_run_id()
    report = tmp_path / "junit.xml"
    result = rr_harness("run", "sessions", "--junitxml", str(report), "--run-id", run_id)
    assert result.returncode == 0, result.stdout[-3000:]
    props = _properties(report)
    assert props["frr_version"] == "10.3", props
    assert props["frr_source"].startswith("trixie 10.3-"), props
    assert props["implementation"] == "frr"
    assert "(FRR 10.3, trixie 10.3-" in result.stdout
    left = find_leftovers(run_id, include_live=True)
    assert left.empty, left.describe()
    assert _untouched(profile_frr.root) == []


@needs_root
def test_the_host_frr_is_still_there_to_pick(tmp_path):
    report = tmp_path / "junit.xml"
    result = rr_harness("run", "sessions", "--frr", "host", "--junitxml", str(report))
    assert result.returncode == 0, result.stdout[-3000:]
    props = _properties(report)
    assert props["frr_version"].startswith("8.4") and props["frr_source"] == "host", props


def test_a_tree_s_mounts_are_one_fstab_in_order_with_its_fields_escaped():
    """Issue 18: one `mount --all` per daemon start; tmpfs first, then what is mounted into
    it (mount points made there), the namespace's /sys last."""
    lines = _fstab(Path("/cache/frr tree"), Path("/run/rr-harness/ab12cd/router-1")).splitlines()
    assert [line.split()[1] for line in lines] == [
        "/cache/frr\\040tree/run",
        "/cache/frr\\040tree/tmp",
        "/cache/frr\\040tree/run/rr-harness/ab12cd/router-1",
        "/cache/frr\\040tree/run/frr",
        "/cache/frr\\040tree/var/tmp",
        "/cache/frr\\040tree/etc/frr",
        "/cache/frr\\040tree/proc",
        "/cache/frr\\040tree/sys",
    ]
    assert "bind,X-mount.mkdir" in lines[2] and lines[-1].startswith("/sys ")
    assert all(line.endswith(" 0 0") for line in lines)
