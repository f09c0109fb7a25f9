"""`rr-harness cleanup` removes only what carries a run tag, and spares live runs."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import needs_root
from pyroute2 import netns

from harness.backends.netns.cleanup import find_leftovers, remove_leftovers
from harness.runtime.processes import pid_running
from harness.runtime.run import TAG_ENV, Run

pytestmark = needs_root


@pytest.fixture
def dead_run(tmp_path):
    """What a SIGKILLed run leaves: a namespace, a tagged process, a state dir of a dead owner."""
    run = Run(run_id="deadbeef", root=tmp_path)
    run.directory.mkdir(parents=True)
    (run.manifest).write_text(json.dumps({"run_id": run.run_id, "owner_pid": 2**22 + 7}))
    netns.create(run.namespace("rr-0"))
    proc = subprocess.Popen(["sleep", "300"], env={**os.environ, TAG_ENV: run.run_id})
    yield run, proc
    proc.kill()
    proc.wait()
    if run.namespace("rr-0") in netns.listnetns():
        netns.remove(run.namespace("rr-0"))


def test_finds_and_removes_a_dead_run(dead_run, tmp_path):
    run, proc = dead_run
    left = find_leftovers(run.run_id, root=tmp_path)
    assert left.namespaces == [run.namespace("rr-0")]
    assert left.pids == {proc.pid: run.run_id}
    assert left.run_dirs == [run.directory]
    assert remove_leftovers(left) == []
    proc.wait(timeout=5)
    assert not pid_running(proc.pid)
    assert find_leftovers(run.run_id, root=tmp_path).empty


def test_a_live_run_is_left_alone_unless_forced(tmp_path):
    run = Run(run_id="alive1", root=tmp_path)
    run.open()  # owner: this test process, alive
    netns.create(run.namespace("router-1"))
    try:
        left = find_leftovers(run.run_id, root=tmp_path)
        assert left.empty and left.skipped_live == [run.run_id]
        forced = find_leftovers(run.run_id, include_live=True, root=tmp_path)
        assert forced.namespaces == [run.namespace("router-1")]
    finally:
        netns.remove(run.namespace("router-1"))
        run.close()


def test_untagged_things_are_never_touched(tmp_path):
    netns.create("rrh-x-lookalike")  # "x" is no run id: not ours
    netns.create("elsewhere-0")
    other = subprocess.Popen(["sleep", "300"])
    try:
        left = find_leftovers(None, root=tmp_path)
        assert other.pid not in left.pids
        assert "rrh-x-lookalike" not in left.namespaces
        assert "elsewhere-0" not in left.namespaces
    finally:
        other.kill()
        other.wait()
        netns.remove("rrh-x-lookalike")
        netns.remove("elsewhere-0")
