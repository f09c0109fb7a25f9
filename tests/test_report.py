"""The reports for reviewers (issue 17): the HTML page of a real run (with a failure, expected
failures and a failover figure) opened in a real browser, its JUnit valid for CI servers, the
job summary, the matrix across runs, the retention of run folders, and the CI workflows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import CLI, DATA, needs_root, rr_harness

from harness.backends.netns.cleanup import find_leftovers
from harness.mutation.catalogue import mutation
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY, PROJECT_ROOT
from harness.report.limits import MAX_PROPERTY, bound_properties
from harness.report.results import read
from harness.runtime.run import new_run_id

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
SCHEMA = DATA / "junit-ci.xsd"
SCREENSHOTS = (PROJECT_ROOT or ROOT) / "reports"


# -- bad input, retention, workflows: no lab ------------------------------------------------
def test_report_names_a_missing_or_foreign_file_and_exits_2(tmp_path):
    missing = rr_harness("report", str(tmp_path / "none.xml"), "--html", str(tmp_path / "m.html"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"rr-harness report: {tmp_path / 'none.xml'}: no such file"
    (tmp_path / "other.xml").write_text("<coverage/>")
    (tmp_path / "text.xml").write_text("not xml at all")
    for name in ("other.xml", "text.xml"):
        done = rr_harness("report", str(tmp_path / name), "--html", str(tmp_path / "m.html"))
        assert done.returncode == 2
        assert f"{tmp_path / name}: not a JUnit XML file" in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "m.html").exists()


def test_cleanup_reports_keeps_the_last_runs_folders_and_nothing_else(tmp_path):
    reports = tmp_path / "reports"
    for i, run_id in enumerate(["aaa111", "bbb222", "ccc333", "ddd444"]):
        (reports / run_id).mkdir(parents=True)
        log = reports / run_id / "harness.log"
        log.write_text(f"2026-11-30 12:00:00.000 INFO    rr_harness.run: run {run_id}: lab\n")
        os.utime(log, (time.time() - 100 + i, time.time() - 100 + i))  # ddd444 the newest
    (reports / "mutations").mkdir()  # named like a run id, but no run's log: never touched
    (reports / "junit-failover").mkdir()
    (reports / "eee555").mkdir()  # no log: not a run folder
    (reports / "bug111").mkdir()  # a user's folder with a log of its own: not the harness's
    (reports / "bug111" / "harness.log").write_text("my notes on the harness\n")
    os.utime(reports / "bug111" / "harness.log", (time.time() - 200, time.time() - 200))
    done = rr_harness("cleanup", "--reports", str(reports), "--keep-logs", "2")
    assert done.returncode == 0, done.stderr
    assert "removed the folders of 2 run(s)" in done.stdout
    assert sorted(p.name for p in reports.iterdir()) == [
        "bug111", "ccc333", "ddd444", "eee555", "junit-failover", "mutations",
    ]  # fmt: skip
    bad = rr_harness("cleanup", "--reports", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "--reports" in bad.stderr


def test_the_netns_workflow_runs_the_main_job_and_publishes_the_reports():
    workflow = yaml.safe_load((WORKFLOWS / "netns.yml").read_text())
    job = workflow["jobs"]["netns"]
    assert job["runs-on"].startswith("ubuntu-")  # a GitHub-hosted runner
    assert "--privileged" in job["container"]["options"]  # network namespaces
    steps = job["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "./dev.sh suites" in runs
    assert "reports/junit-meshrr.xml" in runs and "reports/junit-openperouter-upstream.xml" in runs
    assert 'rr-harness report "$@" --html reports/matrix.html' in runs
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert {u["with"]["path"] for u in uploads} == {"reports/*.html", "reports/"}
    assert all(s.get("if") == "always()" for s in uploads)
    assert "${{" not in runs  # inputs reach the shell through env


def test_the_kind_workflow_uploads_the_html_report_and_installs_graphviz():
    workflow = yaml.safe_load((WORKFLOWS / "kind.yml").read_text())
    steps = workflow["jobs"]["kind"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "--junitxml reports/junit-kind.xml" in runs and "graphviz" in runs
    upload = next(s for s in steps if s.get("with", {}).get("path") == "reports/junit-kind.html")
    assert upload["if"] == "always()"


def test_dev_sh_installs_what_the_report_needs():
    line = next(x for x in (ROOT / "dev.sh").read_text().splitlines() if x.startswith("apt_pa"))
    assert {"graphviz", "chromium", "chromium-driver"} <= set(line.split("(")[1][:-1].split())


def test_the_topology_picture_draws_every_session_the_plan_implies():
    from harness.daemons.frr_runtime import HOST
    from harness.inputs import load_plan
    from harness.report.topology import planned_sessions, topology_svg

    plan = load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT, runtime=HOST)
    stuck = {"router-1": {plan.cluster_ip(plan.route_reflectors[0]): "Active"}}
    sessions = planned_sessions(plan, stuck)
    down = [s for s in sessions if not s.up and s.state != "refused by design"]
    assert [(s.a, s.b, s.state) for s in down] == [("router-1", "rr-0", "Active")]
    assert {s.kind for s in sessions if s.b in ("tor", "cloud")} == {"eBGP"}
    svg, why = topology_svg(plan, stuck)
    assert why == "" and svg.startswith("<svg")
    assert "cluster id 1.1.1.1" in svg and "iBGP: Active" in svg


# -- one real run, reused -----------------------------------------------------------------
@pytest.fixture(scope="module")
def broken_run(tmp_path_factory, profile_frr):
    """A short real run with a failure (the RR rewrites LOCAL_PREF), FRR 10.3's MED-0 expected
    failures, and one failover drill (its figure)."""
    where = tmp_path_factory.mktemp("report")
    sut = mutation("rr-route-map-rewriting-local-pref").apply(DEFAULT_SUT, where / "sut")
    run_id = new_run_id()
    summary = where / "summary.md"
    summary.write_text("# earlier step\n")
    junit = where / "junit.xml"
    done = subprocess.run(
        [*CLI, "run", "attributes", "failover", "-k", "attributes or graceful", "--sut",
         str(sut), "--junitxml", str(junit), "--run-id", run_id, "--repeat", "1",
         "--convergence-timeout", "3", "-q"],
        capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT, check=False,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert find_leftovers(run_id, include_live=True).empty
    return junit, summary, done.stdout


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # tag, attribute, value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href")]


@needs_root
def test_the_run_writes_a_self_contained_html_report_naming_every_check(broken_run):
    junit, _, stdout = broken_run
    html = junit.with_suffix(".html")
    assert f"HTML report written to {html}" in stdout
    text = html.read_text()
    refs = _Refs()
    refs.feed(text)
    assert not [r for r in refs.refs if r[2].startswith(("http://", "https://", "//"))]
    images = [v for tag, k, v in refs.refs if tag == "img"]
    assert images and all(v.startswith("data:image/png;base64,") for v in images)  # failover
    result = read(junit)
    shown = unescape(text)
    assert [c.name for c in result.checks if c.name not in shown] == []
    assert {c.outcome for c in result.checks} >= {"failed", "xfail", "passed"}
    top = text[: text.index('id="topology"')]
    props = result.properties
    for fact in (props["frr_version"], props["frr_source"], props["sut"], props["sut_dir"]):
        assert f"<td>{fact}</td>" in top
    assert "RFC 4456 §10" in text  # the checks' docstrings
    assert "local_pref 200, sent 250" in text  # the failure's last observed state
    assert text.count("<svg") == 1  # the topology, inline


@needs_root
def test_the_runs_junit_is_what_ci_servers_read(broken_run, tmp_path):
    import xmlschema

    junit, _, _ = broken_run
    schema = xmlschema.XMLSchema(SCHEMA)
    schema.validate(junit)
    # a value past the bound is refused by the schema, and moved to a linked file by the run
    long = tmp_path / "run"
    long.mkdir()
    copy = long / "junit.xml"
    value = "DENIED due to: " + "x" * MAX_PROPERTY
    text = junit.read_text().replace(
        'name="sessions" value="17"', f'name="sessions" value="{value}"'
    )
    copy.write_text(text)
    assert not schema.is_valid(copy)
    (written,) = bound_properties(copy)
    schema.validate(copy)
    assert written.read_text().strip() == value
    moved = dict(read(copy).properties)["sessions"]
    assert (copy.parent / moved) == written and written.is_relative_to(long)


@needs_root
def test_the_run_appends_its_job_summary(broken_run):
    _, summary, _ = broken_run
    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, not replaced
    assert "rr-harness: standalone-rr · FRR" in text and ": failed" in text
    assert "| attributes | 1 | 2 | 0 | 2 | 0 |" in text
    assert "- failed: `attributes::test_reflected_attributes_equal_what_the_client_sent[evpn]`: " \
        "<code>AssertionError: at " in text  # fmt: skip
    assert "| `test_rr_pod_deleted_no_client_loses_a_route[graceful]` |" in text


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for program in ("chromium", "chromedriver"):
        assert shutil.which(program), f"{program} missing: ./dev.sh installs Debian's package"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def _requests(driver, page: str) -> list[str]:
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [u for u in urls if not u.startswith("data:") and u != page]


@needs_root
def test_the_report_and_the_matrix_load_in_chromium_offline(broken_run, tmp_path):
    junit, _, _ = broken_run
    matrix = tmp_path / "matrix.html"
    done = rr_harness("report", str(junit), str(junit), "--html", str(matrix))
    assert done.returncode == 0, done.stderr
    SCREENSHOTS.mkdir(exist_ok=True)
    driver = _browser()
    try:
        for page, shot in ((junit.with_suffix(".html"), "report"), (matrix, "matrix")):
            url = page.as_uri()
            driver.get(url)
            assert driver.execute_script("return document.readyState") == "complete"
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], errors
            assert _requests(driver, url) == []
            widths = driver.execute_script(
                "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"
            )
            assert all(w > 0 for w in widths), widths
            if shot == "report":
                assert widths  # the failover timeline
                box = driver.execute_script("return document.querySelector('svg').getBBox().width")
                assert box > 0
            else:  # every cell that is not a pass links to evidence on the page
                cells = driver.execute_script(
                    "return Array.from(document.querySelectorAll('td.cell a'))"
                    ".map(a => document.getElementById(a.hash.slice(1)) !== null)"
                )
                assert cells and all(cells)
            assert driver.save_screenshot(str(SCREENSHOTS / f"{shot}-test.png"))
    finally:
        driver.quit()
    print(f"screenshots: {SCREENSHOTS}/report-test.png, {SCREENSHOTS}/matrix-test.png")


def test_nothing_here_imports_the_report_at_harness_import_time():
    """The heavy libraries load when a report is written, not when the harness starts."""
    code = (
        "import sys, harness.pytest_plugin, harness.cli; "
        "print(sorted(m for m in ('junitparser', 'graphviz', 'xmlschema', 'selenium') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
