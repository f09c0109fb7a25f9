"""The harness's own route reflector as the SUT's RR (sut.yaml `implementation: harness-rr`):
`harness.daemons.reflector_process` in each RR pod, read from its recordings.

It is the broken RR of the mutation proof (`faults` in its config), for rules FRR and GoBGP
cannot be configured to break; without faults it is a correct RR for the suites its variants
run. Router pods stay FRR.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness import __version__
from harness.daemons.reflector import ReflectorInstance, parse_config
from harness.model.base import Family
from harness.observe.route import Route
from harness.observe.sessions import SessionLife
from harness.observe.speaker import SpeakerRib

RIB_IN, RIB_OUT = "rib-in.jsonl", "rib-out.jsonl"


class HarnessRouteServer:
    name = "harness-rr"

    def __init__(self) -> None:
        self._ribs: dict[tuple[str, str], SpeakerRib] = {}  # (state file, node) -> its reader

    def _rib(self, instance: ReflectorInstance, file: str) -> SpeakerRib:
        path = instance.directory / file
        key = (str(path), instance.node)
        if key not in self._ribs:
            self._ribs[key] = SpeakerRib(instance.node, path)
        return self._ribs[key].refresh()

    def require(self) -> None:
        """Nothing to install: it is the harness's own code."""

    def create(self, lab: Any, pod: str, config: str) -> ReflectorInstance:
        return lab.register(ReflectorInstance, pod, config)

    def routes(self, instance: Any, family: Family) -> list[Route]:
        """Its Adj-RIB-In: every route it accepted, attributes as received."""
        return [r for r in self._rib(instance, RIB_IN).routes() if r.family is family]

    def sessions(self, instance: Any) -> dict[str, str]:
        states = self._rib(instance, RIB_IN).sessions
        return {peer: "Established" if s == "up" else "Idle" for peer, s in states.items()}

    def session_lives(self, instance: Any) -> dict[str, SessionLife]:
        """Each session's life from its recorded ups and downs (a flap is a new connection,
        other ports, and one more `up`) and the UPDATEs it processed."""
        lives: dict[str, SessionLife] = {}
        for event in self._rib(instance, RIB_IN).events:
            if event["kind"] == "processed" and event["peer"] in lives:
                life = lives[event["peer"]]
                lives[event["peer"]] = replace(life, updates=int(event["updates"]))
            if event["kind"] != "state" or event["state"] not in ("up", "down"):
                continue
            peer, before = event["peer"], lives.get(event["peer"])
            ups = (before.established if before else 0) + (event["state"] == "up")
            downs = (before.dropped if before else 0) + (event["state"] == "down")
            ports = tuple(event.get("ports") or ()) or None
            lives[peer] = SessionLife(
                state="Established" if event["state"] == "up" else "Idle",
                uptime_ms=0,
                established=ups,
                dropped=downs,
                received=0,
                sent=0,
                connection=ports if event["state"] == "up" else None,  # type: ignore[arg-type]
            )
        return lives

    def identifiers(self, instance: Any) -> dict[str, str]:
        """The BGP identifier in each Established peer's last OPEN (RFC 4271 §4.2)."""
        rib = self._rib(instance, RIB_IN)
        seen = {
            e["peer"]: ".".join(str(b) for b in bytes.fromhex(e["hex"])[24:28])
            for e in rib.events
            if e["kind"] == "open"
        }
        return {peer: ident for peer, ident in seen.items() if rib.sessions.get(peer) == "up"}

    def version(self, instance: Any) -> str:
        return f"{__version__} (rr-harness)"

    def neighbors(self, instance: Any) -> set[str]:
        return {str(n.address) for n in parse_config(instance.config).non_clients}

    def advertised(self, instance: Any, peer: str, family: Family) -> set[str] | None:
        """Its Adj-RIB-Out towards `peer`: every UPDATE it sent there, replayed."""
        sent = self._rib(instance, RIB_OUT).routes()
        return {r.key for r in sent if r.peer == peer and r.family is family}

    def configuration(self, instance: Any) -> str:
        return str(instance.config)

    def refusals(self, instance: Any, needle: str) -> list[str]:
        """Its `denied` records naming `needle`, written as FRR writes them."""
        from harness.observe.wire import decode_update  # scapy: only where a refusal is read

        out = []
        for event in self._rib(instance, RIB_IN).events:
            if event["kind"] != "denied":
                continue
            announced, _ = decode_update(
                bytes.fromhex(event["hex"]), peer=event["peer"], observed_at=instance.node
            )
            out += [
                f"{event['peer']} rcvd UPDATE about {r.key} -- DENIED due to: {event['reason']};"
                for r in announced
                if needle.lower() in r.key.lower()
            ]
        return out

    def refused_for(self, line: str, reason: str) -> bool:
        return f"DENIED due to: {reason}" in line

    def rejects(self, config: str) -> str | None:
        try:
            parse_config(config)
        except ValueError as exc:
            return str(exc)
        return None
