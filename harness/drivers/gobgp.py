"""GoBGP as the route reflector (sut.yaml `implementation: gobgp`): gobgpd in each RR pod,
configured from the profile's TOML template, read through its own JSON (`gobgp -j`).

Router pods stay FRR: only the RR pods are GoBGP's.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from harness.daemons.gobgp import GOBGPD, GobgpInstance, installed_version, require_gobgp
from harness.model.base import Family
from harness.observe import gobgp
from harness.observe.route import Route
from harness.observe.sessions import SessionLife


class GobgpRouteServer:
    """gobgpd alone in the RR pod, its API on the pod's loopback."""

    name = "gobgp"

    def require(self) -> None:
        require_gobgp()

    def create(self, lab: Any, pod: str, config: str) -> GobgpInstance:
        require_gobgp()
        return lab.register(GobgpInstance, pod, config)

    def routes(self, instance: Any, family: Family) -> list[Route]:
        return gobgp.rib_routes(instance.query(gobgp.rib_command(family)), family, instance.node)

    def sessions(self, instance: Any) -> dict[str, str]:
        return gobgp.session_states(instance.query(gobgp.NEIGHBORS))

    def session_lives(self, instance: Any) -> dict[str, SessionLife]:
        return gobgp.session_lives(instance.query(gobgp.NEIGHBORS))

    def identifiers(self, instance: Any) -> dict[str, str]:
        return gobgp.peer_identifiers(instance.query(gobgp.NEIGHBORS))

    def version(self, instance: Any) -> str:
        return gobgp.version(installed_version())

    def neighbors(self, instance: Any) -> set[str]:
        return gobgp.configured_neighbors(instance.query(gobgp.NEIGHBORS))

    def advertised(self, instance: Any, peer: str, family: Family) -> set[str] | None:
        out = instance.query(gobgp.adj_out_command(family, peer))
        return {r.key for r in gobgp.rib_routes(out, family, instance.node)}

    def configuration(self, instance: Any) -> str:
        return gobgp.configuration(instance.query(gobgp.GLOBAL), instance.query(gobgp.NEIGHBORS))

    def refusals(self, instance: Any, needle: str) -> list[str]:
        return gobgp.refusal_lines(instance.log_text(), needle)

    def refused_for(self, line: str, reason: str) -> bool:
        return gobgp.refused_for(line, reason)

    def rejects(self, config: str) -> str | None:
        """gobgpd's own check of a rendered config (`--dry-run`: TOML syntax, unknown keys,
        wrong types); None when it takes it, or when gobgpd is not installed here."""
        if not GOBGPD.is_file():
            return None
        with tempfile.TemporaryDirectory(prefix="rrh-gobgp-check-") as tmp:
            path = Path(tmp) / "gobgpd.toml"
            path.write_text(config)
            done = subprocess.run(
                [str(GOBGPD), "--dry-run", "--log-plain", "--config-type", "toml", "-f", str(path)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        if done.returncode == 0:
            return None
        return _fatal(done.stdout + done.stderr)


def _fatal(output: str) -> str:
    """gobgpd's complaint without its log decoration: `'global.config' has invalid keys: x`."""
    lines = [ln for ln in output.splitlines() if "level=fatal" in ln] or output.splitlines()
    line = lines[-1] if lines else "(no message)"
    for marker in ('Error="', "Error="):
        if marker in line:
            text = line.split(marker, 1)[1].split('" Topic=', 1)[0]
            return text.replace("\\n", " ").replace("1 error(s) decoding: ", "").strip(' *"')
    return line.strip()
