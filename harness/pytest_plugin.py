"""The harness's pytest plugin (entry point `pytest11`): options, the lab fixture, reporting.

`pytest suites/` gets everything from here; the CLI (`rr-harness run`) is a thin layer over it.
The lab is session-scoped (DESIGN pattern 8): built once, shared by every suite, torn down at the
end — also on failure and on Ctrl-C — and checked for leaks (pattern 3).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from harness.backends import get_backend, unsupported
from harness.backends.base import Backend, Lab, session_count, software
from harness.daemon_check import close_every_suite
from harness.daemons.frr_runtime import HOST
from harness.errors import HarnessError, InputError
from harness.inject import Injector
from harness.inputs import load_plan
from harness.log import RUN_LOG, logger, run_log
from harness.model.actors import MARKER as ACTORS
from harness.model.actors import Actor, left_out, needed, shaped
from harness.model.plan import LabPlan
from harness.observe.wait import WAITED
from harness.options import plugin_options
from harness.paths import REPORTS_DIR
from harness.report.page import harness_version
from harness.runtime import startup
from harness.runtime.run import Run, check_run_id, new_run_id
from harness.verdicts import STARTUP_FAILURE, UNDECIDED, VERDICT, undecided, undecided_to_errors

log = logger("run")

PLAN_KEY = pytest.StashKey[LabPlan]()
LAB_KEY = pytest.StashKey[Lab]()
# The lab as it came up (its plan, the sessions not Established): the HTML report's topology
STARTUP_KEY = pytest.StashKey[tuple[LabPlan, dict[str, dict[str, str]]]]()
DRAWN_KEY = pytest.StashKey[Future[tuple[str, str]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The lab's options, from the table the CLI reads too (`harness.options`)."""
    group = parser.getgroup("rr-harness", "route reflector conformance harness")
    for option in plugin_options():
        option.add_to(group.addoption, flags=[option.pytest_flag])


_MAIN_PID = os.getpid()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "disruptive: reschedules pods; runs after every other suite of the session"
    )
    config.addinivalue_line(
        "markers", "sut_kind(kind): the suite checks SUTs of this kind (standalone-rr, meshrr)"
    )
    config.addinivalue_line(
        "markers",
        "actors(*actors): the nodes the suite's checks need (harness.model.actors); a suite "
        "without it needs every node",
    )
    config.addinivalue_line(
        "markers",
        "requires(capability): skipped on a backend that cannot stage it "
        "(harness.backends.unsupported says why)",
    )
    # SIGTERM (a CI job cancelled, `timeout`) takes the same path as Ctrl-C: teardown runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a hang-up (ssh dropped) too
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _terminate)


def _terminate(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _MAIN_PID:  # a forked helper (pyroute2's netns workers): just end
        os._exit(128 + signum)
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_sessionstart(session: pytest.Session) -> None:
    startup.mark("session")


def pytest_collection_finish(session: pytest.Session) -> None:
    startup.mark("collected")
    startup.started()


def lab_actors(items: list[pytest.Item]) -> frozenset[Actor]:
    """What the checks that will run need (skipped ones need nothing): the union of their
    `actors` markers, every actor as soon as one declares none."""
    declared: list[list[Actor] | None] = []
    for item in items:
        if item.get_closest_marker("skip") is not None:
            continue
        markers = list(item.iter_markers(ACTORS))
        declared.append([Actor(a) for m in markers for a in m.args] if markers else None)
    return needed(declared)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Disruptive suites (failover) run last: they leave RR pods with new names and IPs. Every
    suite ends with the check that the SUT's daemons survived it. A suite written for one kind
    of SUT (`sut_kind` marker) is skipped against another."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)
    close_every_suite(items)
    cannot = unsupported(config.getoption("--backend"), config.getoption("--kubeconfig"))
    for item in items:
        needs = [a for m in item.iter_markers("requires") for a in m.args]
        why = [f"{need}: {cannot[need]}" for need in needs if need in cannot]
        if why:
            item.add_marker(pytest.mark.skip(reason="; ".join(why)))
    kinds: tuple[str, ...] = ()
    for item in items:
        marker = item.get_closest_marker("sut_kind")
        if marker is None:
            continue
        kinds = kinds or harness_plan(config).sut.values.suite_kinds
        if marker.args[0] not in kinds:
            item.add_marker(
                pytest.mark.skip(reason=f"for {marker.args[0]} SUTs; this is {kinds[0]}")
            )


class PlanGiven:
    """The plan `rr-harness run` loaded and checked, handed to the session (its options name
    the same files): loaded once per run."""

    def __init__(self, plan: LabPlan) -> None:
        self.plan = plan

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[PLAN_KEY] = self.plan


def harness_plan(config: pytest.Config) -> LabPlan:
    """The run's plan, loaded once; bad input ends the session with exit status 2."""
    if PLAN_KEY not in config.stash:
        try:
            kind = config.getoption("--backend") == "kind"  # the image's FRR runs there
            if kind and config.getoption("--frr") is not None:
                raise InputError("--frr: only for --backend netns (kind runs the image's FRR)")
            config.stash[PLAN_KEY] = load_plan(
                Path(config.getoption("--topology")),
                Path(config.getoption("--sut")),
                frr=config.getoption("--frr"),
                runtime=HOST if kind else None,
            )
        except InputError as exc:
            pytest.exit(f"rr-harness: {exc}", returncode=2)
    return config.stash[PLAN_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`router` parametrises a test over the topology's router pods."""
    if "router" in metafunc.fixturenames:
        names = [n.name for n in harness_plan(metafunc.config).routers]
        metafunc.parametrize("router", names, ids=names)


@pytest.fixture(scope="session")
def plan(pytestconfig: pytest.Config) -> LabPlan:
    return harness_plan(pytestconfig)


@pytest.fixture(scope="session")
def convergence_timeout(pytestconfig: pytest.Config) -> float:
    return float(pytestconfig.getoption("--convergence-timeout"))


@pytest.fixture(scope="session")
def lab(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    plan: LabPlan,
    record_testsuite_property: Any,
) -> Iterator[Lab]:
    """The running lab: every pod up and every session Established."""
    run_id = pytestconfig.getoption("--run-id") or new_run_id()
    try:
        junit = pytestconfig.option.xmlpath  # the run's folder goes beside its report
        beside = junit and not Path(junit).is_char_device()  # never a folder in /dev
        run = Run(check_run_id(run_id), reports=Path(junit).parent if beside else REPORTS_DIR)
    except InputError as exc:
        pytest.exit(f"rr-harness: {exc}", returncode=2)
    kubeconfig = pytestconfig.getoption("--kubeconfig")
    backend = get_backend(
        pytestconfig.getoption("--backend"),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        peer_image=pytestconfig.getoption("--peer-image"),
    )
    say = _reporter(pytestconfig)
    say(
        f"rr-harness: run {run.run_id}: {plan.topology.name} with SUT {plan.sut.values.name} "
        f"on {backend.name}"
    )
    level = pytestconfig.getoption("--rr-log-level")
    with run_log(run.kept / RUN_LOG, level) as log_path:
        if log_path is not None:
            record_testsuite_property("log", str(log_path))
        log.info(
            "run %s: %s with SUT %s on %s",
            run.run_id,
            plan.topology.name,
            plan.sut.directory,
            backend.name,
        )
        lab_plan = shaped(plan, lab_actors(request.session.items))
        if lab_plan is not plan:  # the run's checks need fewer nodes than the topology has
            log.info("nodes the selected checks need no actor of: %s", left_out(plan, lab_plan))
            record_testsuite_property("nodes_left_out", ",".join(left_out(plan, lab_plan)))
        yield from _lab_up(
            request,
            config=pytestconfig,
            plan=lab_plan,
            run=run,
            backend=backend,
            record_testsuite_property=record_testsuite_property,
        )


def _lab_up(
    request: pytest.FixtureRequest,
    *,
    config: pytest.Config,
    plan: LabPlan,
    run: Run,
    backend: Backend,
    record_testsuite_property: Any,
) -> Iterator[Lab]:
    """The lab's life: up, the session's tests, down; its figures as suite properties."""
    say = _reporter(config)
    started = time.monotonic()
    waited_before = WAITED.seconds
    establish = float(config.getoption("--establish-timeout"))
    with backend.up(plan, run, establish) as running:
        up = time.monotonic() - started
        unready = dict(running.unready)
        config.stash[STARTUP_KEY] = (running.plan, unready)
        if config.option.xmlpath:  # the report's picture, drawn while the checks run
            from harness.report.run_end import draw_early

            config.stash[DRAWN_KEY] = draw_early(running.plan, unready)
        if running.unready:  # no check can be decided: one message, no per-check noise
            down = "; ".join(
                f"{node} with {peer}: {state}"
                for node, peers in running.unready.items()
                for peer, state in peers.items()
            )
            text = f"sessions not Established {up:.1f} s after start-up: {down}"
            record_testsuite_property(STARTUP_FAILURE, text)
            log.error(text)
            pytest.exit(f"rr-harness: {text}", returncode=1)
        facts = software(running)
        say(
            f"rr-harness: lab up, {session_count(running)} sessions Established in {up:.2f} s "
            f"(FRR {facts['frr_version']}, {facts['frr_source']})"
        )
        for key, value in {
            "run_id": run.run_id,
            "backend": backend.name,
            "topology": plan.topology.name,
            "sut": plan.sut.values.name,
            "sut_dir": str(plan.sut.directory),
            "sessions": session_count(running),
            "lab_up_ms": round(up * 1000),
            startup.PROPERTY: startup.as_property(startup.breakdown(running.timings, started)),
            "harness_version": harness_version(),
            **facts,  # implementation (and its version, as the RR pods say), the FRR run
        }.items():
            record_testsuite_property(key, value)
        config.stash[LAB_KEY] = running
        yield running
        del config.stash[LAB_KEY]
        if request.session.testsfailed:  # keep configs and logs before teardown removes them
            kept = running.archive(run.kept)
            record_testsuite_property("logs", str(kept))
            say(f"rr-harness: tests failed; configs and daemon logs kept in {kept}")
        teardown_started = time.monotonic()
    teardown = time.monotonic() - teardown_started
    record_testsuite_property("teardown_ms", round(teardown * 1000))
    # waiting for daemons, lab start-up included (the rest of the wall time is the harness's)
    record_testsuite_property("waited_s", round(WAITED.seconds - waited_before, 3))
    log.info("tests done; lab down in %.2f s", teardown)
    say(f"rr-harness: lab down in {teardown:.2f} s, nothing left behind")


@pytest.fixture
def injector(lab: Lab, convergence_timeout: float) -> Iterator[Injector]:
    """Announce through crafted speakers; everything announced is withdrawn after the test,
    and gone from every router and peer before the next one starts."""
    inject = Injector(lab)
    yield inject
    inject.withdraw_all(convergence_timeout)


def _reporter(config: pytest.Config) -> Any:
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        if terminal is None:
            return
        terminal.ensure_newline()  # after a -q progress line too
        if capture is None:
            terminal.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            terminal.write_line(line)

    return say


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """An expected failure (a known deviation, `harness.deviations.judge`) is reported with its
    reason, its traceback not rendered: pytest shows and writes only the reason (JUnit
    `<skipped type="pytest.xfail">`), and rendering it parses each source file of the stack
    (about 0.1 s an xfail, issue 18). Anything else: pytest's own report."""
    if call.excinfo is None or not isinstance(call.excinfo.value, pytest.xfail.Exception):
        return None
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",  # pytest's xfail handling makes it "skipped", with the reason as wasxfail
        f"XFailed: {call.excinfo.value.msg}",
        call.when,
        [
            (f"Captured {key} {when}", text)
            for when, key, text in getattr(item, "_report_sections", [])  # pytest's own record
        ],
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_wrapper(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Harness errors read as their message (it names node, command and what was seen); a
    check the harness could not decide is marked an error (`harness.verdicts`), and a failed
    test's report carries the daemons' logs as evidence."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, HarnessError):
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
    if (
        call.excinfo is not None
        and call.when == "call"
        and report.failed
        and undecided(call.excinfo.value)
    ):
        item.user_properties.append((VERDICT, UNDECIDED))
        report.undecided = True  # type: ignore[attr-defined]
    expected = call.excinfo is not None and isinstance(call.excinfo.value, pytest.xfail.Exception)
    if report.failed and call.when == "call" and not expected:
        running = item.config.stash.get(LAB_KEY, None)
        evidence = getattr(running, "evidence", None)
        if evidence is not None:
            report.sections.append(("rr-harness evidence", evidence()[-20000:]))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport) -> Any:
    """An undecided check counts as an error on the terminal too, not as a failure."""
    if report.when == "call" and getattr(report, "undecided", False):
        return "error", "E", ("ERROR", {"red": True})
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """JUnit written: an undecided check's <failure> becomes an <error>; then the HTML report
    beside it and the CI job summary (`harness.report.run_end`)."""
    junit = session.config.option.xmlpath
    if junit and Path(junit).is_file():
        undecided_to_errors(Path(junit))
        from harness.report.run_end import after_run, docstrings

        plan, unready = session.config.stash.get(STARTUP_KEY, (None, None))
        after_run(
            Path(junit),
            plan=plan or session.config.stash.get(PLAN_KEY, None),
            unready=unready,
            docs=docstrings(session.items),
            say=_reporter(session.config),
            drawn=session.config.stash.get(DRAWN_KEY, None),
        )
