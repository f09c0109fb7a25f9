"""Apply a re-rendered FRR configuration to a running daemon: the lines that changed only.

OpenPERouter's controller re-renders a router's whole configuration and lets FRR's reload tool
apply the difference (design, "Controller Changes" 3). This is the part of that the discovery
loop needs: lines are compared within their context (`router bgp`, `address-family`), added
lines are entered in their context, and a removed neighbor is removed whole with
`no neighbor X`, which takes its timers and activations with it (as frr-reload.py does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Context = tuple[str, ...]
_NEIGHBOR = re.compile(r"^neighbor (\S+) (?:remote-as|peer-group) ")  # defines a neighbor


@dataclass(frozen=True)
class Line:
    context: Context
    text: str


def parse(config: str) -> list[Line]:
    """Every configuration line with the blocks it sits in; comments and `!` dropped."""
    out: list[Line] = []
    context: list[str] = []
    for raw in config.splitlines():
        text = raw.strip()
        if not text or text.startswith("!"):
            continue
        if text in ("exit", "end"):
            context.clear()
        elif text == "exit-address-family":
            del context[1:]
        elif not raw.startswith(" ") and text.startswith("router "):
            context[:] = [text]
        elif text.startswith("address-family ") and context:
            context[1:] = [text]
        else:
            out.append(Line(tuple(context), text))
    return out


def commands(old: str, new: str) -> list[list[str]]:
    """vty command batches taking a daemon from `old` to `new`: additions first (a router is
    pointed at a new RR before it forgets the old one), then removals."""
    before, after = parse(old), parse(new)
    added = [line for line in after if line not in before]
    removed = [line for line in before if line not in after]
    gone = {m.group(1) for line in removed if (m := _NEIGHBOR.match(line.text))}
    batches = [_enter(line.context, line.text) for line in added]
    for line in removed:
        match = _NEIGHBOR.match(line.text)
        if match:
            batches.append(_enter(line.context, f"no neighbor {match.group(1)}"))
        elif not any(line.text.startswith(f"neighbor {addr} ") for addr in gone):
            batches.append(_enter(line.context, f"no {line.text}"))
    return batches


def neighbors(config: str) -> set[str]:
    """Addresses of every neighbor a configuration defines."""
    return {m.group(1) for line in parse(config) if (m := _NEIGHBOR.match(line.text))}


def _enter(context: Context, text: str) -> list[str]:
    return ["configure terminal", *context, text, "end"]
