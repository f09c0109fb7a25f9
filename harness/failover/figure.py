"""The timeline of one failover, as a picture a reviewer reads without the numbers.

One panel per router pod: the routes it holds (black) and its paths via each RR pod (one colour
per pod, replacements included) over time, red where a route was missing, and dashed lines at
the fault, detection, replacement ready, sessions Established and full redundancy.
"""

from __future__ import annotations

from pathlib import Path

from harness.failover.drills import DrillRun
from harness.failover.measures import ms

MARK_COLOURS = {
    "fault": "red",
    "detection": "darkorange",
    "replacement ready": "purple",
    "established": "steelblue",
    "full redundancy": "green",
}


def draw(drill_run: DrillRun, path: Path) -> Path:
    import matplotlib  # heavy: imported by runs that draw only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = sorted(drill_run.expected)
    fig, axes = plt.subplots(
        len(clients), 1, sharex=True, figsize=(12, 2.0 * len(clients) + 1.4), squeeze=False
    )
    rr_ips = sorted(drill_run.rr_names, key=lambda ip: drill_run.rr_names[ip])
    colours = plt.get_cmap("tab10")
    for ax, client in zip(axes[:, 0], clients, strict=True):
        expected = drill_run.expected[client]
        series = [s for s in drill_run.samples if s.client == client and s.error is None]
        t = [ms(s.at, drill_run.t0) for s in series]
        held = [len(expected & s.paths.keys()) for s in series]
        ax.step(t, held, where="post", color="black", label="routes held", linewidth=4, alpha=0.3)
        shown = 0
        for i, ip in enumerate(rr_ips):
            via = [sum(1 for k in expected if ip in s.paths.get(k, ())) for s in series]
            if not any(via):
                continue
            # Lines a little apart, so one RR's paths never hide another's.
            shown += 1
            lifted = [v - 0.25 * shown for v in via]
            label = f"paths via {drill_run.rr_names[ip]} ({ip})"
            ax.step(t, lifted, where="post", color=colours(i % 10), label=label, linewidth=1.4)
        ax.fill_between(
            t,
            0,
            len(expected),
            where=[h < len(expected) for h in held],
            step="post",
            color="red",
            alpha=0.2,
            label="route(s) missing",
        )
        for at, name in sorted((at, n) for n, at in drill_run.marks.items() if at is not None):
            ax.axvline(
                at,
                linestyle="--",
                linewidth=1,
                color=MARK_COLOURS.get(name, "grey"),
                label=f"{name}: {at:.0f} ms",
            )
        ax.set_ylabel(f"{client}\nroutes", fontsize=8)
        ax.set_ylim(-1, len(expected) + 1)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    m = drill_run.measures
    fig.suptitle(
        f"{drill_run.scenario} ({drill_run.variant}): loss window {m.loss_window_ms:.0f} ms, "
        f"full redundancy after {_fmt(m.full_redundancy_ms)}, samples ≤ {m.resolution_ms:.0f} ms "
        "apart",
        fontsize=10,
    )
    axes[-1, 0].set_xlabel("ms after the fault")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} ms"
