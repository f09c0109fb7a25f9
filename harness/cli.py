"""`rr-harness`: run the conformance suites, validate inputs, measure, fuzz, clean up after
killed runs.

Exit status: 0 all passed, 1 failures, 2 bad input (one line naming the file and field),
130 interrupted. No traceback reaches the user for anything the harness itself detected.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from harness.errors import HarnessError, InputError
from harness.log import logger, run_log
from harness.options import COMMANDS, LAB, MUTATE, VARIANT_RUN_OPTIONS, forward
from harness.paths import SUITES_DIR
from harness.runtime import startup
from harness.suite_names import known_suites, project_suites_only, resolve_suites

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
# pytest's own plugins a run of the suites does not use (issue 18: loading them is start-up
# time). Kept: python (collection), runner, main, fixtures, mark, skipping, assertion, capture,
# terminal, reports, junitxml, warnings, debugging, faulthandler (a hung run's stacks) and
# threadexception (an error on a harness thread is reported). `unraisableexception` ended
# the session with a full garbage collection; `cacheprovider` and `logging` are the harness's
# own concerns (`--keep-logs`, harness.log); `subtests` is pytest 9's.
UNUSED_PLUGINS = (
    "cacheprovider", "logging", "doctest", "pastebin", "legacypath", "stepwise", "setuponly",
    "setupplan", "unittest", "unraisableexception", "monkeypatch", "recwarn", "tmpdir",
    "subtests",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The commands and their options, from the one option table (`harness.options`)."""
    parser = _Parser(prog="rr-harness", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    known = ", ".join(known_suites())  # a SUITE's help names them
    for command, (summary, options) in COMMANDS.items():
        command_parser = sub.add_parser(command, help=summary)
        for option in options:
            replace(option, help=option.help.replace("{known}", known)).add_to(
                command_parser.add_argument
            )
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.daemons.frr_runtime import HOST, runtime_for
    from harness.inputs import load_plan

    # A tree FRR needs root (to build it, to chroot into it): without root, the host's judges.
    runtime = None if os.geteuid() == 0 else HOST
    plan = load_plan(args.topology, args.sut, frr=args.frr, runtime=runtime)
    if runtime is None and (plan.sut.values.frr != "host" or HOST.has("bgpd")):
        runtime = runtime_for(plan.sut)  # resolved once: the one that judged
    if runtime is HOST and not HOST.has("bgpd"):
        runtime = None
    judged = (
        f"FRR {runtime.version} ({runtime.source}) accepts them"
        if runtime is not None
        else "no FRR here judged them"
    )
    print(
        f"{args.topology}: {len(plan.lab_nodes)} nodes ({len(plan.route_reflectors)} route "
        f"reflectors, {len(plan.routers)} routers, {len(plan.peers)} peers of the harness); "
        f"SUT {plan.sut.values.name} from {args.sut}: configs render and {judged}"
        + (
            ""
            if plan.sut.values.implementation == "frr"
            else f"; {plan.sut.values.implementation} accepts the RR pods'"
        )
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    startup.mark("inputs")
    import pytest

    from harness.inputs import load_plan
    from harness.runtime.run import check_run_id

    suites = resolve_suites(args.suites)
    own = project_suites_only(suites)
    startup.starting(keep_bytecode=own)  # until the suites are collected (the plugin's hook)
    if args.run_id:
        check_run_id(args.run_id)
    if args.backend == "netns":
        if os.geteuid() != 0:
            raise InputError("--backend netns needs root (it creates network namespaces)")
        from harness.daemons.frr_runtime import runtime_for
        from harness.drivers.route_server import driver_for

        # bad input stops here, before anything starts; the SUT's FRR is resolved (built on
        # first use) and judges the configs
        plan = load_plan(args.topology, args.sut, frr=args.frr)
        runtime_for(plan.sut)  # the router pods' (and an FRR RR's)
        driver_for(plan).require()  # the RR pods' implementation
    elif args.kubeconfig is not None and args.backend != "kind":
        raise InputError("--kubeconfig: only for --backend kind")
    if args.backend == "kind":  # what the machine lacks, and what kind cannot stage, fail here
        from harness.backends.kind import preflight
        from harness.backends.kind.manifests import FRR_IMAGE, manifests
        from harness.daemons.frr_runtime import HOST

        if args.frr is not None:
            raise InputError(f"--frr: only for --backend netns (kind runs {FRR_IMAGE})")
        plan = load_plan(args.topology, args.sut, runtime=HOST)
        preflight.check(args.kubeconfig)
        manifests(plan, "check")
    args.junitxml.parent.mkdir(parents=True, exist_ok=True)
    startup.mark("checked")
    from harness import pytest_plugin

    # the plan checked above is the run's: the plugin does not load it again
    given = pytest_plugin.PlanGiven(plan)
    plugins = [pytest_plugin, given] if own else [given]
    status = int(pytest.main(pytest_args(args, suites), plugins=plugins))
    print(f"rr-harness: JUnit report written to {args.junitxml}", file=sys.stderr)
    from harness.report.retention import prune

    if removed := prune(args.junitxml.parent, args.keep_logs):
        print(f"rr-harness: removed the folders of {len(removed)} older run(s) (--keep-logs "
              f"{args.keep_logs})", file=sys.stderr)  # fmt: skip
    return {
        int(pytest.ExitCode.OK): EXIT_OK,
        int(pytest.ExitCode.TESTS_FAILED): EXIT_FAILED,
        int(pytest.ExitCode.INTERRUPTED): EXIT_INTERRUPTED,
        int(pytest.ExitCode.USAGE_ERROR): EXIT_INPUT,
        int(pytest.ExitCode.NO_TESTS_COLLECTED): EXIT_INPUT,
    }.get(status, EXIT_FAILED)


def pytest_args(args: argparse.Namespace, suites: list[Path]) -> list[str]:
    """pytest's command line for a run of `suites`. The project's own suites get a lean pytest:
    the harness's plugin is handed over by `cmd_run` (`--disable-plugin-autoload`), so a run
    does not depend on which pytest plugins the environment has and pytest does not rewrite the
    asserts of every harness module it imports (they carry their messages), and pytest's plugins
    a run does not use are left out (issue 18). A test file of the user's gets pytest as the
    user's environment has it: its ini, its plugins, `tmp_path` and the like."""
    own = project_suites_only(suites)
    argv = [
        *map(str, suites),
        *forward(args, LAB),
        f"--junitxml={args.junitxml}",
        "-o",
        "junit_suite_name=rr-harness",
        "-o",  # what pyproject.toml's ini gives a checkout, for an installed copy too
        "junit_family=xunit1",
        "-rfE",
        "-q" if args.quiet else "-v",
    ]
    if own:  # test ids suites/test_x.py::..., installed or not
        argv += [f"--rootdir={SUITES_DIR.parent}", "--disable-plugin-autoload"]
        argv += [arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")]
    else:  # the harness keeps its own log and run folders (harness.log, --keep-logs)
        argv += ["-p", "no:cacheprovider", "-p", "no:logging"]
    if args.keyword:
        argv += ["-k", args.keyword]
    return argv


def cmd_mutate(args: argparse.Namespace) -> int:
    from harness.inputs import load_plan
    from harness.mutation.catalogue import CATALOGUE, EQUIVALENT, PROFILES, STANDALONE, mutation
    from harness.mutation.runner import VariantResult, run_all

    if args.list:
        for m in CATALOGUE + EQUIVALENT:
            print(f"{m.name:<45} {'(must pass) ' if m.must_pass else ''}{m.breaks}")
        return EXIT_OK
    chosen = [mutation(n) for n in args.variants] if args.variants else [*CATALOGUE, *EQUIVALENT]
    if os.geteuid() != 0:
        raise InputError("needs root (each variant runs the netns lab)")
    load_plan(args.topology, args.sut, frr=args.frr)  # the FRR tree is built once, here

    def progress(result: VariantResult) -> None:
        if result.must_pass or result.variant.startswith("baseline"):
            caught = "must pass: " + ("passed" if result.clean else "FAILED")
        else:
            caught = f"caught by {len(result.caught_by)} check(s)" + (
                "" if result.as_expected else " (NOT as declared)"
            )
        print(f"rr-harness mutate: {result.variant}: {caught} ({result.seconds:.1f} s)", flush=True)

    extra = forward(args, (o for o in MUTATE if o.name in VARIANT_RUN_OPTIONS), to="cli")
    profiles = dict(PROFILES)
    profiles[STANDALONE] = (args.sut.resolve(), args.topology.resolve())
    report = run_all(
        chosen,
        profiles=profiles,
        reports=args.reports,
        extra=extra,
        jobs=args.jobs,
        progress=progress,
    )
    print()
    print(report.table())
    from harness.report.page import write_tables

    page = write_tables(args.reports / "mutations.html", "rr-harness: mutations",
                        mutations=args.reports / "mutations.json")  # fmt: skip
    print(f"\nrr-harness mutate: reports in {args.reports} ({page.name})")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.matrix import write

    if args.html.suffix != ".html":
        raise InputError(f"--html {args.html}: expected a file name ending in .html")
    try:
        written = write(args.junit, args.html)
    except OSError as exc:
        raise InputError(f"--html {args.html}: cannot be written ({exc.strerror or exc})") from None
    print(f"rr-harness report: matrix of {len(args.junit)} run(s) in {written}")
    return EXIT_OK


def cmd_cleanup(args: argparse.Namespace) -> int:
    from harness.backends.netns.cleanup import find_leftovers, remove_leftovers
    from harness.runtime.run import check_run_id

    if args.reports is not None:
        from harness.report.retention import prune, run_folders

        if not args.reports.is_dir():
            raise InputError(f"--reports {args.reports}: no such folder")
        removed = prune(args.reports, args.keep_logs)
        kept = len(run_folders(args.reports))
        print(f"removed the folders of {len(removed)} run(s) from {args.reports}; {kept} kept")
        return EXIT_OK
    if args.backend == "kind":
        return _cleanup_kind(args)
    if os.geteuid() != 0:
        raise InputError(
            "needs root: other processes' environments (the run tags) and "
            "network namespaces are only visible to root"
        )
    run_id = check_run_id(args.run_id) if args.run_id else None
    left = find_leftovers(run_id, include_live=args.force)
    for rid in left.skipped_live:
        print(f"left alone: run {rid} (its owner is still running; --force to remove it)")
    if left.empty:
        print("nothing to clean up")
        return EXIT_OK
    problems = remove_leftovers(left)
    print(f"removed {left.describe()}")
    for problem in problems:
        print(f"could not remove: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    import platform

    from harness.bench.figures import Results
    from harness.bench.scenarios import BY_DEFAULT, SCENARIOS, Settings
    from harness.bench.yardstick import check_topotests
    from harness.inputs import load_plan

    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        raise InputError(f"unknown scenario {unknown[0]!r} (known: {', '.join(SCENARIOS)})")
    topotests = None
    if "yardstick" in args.scenarios:
        topotests = check_topotests(args.topotests, args.topotest_python)
    elif args.topotests is not None:
        raise InputError("--topotests: only for the yardstick scenario")
    for name in args.suites or []:
        if name not in known_suites():
            raise InputError(
                f"--suites: unknown suite {name!r} (known: {', '.join(known_suites())})"
            )
    if os.geteuid() != 0:
        raise InputError("needs root (the bench runs the netns lab)")
    from harness.daemons.frr_runtime import runtime_for

    plan = load_plan(args.topology, args.sut, frr=args.frr)
    runtime = runtime_for(plan.sut)
    settings = Settings(
        plan=plan,
        sut_dir=args.sut.resolve(),
        topology=args.topology.resolve(),
        reports=args.json.parent,
        clients=args.clients,
        timeout=args.timeout,
        sizes=args.routes,
        repeat=args.repeat,
        suites=args.suites,
        topotests=topotests,
        topotest_python=args.topotest_python,
    )
    results = Results()
    with run_log(args.json.parent / "bench.log", args.log_level):
        for name in args.scenarios or BY_DEFAULT:
            print(f"rr-harness bench: {name} ...", file=sys.stderr, flush=True)
            logger("bench").info("scenario %s", name)
            SCENARIOS[name](settings, results)
    machine = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }
    software = {
        "implementation": plan.sut.values.implementation,
        "frr_version": runtime.version,
        "frr_source": runtime.source,
    }
    path = results.write(args.json, machine, software)
    from harness.report.page import write_tables

    write_tables(path.with_suffix(".html"), "rr-harness: bench", bench=path)
    print(results.table())
    print(f"\nrr-harness bench: figures in {path}", file=sys.stderr)
    return EXIT_OK


def cmd_fuzz(args: argparse.Namespace) -> int:
    import json

    from harness.inputs import load_plan
    from harness.robustness.fuzz_files import load, write_summary
    from harness.robustness.fuzz_run import fuzz, replay

    messages = load(args.replay) if args.replay is not None else None
    if os.geteuid() != 0:
        raise InputError("needs root (the fuzzer runs the netns lab)")
    from harness.daemons.frr_runtime import runtime_for
    from harness.drivers.route_server import driver_for

    plan = load_plan(args.topology, args.sut, frr=args.frr)
    runtime_for(plan.sut)  # the router pods' (and an FRR RR's), built on first use
    driver_for(plan).require()

    def say(line: str) -> None:
        print(f"rr-harness fuzz: {line}", file=sys.stderr, flush=True)

    with run_log(args.reports / "fuzz.log", args.log_level):
        if messages is not None:
            say(f"replaying {len(messages)} message(s) of {args.replay}")
            summary = replay(plan, messages, say)
        else:
            say(f"seed {args.seed}, {args.seconds:g} s, SUT {plan.sut.values.name}")
            summary = fuzz(
                plan, seconds=args.seconds, seed=args.seed, reports=args.reports, say=say
            )
    say(summary.line())
    result = summary.as_dict() | ({"replay": str(args.replay)} if messages is not None else {})
    path = write_summary(args.reports / "summary.json", result)
    print(json.dumps(result, indent=1))
    say(f"summary in {path}")
    return EXIT_FAILED if summary.findings else EXIT_OK


def _cleanup_kind(args: argparse.Namespace) -> int:
    from harness.backends.kind import cleanup
    from harness.runtime.run import check_run_id

    if args.kubeconfig is not None and not args.kubeconfig.is_file():
        raise InputError(f"--kubeconfig {args.kubeconfig}: no such file")
    run_id = check_run_id(args.run_id) if args.run_id else None
    left = cleanup.find(args.kubeconfig, run_id, include_live=args.force)
    for rid in left.skipped_live:
        print(f"left alone: run {rid} (its owner is still running; --force to remove it)")
    if left.empty:
        print("nothing to clean up")
        return EXIT_OK
    problems = cleanup.remove(left, args.kubeconfig)
    print(f"removed {left.describe()}")
    for problem in problems:
        print(f"could not remove: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The command `argv` (None: this process's own command line, and the process ends here:
    `_exit`)."""
    status = _command(argv)
    if argv is None:
        _exit(status)
    return status


def _exit(status: int) -> NoReturn:
    """End the process once the atexit handlers (logging's flush, weakref finalizers) have run
    and stdio is flushed, without the interpreter's teardown: freeing every object of some 500
    modules one by one took 0.2 s after each run's last line (issue 18)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def _command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "validate": cmd_validate,
        "mutate": cmd_mutate,
        "cleanup": cmd_cleanup,
        "report": cmd_report,
        "bench": cmd_bench,
        "fuzz": cmd_fuzz,
    }
    try:
        return commands[args.command](args)
    except InputError as exc:
        print(f"rr-harness {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except HarnessError as exc:
        print(f"rr-harness {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"rr-harness {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
