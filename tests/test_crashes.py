"""Crash detection (harness/runtime/crashes.py, harness/daemon_check.py): a SUT daemon that dies
or crashes during a suite fails the check that closes the suite, with its record as evidence;
what the harness ends itself (a drill) is no crash."""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace

import pytest
from conftest import needs_root

from harness.backends.netns.cleanup import find_leftovers
from harness.backends.netns.lab import NetnsBackend
from harness.daemon_check import sut_daemons_survived
from harness.inputs import load_plan
from harness.observe.wait import wait_until
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY
from harness.runtime.crashes import crash_lines
from harness.runtime.run import Run, new_run_id

# FRR 8.4.4's bgpd on SIGSEGV (captured here), and a Go runtime's panic.
FRR_CRASH = (
    "2026/11/30 11:36:19 BGP: [T83RR-8SM5G] bgpd 8.4.4 starting: vty@0, bgp@<all>:179\n"
    "BGP: Received signal 11 at 1796038580 (si_addr 0x5862, PC 0x7fb685b54366); aborting...\n"
    "BGP: /usr/lib/x86_64-linux-gnu/frr/libfrr.so.0(zlog_backtrace_sigsafe+0x6f) [0x7f]\n"
)
GO_PANIC = "time=... level=info msg=start\npanic: runtime error: index out of range [3]\n"


def test_crash_lines_are_frr_s_and_go_s_crash_reports_only():
    assert crash_lines(FRR_CRASH) == [FRR_CRASH.splitlines()[1]]
    assert crash_lines(GO_PANIC) == ["panic: runtime error: index out of range [3]"]
    assert crash_lines("BGP: %ADJCHANGE: neighbor 10.0.0.1 Down\nno panic: here\n") == []


@needs_root
def test_a_crashed_router_daemon_fails_the_suite_s_last_check(tmp_path, profile_frr):
    """The deliberately broken SUT: router-2's bgpd crashes (SIGSEGV, by its PID). The check
    names it with FRR's own crash report, once; rr-0 ended by the harness (as a drill's
    crash on purpose does) is no finding."""
    plan = load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT)
    run = Run(run_id=new_run_id(), reports=tmp_path)
    config = SimpleNamespace(stash=pytest.Stash())
    with NetnsBackend().up(plan, run, establish_timeout=30) as lab:
        sut_daemons_survived(lab, config)  # a lab just up: nothing to report
        lab.frr("rr-0").kill()
        bgpd = next(p for p in lab.frr("router-2").processes if p.name == "bgpd")
        os.kill(bgpd.pid, signal.SIGSEGV)
        found = wait_until(
            lab.daemon_crashes,
            lambda problems: (
                any("Received signal 11" in p for p in problems)
                and any("exited with status" in p for p in problems)
            ),
            timeout=15,
            what="router-2's crash to be on record",
        )
        assert all(p.startswith("router-2: ") for p in found), found
        with pytest.raises(AssertionError, match="router-2: bgpd"):
            sut_daemons_survived(lab, config)
        sut_daemons_survived(lab, config)  # reported once, by the suite it happened in
    left = find_leftovers(run.run_id, include_live=True)
    assert left.empty, left.describe()
