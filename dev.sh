#!/usr/bin/env bash
# Set up whatever is missing on this machine, then run the harness or its own tests.
#
#   ./dev.sh suites [rr-harness run options]   conformance suites on netns: the three SUT
#                                              profiles -> reports/junit.xml, junit-meshrr.xml,
#                                              junit-openperouter-upstream.xml
#                                              (options: one run)
#   ./dev.sh test   [pytest options]           the harness's own tests (lint included)
#
# Needs root (the lab is made of network namespaces): run as root, or as a user who has sudo,
# and it runs itself again through sudo. Installs, only when missing: Debian packages (frr,
# gobgpd, iproute2, python3-venv, and mmdebstrap, which builds the root filesystem of the FRR a
# SUT profile ships on first use), the virtual environment in .venv, and the Python packages of
# pyproject.toml (re-installed when it changes).
set -euo pipefail

say() { printf 'dev.sh: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        say "needs root (the lab is made of network namespaces): running it again through sudo"
        exec sudo ${PYTHON+--preserve-env=PYTHON} -- "$(realpath "$0")" "$@"
    fi
    say "needs root (the lab is made of network namespaces), and there is no sudo here:" \
        "run it as root"
    exit 2
fi
cd "$(dirname "$0")"

# gobgpd: the GoBGP profile's RR pods (fixtures/sut/gobgp-rr), small, installed always so CI
# tests it too. mmdebstrap: the root filesystem of the FRR a SUT profile ships (issue 14).
# graphviz: the HTML report's topology picture; chromium, chromium-driver: the report tested
# in a real browser (issue 17).
apt_packages=(frr gobgpd iproute2 python3-venv mmdebstrap graphviz chromium chromium-driver)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own interpreter (python3-venv above) unless PYTHON names another: built with
# profile-guided and link-time optimisation, it runs the harness's pure-Python work about 18%
# faster than a plain source build (measured here against pyenv's 3.11.7; issue 18).
python=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi
stamp=.venv/.rr-harness-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages (pyproject.toml)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    echo "$want" > "$stamp"
fi
# The harness's own bytecode, written even where PYTHONDONTWRITEBYTECODE is set (an editable
# install compiles nothing): each run would otherwise compile every module it imports, 0.13 s
# of `rr-harness run reflection` (issue 18). Only what changed is compiled again.
.venv/bin/python -m compileall -q harness suites

command=${1:-}
shift || true
case "$command" in
    suites)
        # `--frr VERSION` alone still runs every profile, with that FRR; other options: one run.
        every=()
        if [ "$#" -eq 2 ] && [ "$1" = "--frr" ]; then
            every=("$@")
        elif [ "$#" -gt 0 ]; then
            exec .venv/bin/rr-harness run "$@"
        fi
        # The SUT profiles: OpenPERouter's standalone RR pods, meshrr's route servers, and
        # OpenPERouter's merged design (RRs that are router pods of designated nodes).
        status=0
        .venv/bin/rr-harness run ${every[@]+"${every[@]}"} || status=$?
        .venv/bin/rr-harness run --sut fixtures/sut/meshrr --topology fixtures/topologies/meshrr.yaml \
            --junitxml reports/junit-meshrr.xml ${every[@]+"${every[@]}"} || status=$?
        .venv/bin/rr-harness run --sut fixtures/sut/openperouter-upstream \
            --topology fixtures/topologies/openperouter-upstream.yaml \
            --junitxml reports/junit-openperouter-upstream.xml ${every[@]+"${every[@]}"} || status=$?
        exit "$status"
        ;;
    test)
        .venv/bin/ruff check .
        .venv/bin/ruff format --check .
        exec .venv/bin/pytest "$@"
        ;;
    *)
        say "usage: $0 suites [rr-harness run options] | $0 test [pytest options]"
        exit 2
        ;;
esac
