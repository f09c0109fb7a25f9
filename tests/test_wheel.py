"""The harness outside its checkout: a wheel built from it, installed in a fresh virtual
environment, and run from another directory with the suites and fixtures the wheel carries.
And a checkout that is not installed at all, which gets its plugin from the top-level conftest.

Offline and quick: the wheel is built with this environment's setuptools (no build isolation),
and the fresh environments see this environment's packages through a folder of links (listed
in a .pth file) that leaves rr-harness itself out. Everything is built in temporary folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from conftest import needs_root

from harness.paths import PROJECT_ROOT

CHECKOUT = PROJECT_ROOT or pytest.fail("the project's tests run from a source checkout")
BUILT_FROM = ("pyproject.toml", "README.md", "harness", "suites", "fixtures")
# Nothing from the checkout reaches the subprocesses through the environment.
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}


def run(*argv: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=timeout,
        check=False,
    )


def copy_checkout(dest: Path, names: tuple[str, ...]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def venv_without_rr_harness(where: Path) -> Path:
    """A virtual environment that sees this environment's packages, but not rr-harness (no
    module, no distribution, so no entry points). Returns its python."""
    run(sys.executable, "-m", "venv", "--without-pip", where, cwd=where.parent).check_returncode()
    links = where / "packages"
    links.mkdir()
    for folder in [Path(p) for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]:
        for entry in folder.iterdir() if folder.is_dir() else ():
            name = entry.name.lower()
            if (
                name in ("harness", "__pycache__")
                or name.startswith(("rr_harness", "rr-harness", "__editable__"))
                or name.endswith((".pth", ".egg-link"))
                or (links / entry.name).exists()  # the first on sys.path wins, as in Python
            ):
                continue
            (links / entry.name).symlink_to(entry)
    python = where / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where)
    (Path(site.stdout.strip()) / "packages.pth").write_text(f"{links}\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = copy_checkout(tmp_path_factory.mktemp("source"), BUILT_FROM)
    dist = tmp_path_factory.mktemp("dist")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "-q", "-w", dist, source,
        cwd=dist,
    )  # fmt: skip
    assert built.returncode == 0, (
        "building the wheel needs setuptools>=70.1 here (pip install -e '.[dev]'):\n"
        + built.stderr[-3000:]
    )
    (path,) = dist.glob("rr_harness-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment with the wheel installed; its bin/."""
    python = venv_without_rr_harness(tmp_path_factory.mktemp("wheel") / "venv")
    done = run(
        python, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
        "-q", wheel,
        cwd=python.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return python.parent


def test_the_wheel_carries_the_harness_the_suites_and_the_fixtures(wheel):
    def files(folder: str) -> set[str]:
        return {
            p.relative_to(CHECKOUT / folder).as_posix()
            for p in (CHECKOUT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    expected = {f"harness/{f}" for f in files("harness")}
    expected |= {f"harness/suites/{f}" for f in files("suites")}
    expected |= {f"harness/fixtures/{f}" for f in files("fixtures")}
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if ".dist-info/" not in n}
        (listed,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(listed).decode()
    # A package of harness/ missing from pyproject.toml's list, or a file, shows here.
    assert names == expected
    assert "rr-harness = harness.cli:main" in entry_points
    assert "rr_harness = harness.pytest_plugin" in entry_points


def test_an_installed_copy_uses_what_it_carries_from_any_directory(installed, tmp_path):
    where = run(
        installed / "python", "-c",
        "import harness, harness.paths as p; "
        "print(harness.__file__, p.PROJECT_ROOT, p.SUITES_DIR, p.DEFAULT_TOPOLOGY, "
        "p.DEFAULT_SUT, p.REPORTS_DIR, sep='\\n')",
        cwd=tmp_path,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    module, project, suites, topology, sut, reports = where.stdout.split()
    package = Path(module).parent
    assert package.is_relative_to(installed.parent), f"{module} is not the installed copy"
    assert project == "None"
    assert Path(suites) == package / "suites"
    assert (package / "suites" / "conftest.py").is_file()
    assert Path(topology) == package / "fixtures" / "topologies" / "cloud-hybrid.yaml"
    assert Path(sut) == package / "fixtures" / "sut" / "standalone-rr"
    assert Path(reports) == tmp_path / "reports"

    checked = run(installed / "rr-harness", "validate", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert f"{topology}: 14 nodes" in checked.stdout
    assert f"SUT standalone-rr from {sut}: configs render" in checked.stdout
    assert not (tmp_path / "reports").exists()  # nothing written by validate


@pytest.mark.lab
@needs_root
@pytest.mark.usefixtures("profile_frr")
def test_an_installed_copy_runs_a_suite_with_the_same_junit(installed, tmp_path):
    sut = shutil.copytree(CHECKOUT / "fixtures" / "sut" / "standalone-rr", tmp_path / "my-sut")
    junit = tmp_path / "out" / "junit.xml"
    result = run(
        installed / "rr-harness", "run", "sessions", "--sut", sut, "--junitxml", junit, "-q",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == "rr-harness"
    # the suite's check, and the check that closes every suite (harness/daemon_check.py)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["sut_dir"] == str(sut)
    case, closing = suite.iter("testcase")
    assert closing.get("name") == "sut_daemons_survived"
    # As from a checkout: ids relative to the suites' parent, xunit1 (per-test properties).
    assert case.get("classname") == "suites.test_sessions"
    assert case.get("file") == "suites/test_sessions.py"
    assert case.find("properties/property[@name='rr_sessions_checked']") is not None
    # The run's log goes beside the JUnit report, in a folder named by the run id.
    (run_folder,) = [p for p in junit.parent.iterdir() if p.is_dir()]
    assert (run_folder / "harness.log").is_file()
    assert not (tmp_path / "reports").exists()  # nothing else written where it ran


def test_the_peer_image_is_built_from_what_the_wheel_is_built_from():
    """The kind backend's peer image installs the package from the same files (Docker build
    context: the checkout, less .dockerignore)."""
    dockerfile = (CHECKOUT / "fixtures" / "images" / "exabgp" / "Dockerfile").read_text()
    copied = {
        word.rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    }
    ignored = {
        line.strip().rstrip("/")
        for line in (CHECKOUT / ".dockerignore").read_text().splitlines()
        if not line.startswith("#")
    }
    assert copied == set(BUILT_FROM)
    assert not copied & ignored


@pytest.fixture(scope="module")
def bare_checkout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A checkout that is not installed (a copy, without egg-info), and a python that has the
    harness's dependencies only."""
    where = tmp_path_factory.mktemp("bare")
    checkout = copy_checkout(where / "checkout", ("conftest.py", *BUILT_FROM))
    return checkout, venv_without_rr_harness(where / "venv")


def test_a_checkout_that_is_not_installed_gets_the_plugin_from_its_conftest(bare_checkout):
    checkout, python = bare_checkout
    collected = run(python, "-m", "pytest", "suites", "--collect-only", "-q", cwd=checkout)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr
    # the plugin's options, markers and parametrisation (`router`) took effect
    assert "test_reflection.py::test_evpn_routes_reach_every_client_via_every_rr[router-1]" in (
        collected.stdout
    )
    assert "PytestUnknownMarkWarning" not in collected.stdout


@pytest.mark.lab
@needs_root
def test_a_checkout_that_is_not_installed_runs_a_suite(bare_checkout, tmp_path):
    """The daemons the lab starts (`python -m harness...`) find the checkout's harness too."""
    checkout, python = bare_checkout
    junit = tmp_path / "junit.xml"
    result = run(
        python, "-m", "pytest", "suites/test_sessions.py", "-q", f"--junitxml={junit}",
        cwd=checkout,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    case, closing = ET.parse(junit).getroot().iter("testcase")
    assert closing.get("name") == "sut_daemons_survived"
    assert case.get("classname") == "suites.test_sessions"
