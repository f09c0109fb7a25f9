"""`rr-harness`: run the conformance suites, validate inputs, clean up after killed runs.

Exit status: 0 all passed, 1 failures, 2 bad input (one line naming the file and field),
130 interrupted. No traceback reaches the user for anything the harness itself detected.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from harness.backends import BACKENDS
from harness.errors import HarnessError, InputError
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY, REPORTS_DIR, SUITES_DIR

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message} (see --help)\n")


def seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def sizes(text: str) -> list[int]:
    """Comma-separated table sizes, each a whole number of at least 1 (argparse type)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be at least 1, got {text!r}")
    return values


def count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value

    return parse


def known_suites() -> dict[str, Path]:
    """Suite names: `suites/test_allowas_in.py` is `allowas-in` (`allowas_in` works too)."""
    return {
        p.stem.removeprefix("test_").replace("_", "-"): p
        for p in sorted(SUITES_DIR.glob("test_*.py"))
    }


def resolve_suites(names: Sequence[str]) -> list[Path]:
    suites = known_suites()
    if not names:
        return list(suites.values())
    chosen = []
    for name in names:
        path = Path(name)
        if name.replace("_", "-") in suites:
            chosen.append(suites[name.replace("_", "-")])
        elif path.suffix == ".py" and path.is_file():
            chosen.append(path.resolve())
        else:
            raise InputError(f"unknown suite {name!r} (known: {', '.join(suites)})")
    return chosen


def _kubeconfig_option(parser: argparse.ArgumentParser, meaning: str) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, metavar="PATH", help=f"kind backend: {meaning}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rr-harness", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run conformance suites (default: all)")
    run.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help=f"suite name ({', '.join(known_suites())}) or a test file",
    )
    run.add_argument("--backend", default="netns", choices=BACKENDS)
    _kubeconfig_option(run, "an existing cluster (default: create a kind cluster for the run)")
    run.add_argument(
        "--peer-image",
        default=None,
        metavar="REF",
        help="kind backend: image of the peer pods (default rr-harness-peer:dev, built from "
        "fixtures/images/exabgp)",
    )
    run.add_argument("--sut", type=Path, default=DEFAULT_SUT, metavar="DIR")
    run.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, metavar="FILE")
    run.add_argument("--junitxml", type=Path, default=REPORTS_DIR / "junit.xml", metavar="PATH")
    run.add_argument("--run-id", default=None, metavar="ID")
    run.add_argument("--convergence-timeout", type=seconds, default=10.0, metavar="SECONDS")
    run.add_argument("--establish-timeout", type=seconds, default=20.0, metavar="SECONDS")
    run.add_argument(
        "--repeat", type=count(1), default=5, metavar="N", help="failover: runs of each drill"
    )
    run.add_argument(
        "--routes",
        type=count(0),
        default=0,
        metavar="N",
        help="failover: extra EVPN routes held by every client during the drills",
    )
    run.add_argument(
        "-k",
        dest="keyword",
        default=None,
        metavar="EXPR",
        help="only tests matching this pytest -k expression",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="one character per test")

    check = sub.add_parser("validate", help="check a topology and SUT profile, start nothing")
    check.add_argument("--sut", type=Path, default=DEFAULT_SUT, metavar="DIR")
    check.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, metavar="FILE")

    mut = sub.add_parser("mutate", help="run the suites against broken SUT variants")
    mut.add_argument("variants", nargs="*", metavar="VARIANT", help="default: the whole catalogue")
    mut.add_argument("--sut", type=Path, default=DEFAULT_SUT, metavar="DIR")
    mut.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, metavar="FILE")
    mut.add_argument("--reports", type=Path, default=REPORTS_DIR / "mutations", metavar="DIR")
    mut.add_argument(
        "--convergence-timeout",
        type=seconds,
        default=3.0,
        metavar="SECONDS",
        help="shorter than for `run`: a broken variant waits it out once per check",
    )
    mut.add_argument("--establish-timeout", type=seconds, default=8.0, metavar="SECONDS")
    mut.add_argument(
        "--jobs",
        type=int,
        default=3,
        metavar="N",
        help="variants run at once (each is a lab of its own)",
    )
    mut.add_argument(
        "--repeat", type=count(1), default=1, metavar="N", help="failover: runs of each drill"
    )
    mut.add_argument("--list", action="store_true", help="list the variants and exit")

    bench = sub.add_parser("bench", help="measure reflection, failover, memory, overhead")
    bench.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="throughput, failover, memory, overhead (default: all, in that order)",
    )
    bench.add_argument(
        "--routes",
        type=sizes,
        default=None,
        metavar="N[,N...]",
        help="table sizes (default: 10000,50000,100000; failover 1000,10000,100000)",
    )
    bench.add_argument("--clients", type=count(1), default=3, metavar="K", help="receivers")
    bench.add_argument(
        "--repeat", type=count(1), default=1, metavar="N", help="failover: runs per size"
    )
    bench.add_argument("--sut", type=Path, default=DEFAULT_SUT, metavar="DIR")
    bench.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, metavar="FILE")
    bench.add_argument("--json", type=Path, default=REPORTS_DIR / "bench.json", metavar="PATH")
    bench.add_argument("--timeout", type=seconds, default=120.0, metavar="SECONDS")
    bench.add_argument(
        "--suites",
        type=lambda text: [n for n in text.split(",") if n],
        default=None,
        metavar="NAME[,NAME...]",
        help="overhead: time these suites (default: every one but failover and meshrr)",
    )

    clean = sub.add_parser("cleanup", help="remove what killed runs left behind")
    clean.add_argument("--run-id", default=None, metavar="ID", help="only this run")
    clean.add_argument(
        "--force", action="store_true", help="also runs whose owning process is still alive"
    )
    clean.add_argument("--backend", default="netns", choices=BACKENDS)
    _kubeconfig_option(
        clean, "remove run namespaces from this cluster (default: runs' kind clusters)"
    )
    return parser


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.inputs import load_plan

    plan = load_plan(args.topology, args.sut)
    print(
        f"{args.topology}: {len(plan.lab_nodes)} nodes ({len(plan.route_reflectors)} route "
        f"reflectors, {len(plan.routers)} routers, {len(plan.peers)} peers of the harness); "
        f"SUT {plan.sut.values.name} from {args.sut}: configs render and FRR accepts them"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    from harness.inputs import load_plan
    from harness.runtime.run import check_run_id

    suites = resolve_suites(args.suites)
    load_plan(args.topology, args.sut)  # bad input stops here, before anything starts
    if args.run_id:
        check_run_id(args.run_id)
    if args.backend == "netns":
        if os.geteuid() != 0:
            raise InputError("--backend netns needs root (it creates network namespaces)")
        from harness.daemons.frr import require_frr

        require_frr()
    elif args.kubeconfig is not None and args.backend != "kind":
        raise InputError("--kubeconfig: only for --backend kind")
    if args.backend == "kind":  # what the machine lacks, and what kind cannot stage, fail here
        from harness.backends.kind import preflight
        from harness.backends.kind.manifests import manifests

        preflight.check(args.kubeconfig)
        manifests(load_plan(args.topology, args.sut), "check")
    args.junitxml.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        *map(str, suites),
        f"--backend={args.backend}",
        f"--sut={args.sut.resolve()}",
        f"--topology={args.topology.resolve()}",
        f"--junitxml={args.junitxml}",
        f"--convergence-timeout={args.convergence_timeout}",
        f"--establish-timeout={args.establish_timeout}",
        f"--repeat={args.repeat}",
        f"--routes={args.routes}",
        "-o",
        "junit_suite_name=rr-harness",
        "-o",  # what pyproject.toml's ini gives a checkout, for an installed copy too
        "junit_family=xunit1",
        *(  # test ids suites/test_x.py::..., installed or not (a file of yours: pytest's choice)
            [f"--rootdir={SUITES_DIR.parent}"]
            if all(s.is_relative_to(SUITES_DIR) for s in suites)
            else []
        ),
        "-p",
        "no:cacheprovider",
        "-rfE",
        "-q" if args.quiet else "-v",
    ]
    if args.run_id:
        argv.append(f"--run-id={args.run_id}")
    if args.kubeconfig is not None:
        argv.append(f"--kubeconfig={args.kubeconfig.resolve()}")
    if args.peer_image:
        argv.append(f"--peer-image={args.peer_image}")
    if args.keyword:
        argv += ["-k", args.keyword]
    status = int(pytest.main(argv))
    print(f"rr-harness: JUnit report written to {args.junitxml}", file=sys.stderr)
    return {
        int(pytest.ExitCode.OK): EXIT_OK,
        int(pytest.ExitCode.TESTS_FAILED): EXIT_FAILED,
        int(pytest.ExitCode.INTERRUPTED): EXIT_INTERRUPTED,
        int(pytest.ExitCode.USAGE_ERROR): EXIT_INPUT,
        int(pytest.ExitCode.NO_TESTS_COLLECTED): EXIT_INPUT,
    }.get(status, EXIT_FAILED)


def cmd_mutate(args: argparse.Namespace) -> int:
    from harness.inputs import load_plan
    from harness.mutate import run_all
    from harness.mutations import CATALOGUE, PROFILES, STANDALONE, mutation

    if args.list:
        for m in CATALOGUE:
            print(f"{m.name:<40} {m.breaks}")
        return EXIT_OK
    chosen = [mutation(n) for n in args.variants] if args.variants else list(CATALOGUE)
    load_plan(args.topology, args.sut)
    if os.geteuid() != 0:
        raise InputError("needs root (each variant runs the netns lab)")

    def progress(outcome) -> None:  # noqa: ANN001 - harness.mutate.Outcome
        caught = (
            "baseline"
            if outcome.variant.startswith("baseline")
            else (f"caught by {len(outcome.failed)} check(s)" if outcome.failed else "NOT caught")
        )
        print(
            f"rr-harness mutate: {outcome.variant}: {caught} ({outcome.seconds:.1f} s)", flush=True
        )

    extra = [
        f"--convergence-timeout={args.convergence_timeout}",
        f"--establish-timeout={args.establish_timeout}",
        f"--repeat={args.repeat}",
    ]
    if args.jobs < 1:
        raise InputError(f"--jobs {args.jobs}: expected at least 1")
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
    print(f"\nrr-harness mutate: reports in {args.reports}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_cleanup(args: argparse.Namespace) -> int:
    from harness.runtime.cleanup import find_leftovers, remove_leftovers
    from harness.runtime.run import check_run_id

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
    from harness.bench.scenarios import SCENARIOS, Settings
    from harness.inputs import load_plan

    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        raise InputError(f"unknown scenario {unknown[0]!r} (known: {', '.join(SCENARIOS)})")
    for name in args.suites or []:
        if name not in known_suites():
            raise InputError(
                f"--suites: unknown suite {name!r} (known: {', '.join(known_suites())})"
            )
    plan = load_plan(args.topology, args.sut)
    if os.geteuid() != 0:
        raise InputError("needs root (the bench runs the netns lab)")
    from harness.daemons.frr import require_frr

    require_frr()
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
    )
    results = Results()
    for name in args.scenarios or list(SCENARIOS):
        print(f"rr-harness bench: {name} ...", file=sys.stderr, flush=True)
        SCENARIOS[name](settings, results)
    machine = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }
    path = results.write(args.json, machine)
    print(results.table())
    print(f"\nrr-harness bench: figures in {path}", file=sys.stderr)
    return EXIT_OK


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
    args = build_parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "validate": cmd_validate,
        "mutate": cmd_mutate,
        "cleanup": cmd_cleanup,
        "bench": cmd_bench,
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
