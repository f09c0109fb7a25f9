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

from harness.daemons.vty import CONFIG_END, CONFIG_START

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
    """The vty commands taking a daemon from `old` to `new`, as one batch (`configure terminal`
    ... `end`), as frr-reload.py gives its whole difference to one `vtysh -f`: additions first
    (a router is pointed at a new RR before it forgets the old one), then removals. One batch,
    not one per line: a new neighbor's address families are active before bgpd can open its
    session (one line at a time, a router opened the new RR's session with one family active,
    bgpd ended it, "Configured AFI/SAFIs do not overlap with received MP capabilities", and
    the next try came 2-3 s later, into every failover figure)."""
    before, after = parse(old), parse(new)
    added = [line for line in after if line not in before]
    removed = [line for line in before if line not in after]
    gone = {m.group(1) for line in removed if (m := _NEIGHBOR.match(line.text))}
    lines = list(added)
    for line in removed:
        match = _NEIGHBOR.match(line.text)
        if match:
            lines.append(Line(line.context, f"no neighbor {match.group(1)}"))
        elif not any(line.text.startswith(f"neighbor {addr} ") for addr in gone):
            lines.append(Line(line.context, f"no {line.text}"))
    return [_batch(lines)] if lines else []


def neighbors(config: str) -> set[str]:
    """Addresses of every neighbor a configuration defines."""
    return {m.group(1) for line in parse(config) if (m := _NEIGHBOR.match(line.text))}


def _batch(lines: list[Line]) -> list[str]:
    """One configuration session entering each line's context from the one before: out of an
    address family (`exit-address-family`), out of `router bgp` (`exit`), into what is new."""
    out: list[str] = ["configure terminal", CONFIG_START]
    here: Context = ()
    for line in lines:
        shared = 0
        while shared < min(len(here), len(line.context)) and here[shared] == line.context[shared]:
            shared += 1
        for depth in range(len(here), shared, -1):
            out.append("exit-address-family" if depth == 2 else "exit")
        out += [*line.context[shared:], line.text]
        here = line.context
    return [*out, CONFIG_END, "end"]
