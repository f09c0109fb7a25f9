"""The CLI's own decisions, without a lab: the pytest command line of a run."""

from __future__ import annotations

from harness.cli import UNUSED_PLUGINS, build_parser, pytest_args
from harness.paths import SUITES_DIR
from harness.suite_names import resolve_suites


def _argv(*words: str) -> list[str]:
    args = build_parser().parse_args(["run", *words])
    return pytest_args(args, resolve_suites(args.suites))


def test_the_project_s_suites_get_a_lean_pytest_with_the_harness_s_plugin_handed_over():
    """Issue 18: no installed plugin found and loaded (nor every harness module's asserts
    rewritten), pytest's plugins a run does not use left out."""
    argv = _argv("reflection", "-k", "vtep")
    assert "--disable-plugin-autoload" in argv
    assert f"--rootdir={SUITES_DIR.parent}" in argv
    blocked = {argv[i + 1] for i, word in enumerate(argv) if word == "-p"}
    assert blocked == {f"no:{name}" for name in UNUSED_PLUGINS}
    assert "no:unraisableexception" in blocked and "no:junitxml" not in blocked
    assert argv[-2:] == ["-k", "vtep"]


def test_a_test_file_of_the_user_s_gets_pytest_as_the_environment_has_it(tmp_path):
    """Its ini, its plugins, `tmp_path` and `monkeypatch`: only the harness's log and run
    folders replace pytest's cache and log capture."""
    mine = tmp_path / "test_mine.py"
    mine.write_text("def test_x(tmp_path):\n    assert tmp_path.is_dir()\n")
    argv = _argv(str(mine))
    assert "--disable-plugin-autoload" not in argv
    assert not [word for word in argv if word.startswith("--rootdir")]
    blocked = {argv[i + 1] for i, word in enumerate(argv) if word == "-p"}
    assert blocked == {"no:cacheprovider", "no:logging"}
