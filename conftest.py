"""pytest in a checkout: `pytest` runs the project's own tests (tests/), `pytest suites` the
conformance suites.

Where the fixtures live:
- harness/pytest_plugin.py, the harness's plugin: its options (--sut, --topology, --backend...),
  the run's `plan`, the `lab` (built once per session, torn down at its end), the `injector`,
  `convergence_timeout`, the `router` parametrisation, the suites' order and reporting.
- suites/conftest.py: what the suites share (`family`, `client`, `fresh`, `rr0`, `receivers`,
  the failover `drills` and their report).
- tests/conftest.py: helpers of the project's own tests (`rr_harness`, `needs_root`, ...).

`pytest suites` finds the plugin through the `pytest11` entry point `rr_harness` of an
installed harness (editable or not). A checkout that is not installed has no entry point: this
file registers the plugin under the same name, so `pytest suites` works all the same. When
pytest has the plugin already it does nothing (pluggy refuses a second registration), and
`-p no:rr_harness` keeps it out either way. `rr-harness run` of the project's suites hands the
plugin to pytest itself, with plugin autoloading off (harness.cli.pytest_args).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import pytest_plugin


def pytest_addoption(pluginmanager: pytest.PytestPluginManager) -> None:
    """Called as this file is loaded, early enough for the plugin's own options."""
    if pluginmanager.is_registered(pytest_plugin):
        return
    if pluginmanager.register(pytest_plugin, "rr_harness") is None:
        return  # blocked: -p no:rr_harness
    # The lab starts helpers as `python -m harness...` (speakers, ExaBGP's bridge, the
    # sampler); with nothing installed, they find this harness through PYTHONPATH.
    here = str(Path(pytest_plugin.__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
