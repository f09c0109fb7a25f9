"""The harness's own route reflector, as a process (sut.yaml `implementation: harness-rr`).

FRR and GoBGP cannot be configured into some broken behaviours a check must be shown to catch
(an RR that overwrites an ORIGINATOR_ID already present, RFC 4456 §8). This process is a small
but complete RR, correct by default, that can be told to break one rule (`faults`): a broken
variant then differs from a correct RR by that rule only, and the checks that catch it are the
checks of that rule (`harness/mutation/catalogue.py`).

Run in an RR pod's namespace as `python -m harness.daemons.reflector_process STATE_DIR`, it
reads `STATE_DIR/reflector.json` (written by `harness.daemons.reflector`: the OPEN it sends
already encoded, so the process is stdlib only). What it does:
- listens on TCP 179 at the pod's address, never connects (every peer of the design connects to
  the RR: routers to `rr@<ip>`, the harness's speakers to their configured RR). A connection
  from outside the listen range and from no configured neighbor is closed before any OPEN
  (RFC 4271 §8); an OPEN with another AS is answered with NOTIFICATION 2/2 (§6.2); a second
  connection from a peer whose session is Established is closed (§6.8);
- keeps each session (OPEN, KEEPALIVE, hold timer, §4.2, §4.4, §8), ends it with a NOTIFICATION
  3/1 when an UPDATE cannot be parsed (§6.3);
- holds each peer's routes (IPv4/IPv6 unicast, L2VPN EVPN), drops on receipt a route with its
  cluster id in CLUSTER_LIST, its router id as ORIGINATOR_ID (RFC 4456 §8) or its AS in AS_PATH
  (RFC 4271 §9.1.2), and logs why, in FRR's words;
- reflects the best path of each route (RFC 4456 §9 tie-breaks) as RFC 4456 §6 says: a client's
  to every other client and every non-client, a non-client's to clients only; with
  ORIGINATOR_ID set to the originator's BGP identifier when absent and its cluster id prepended
  to CLUSTER_LIST (§8); NEXT_HOP and every other attribute unchanged (§10), an unrecognised
  optional transitive attribute passed on with its Partial bit set, an unrecognised
  non-transitive one dropped (RFC 4271 §5, §9);
- withdraws a peer's routes from the others when its session ends; sends End-of-RIB after the
  initial table (RFC 4724 §2).

Faults (each breaks exactly one rule): `overwrite-originator-id` (RFC 4456 §8: ORIGINATOR_ID
replaced even when present).

Recordings, for the harness's driver (`harness.drivers.harness_rr`), one JSON object a line in
the crafted speaker's format (`harness.daemons.speaker_process`), so `SpeakerRib` reads them:
`rib-in.jsonl` holds each peer's OPEN, session states (`up` with the connection's ports), and
every route accepted or withdrawn (one UPDATE per route, its attributes as received): the
Adj-RIB-In; a route refused on receipt is a `denied` entry with its UPDATE and the reason;
after each UPDATE processed, a `processed` entry counts them in the session.
`rib-out.jsonl` holds every UPDATE sent, per peer: the Adj-RIB-Out. `reflector.log` says the
same in words (`... rcvd UPDATE about 10.0.0.1/32 -- DENIED due to: originator is us;`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from harness.bgp.attribute_codes import (
    AS_PATH,
    CLUSTER_LIST,
    OPTIONAL,
    ORIGINATOR_ID,
    PARTIAL,
    TRANSITIVE,
)
from harness.bgp.stream import (
    HEADER_SIZE,
    KEEPALIVE,
    NOTIFICATION,
    OPEN,
    ROUTE_REFRESH,
    UPDATE,
    FramingError,
    capabilities,
    first_message_end,
    negotiated_max_size,
    split_messages,
)
from harness.daemons import best_path, speaker_process
from harness.daemons.best_path import attribute
from harness.daemons.update_build import build_update, end_of_rib, frame, nlri_text
from harness.daemons.update_errors import (
    DISCARD,
    FLAGS,
    UPDATE_ERROR,
    Attribute,
    Examined,
    HeldPath,
    RouteKey,
    SessionReset,
    examine,
)

MULTIPROTOCOL, FOUR_OCTET_AS = 1, 65  # capability codes (RFC 4760 §8, RFC 6793 §3)
OVERWRITE_ORIGINATOR_ID = "overwrite-originator-id"
RESET_ON_EVERY_ERROR = "reset-on-every-update-error"
FAULTS = {OVERWRITE_ORIGINATOR_ID, RESET_ON_EVERY_ERROR}
MESSAGE_HEADER_ERROR, OPEN_ERROR, HOLD_TIMER_EXPIRED, FSM_ERROR, CEASE = 1, 2, 4, 5, 6
BAD_TYPE, BAD_PEER_AS, COLLISION_RESOLUTION = 3, 2, 7  # subcodes (RFC 4271 §4.5, RFC 4486)
MIN_OPEN = 29  # octets (RFC 4271 §4.2)
DRAIN_TIMEOUT = 2.0  # seconds the peer gets to close after our NOTIFICATION
MIN_UPDATE = 23  # octets (RFC 4271 §4.3)


# -- sessions ------------------------------------------------------------------------------------
class Ended(Exception):
    def __init__(self, by: str, reason: str) -> None:
        super().__init__(reason)
        self.by = by


@dataclass
class Peer:
    address: str
    client: bool
    asn: int
    sock: socket.socket
    allowed: set[tuple[int, int]] = field(default_factory=set)  # configured for it
    identifier: str = ""
    families: set[tuple[int, int]] = field(default_factory=set)
    max_size: int = 4096
    established: bool = False
    updates: int = 0  # UPDATEs processed in this session
    ended: bool = False
    rib_in: dict[RouteKey, HeldPath] = field(default_factory=dict)
    # key -> the UPDATE sent, and the path it announced (its NLRI names it in a withdraw)
    rib_out: dict[RouteKey, tuple[bytes, HeldPath]] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(message)


class Recorder(speaker_process.Recorder):
    """The crafted speaker's recording, one JSON object a line, whichever thread writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path

    def close_stale(self, reason: str) -> None:
        """Record as down every session an earlier process of this pod left up."""
        last: dict[str, str] = {}
        for line in self.path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("kind") == "state":
                    last[entry["peer"]] = entry["state"]
        for peer, state in sorted(last.items()):
            if state != "down":
                self.write(peer=peer, kind="state", state="down", closed_by="self", reason=reason)


class Reflector:
    def __init__(self, config: dict[str, Any], state_dir: Path) -> None:
        self.config = config
        self.asn: int = config["asn"]
        self.router_id: str = config["router_id"]
        self.cluster_id = socket.inet_aton(config["cluster_id"])
        self.ranges = [ipaddress.ip_network(r) for r in config["listen_ranges"]]
        self.families = {(f[0], f[1]) for f in config["families"]}
        self.non_clients: dict[str, tuple[int, set[tuple[int, int]]]] = {
            n["address"]: (n["asn"], {(f[0], f[1]) for f in n["families"]})
            for n in config["non_clients"]
        }
        self.faults = set(config["faults"])
        self.open_message = bytes.fromhex(config["open"])
        self.rib_in = Recorder(state_dir / "rib-in.jsonl")
        self.rib_out = Recorder(state_dir / "rib-out.jsonl")
        for recorder in (self.rib_in, self.rib_out):  # a restart: the old sessions are over
            recorder.close_stale("process restarted")
        self.log = (state_dir / "reflector.log").open("a", buffering=1)
        self.state_dir = state_dir
        self.lock = threading.RLock()  # the RIBs, and the order in which UPDATEs go out
        self.peers: dict[str, Peer] = {}  # Established sessions, by address

    def say(self, text: str) -> None:
        self.log.write(f"{time.strftime('%Y/%m/%d %H:%M:%S')} {text}\n")

    # -- connections --
    def serve(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.config["address"], 179))
        server.listen(64)
        (self.state_dir / "listening").touch()  # the harness waits for it
        self.say(f"listening on {self.config['address']}:179, router id {self.router_id}")
        while True:
            conn, (address, _port) = server.accept()
            threading.Thread(target=self.converse, args=(conn, address), daemon=True).start()

    def converse(self, conn: socket.socket, address: str) -> None:
        ip = ipaddress.ip_address(address)
        if address in self.non_clients:
            asn, allowed = self.non_clients[address]
            peer = Peer(address, False, asn, conn, allowed)
        elif any(ip in r for r in self.ranges):
            peer = Peer(address, True, self.asn, conn, self.families)
        else:  # RFC 4271 §8: not a configured or dynamic neighbor: no OPEN, closed at once
            self.say(f"{address}: connection refused, outside every listen range")
            conn.close()
            return
        with self.lock:
            if address in self.peers:  # RFC 4271 §6.8: the Established session wins
                self.say(f"{address}: second connection closed, a session is Established")
                with contextlib.suppress(OSError):
                    conn.sendall(frame(NOTIFICATION, bytes([CEASE, COLLISION_RESOLUTION])))
                conn.close()
                return
        by, reason = "self", ""
        try:
            self.session(peer)
        except Ended as end:
            by, reason = end.by, str(end)
        except (ConnectionResetError, BrokenPipeError) as exc:
            by, reason = "peer", str(exc)
        except Exception as exc:  # the reflector's own error, recorded as such
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
            self.end(peer, by, reason)

    def end(self, peer: Peer, by: str, reason: str) -> None:
        """The session is over (once): its routes withdrawn from the others, recorded."""
        with self.lock:
            if peer.ended:
                return
            peer.ended = True
            if peer.established:
                self.session_down(peer)
        self.rib_in.write(
            peer=peer.address, kind="state", state="down", closed_by=by, reason=reason
        )
        self.say(f"{peer.address}: session down ({by}: {reason})")

    def notify(self, peer: Peer, code: int, subcode: int, data: bytes = b"") -> None:
        with contextlib.suppress(OSError):
            peer.send(frame(NOTIFICATION, bytes([code, subcode]) + data))

    def session(self, peer: Peer) -> None:
        sock, hold = peer.sock, float(self.config["hold_time"])
        sock.settimeout(hold)
        peer.send(self.open_message)
        buffer = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                self.reset(peer, "hold timer expired", HOLD_TIMER_EXPIRED, 0)
            if not chunk:
                raise Ended("peer", "peer closed the connection")
            buffer += chunk
            while True:
                try:
                    messages, _ = split_messages(buffer[: first_message_end(buffer)], peer.max_size)
                except FramingError as exc:  # RFC 4271 §6.1: Message Header Error
                    self.reset(peer, str(exc), MESSAGE_HEADER_ERROR, exc.subcode, exc.data)
                if not messages:
                    break
                kind, message = messages[0]
                buffer = buffer[len(message) :]
                hold = self.receive(peer, kind, message, hold)

    def receive(self, peer: Peer, kind: int, message: bytes, hold: float) -> float:
        """One message, as the FSM of RFC 4271 §8.2.2 takes it in OpenSent, OpenConfirm and
        Established: anything out of its turn is a Finite State Machine Error (5)."""
        if kind in (OPEN, KEEPALIVE, UPDATE, ROUTE_REFRESH):
            turn = {OPEN: not peer.identifier, KEEPALIVE: bool(peer.identifier)}
            if not turn.get(kind, peer.established):
                self.reset(peer, f"message type {kind} out of turn", FSM_ERROR, 0)
        if kind == OPEN:
            hold = self.opened(peer, message, hold)
        elif kind == KEEPALIVE and not peer.established:
            self.session_up(peer)
        elif kind == ROUTE_REFRESH:
            self.refresh(peer, message)
        elif kind == UPDATE:
            self.learn(peer, self.examined(peer, message))
            peer.updates += 1  # processed: the harness's witness that it was (SessionLife)
            self.rib_in.write(peer=peer.address, kind="processed", updates=peer.updates)
        elif kind == NOTIFICATION:
            code = "/".join(str(b) for b in message[HEADER_SIZE : HEADER_SIZE + 2])
            raise Ended("peer", f"notification {code} received")
        elif kind not in (OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH):  # RFC 4271 §6.1
            self.reset(peer, f"message type {kind}", MESSAGE_HEADER_ERROR, BAD_TYPE, bytes([kind]))
        return hold

    def refresh(self, peer: Peer, message: bytes) -> None:
        """RFC 2918 §4 (the OPEN offers route refresh): the Adj-RIB-Out of that family again."""
        afi, safi = int.from_bytes(message[19:21]), message[22] if len(message) > 22 else 0
        with self.lock:
            for key, (update, _path) in list(peer.rib_out.items()):
                if key[:2] == (afi, safi):
                    self.send(peer, update)

    def examined(self, peer: Peer, message: bytes) -> Examined:
        """RFC 7606 error handling (`update_errors`); with the fault
        `reset-on-every-update-error`, RFC 4271 §6.3's instead: every error ends the session."""
        if len(message) < MIN_UPDATE:  # RFC 4271 §6.1: Bad Message Length
            length = len(message).to_bytes(2, "big")
            self.reset(peer, f"UPDATE of {len(message)} octets", MESSAGE_HEADER_ERROR, 2, length)
        try:
            examined = examine(message, peer.families)
        except SessionReset as exc:
            self.reset(peer, f"malformed UPDATE: {exc}", exc.code, exc.subcode, exc.data)
        for error in examined.errors:
            if RESET_ON_EVERY_ERROR in self.faults:
                self.reset(peer, f"malformed UPDATE: {error.reason}", UPDATE_ERROR, error.subcode)
            verb = "attribute discarded" if error.action == DISCARD else "treat-as-withdraw"
            self.say(f"{peer.address} rcvd malformed UPDATE: {error.reason} -- {verb}")
        return examined

    def reset(
        self, peer: Peer, reason: str, code: int, subcode: int, data: bytes = b""
    ) -> NoReturn:
        """End the session with a NOTIFICATION (RFC 4271 §6), then close it the orderly way:
        our side shut, what the peer still sends read until it closes, so the kernel ends the
        connection with a FIN (a RST could discard the NOTIFICATION unread). The session is over
        from the NOTIFICATION on (RFC 4271 §8.2.2: Idle), as the peer's next connection finds
        it."""
        self.notify(peer, code, subcode, data)
        reason = f"{reason}: NOTIFICATION {code}/{subcode} sent"
        self.end(peer, "self", reason)
        with contextlib.suppress(OSError):
            peer.sock.shutdown(socket.SHUT_WR)
            peer.sock.settimeout(DRAIN_TIMEOUT)
            while peer.sock.recv(1 << 16):
                pass
        raise Ended("self", reason)

    def opened(self, peer: Peer, message: bytes, hold: float) -> float:
        self.rib_in.write(peer=peer.address, kind="open", hex=message.hex())
        if len(message) < MIN_OPEN:  # RFC 4271 §6.1: Bad Message Length
            length = len(message).to_bytes(2, "big")
            self.reset(peer, f"OPEN of {len(message)} octets", MESSAGE_HEADER_ERROR, 2, length)
        caps = list(capabilities(message))
        asn = int.from_bytes(message[20:22], "big")
        for code, value in caps:
            if code == FOUR_OCTET_AS and len(value) == 4:
                asn = int.from_bytes(value, "big")
        if asn != peer.asn:  # RFC 4271 §6.2: Bad Peer AS
            self.say(f"{peer.address}: OPEN with AS {asn}, expected {peer.asn}: Bad Peer AS")
            self.reset(peer, f"bad peer AS {asn}", OPEN_ERROR, BAD_PEER_AS)
        peer.identifier = socket.inet_ntoa(message[24:28])
        offered = {
            (int.from_bytes(v[0:2], "big"), v[3])
            for c, v in caps
            if c == MULTIPROTOCOL and len(v) == 4
        }
        peer.families = offered & self.families & peer.allowed
        peer.max_size = negotiated_max_size(self.open_message, message) or 4096
        their_hold = float(int.from_bytes(message[22:24], "big"))
        hold = min(hold, their_hold) if their_hold else 0.0
        peer.sock.settimeout(hold or None)
        peer.send(frame(KEEPALIVE))
        if hold:
            self.keepalives(peer, hold / 3)
        return hold

    def keepalives(self, peer: Peer, every: float) -> None:
        def loop() -> None:
            while not threading.Event().wait(every):
                try:
                    peer.send(frame(KEEPALIVE))
                except OSError:
                    return

        threading.Thread(target=loop, daemon=True).start()

    def session_up(self, peer: Peer) -> None:
        local, remote = peer.sock.getsockname()[1], peer.sock.getpeername()[1]
        with self.lock:
            collision = peer.address in self.peers
            if not collision:
                self.up(peer, local, remote)
        if collision:  # RFC 4271 §6.8: the Established session wins
            self.reset(peer, "connection collision", CEASE, COLLISION_RESOLUTION)

    def up(self, peer: Peer, local: int, remote: int) -> None:
        """Established: recorded, and the Adj-RIB-Out sent, then End-of-RIB (RFC 4724 §2)."""
        with self.lock:
            peer.established = True
            self.peers[peer.address] = peer
            self.rib_in.write(
                peer=peer.address,
                kind="state",
                state="up",
                ports=[local, remote],
                max_message_size=peer.max_size,
            )
            self.rib_out.write(peer=peer.address, kind="state", state="up")
            self.say(f"{peer.address}: session Established (BGP identifier {peer.identifier})")
            for key in self.every_key():
                self.advertise(key, [peer])
            for afi, safi in sorted(peer.families):
                self.send(peer, end_of_rib(afi, safi))

    def session_down(self, peer: Peer) -> None:
        with self.lock:
            peer.established = False
            if self.peers.get(peer.address) is peer:
                del self.peers[peer.address]
            self.rib_out.write(peer=peer.address, kind="state", state="down")
            gone = list(peer.rib_in)
            peer.rib_in.clear()
            for key in gone:
                self.advertise(key, list(self.peers.values()))

    # -- routes --
    def every_key(self) -> set[RouteKey]:
        return {k for p in self.peers.values() for k in p.rib_in}

    def learn(self, peer: Peer, parsed: Examined) -> None:
        with self.lock:
            changed = []
            for key in parsed.withdrawn:
                if self.forget(peer, key):
                    changed.append(key)
            for key, path in parsed.announced.items():
                if key[:2] not in peer.families:
                    continue
                why = self.loop(path.attributes)
                if why is not None:
                    message = build_update(key, path).hex()
                    self.rib_in.write(peer=peer.address, kind="denied", reason=why, hex=message)
                    about = nlri_text(key[0], key[1], path.nlri)
                    self.say(f"{peer.address} rcvd UPDATE about {about} -- DENIED due to: {why};")
                    if self.forget(peer, key):  # an implicit withdraw
                        changed.append(key)
                    continue
                peer.rib_in[key] = path
                self.rib_in.write(
                    peer=peer.address, kind="update", hex=build_update(key, path).hex()
                )
                changed.append(key)
            for key in changed:
                self.advertise(key, list(self.peers.values()))

    def forget(self, peer: Peer, key: RouteKey) -> bool:
        """Withdraw a peer's route from its Adj-RIB-In; whether it held one."""
        path = peer.rib_in.pop(key, None)
        if path is None:
            return False
        message = build_update(key, path, withdraw=True)
        self.rib_in.write(peer=peer.address, kind="update", hex=message.hex())
        return True

    def loop(self, attributes: list[Attribute]) -> str | None:
        """Why a received route is dropped (RFC 4456 §8, RFC 4271 §9.1.2), in FRR's words."""
        clusters = attribute(attributes, CLUSTER_LIST) or b""
        if self.cluster_id in [clusters[i : i + 4] for i in range(0, len(clusters), 4)]:
            return "reflected from the same cluster"
        if attribute(attributes, ORIGINATOR_ID) == socket.inet_aton(self.router_id):
            return "originator is us"
        segments = best_path.segments(attribute(attributes, AS_PATH))
        if any(self.asn in ases for _kind, ases in segments):
            return "as-path contains our own AS"
        return None

    def best(self, key: RouteKey) -> Peer | None:
        """The peer whose path of `key` is best (`best_path`: RFC 4271 §9.1.2.2, RFC 4456 §9)."""
        holders = {p.address: p for p in self.peers.values() if key in p.rib_in}
        chosen = best_path.best(
            [
                best_path.Candidate(p.rib_in[key].attributes, p.identifier, p.address)
                for p in holders.values()
            ]
        )
        return holders[chosen.address] if chosen is not None else None

    def reflected(self, key: RouteKey, source: Peer) -> list[Attribute]:
        """The best path's attributes as reflected: RFC 4456 §8 and §10, RFC 4271 §5."""
        attributes, out = source.rib_in[key].attributes, []
        originator = attribute(attributes, ORIGINATOR_ID)
        if originator is None or OVERWRITE_ORIGINATOR_ID in self.faults:
            originator = socket.inet_aton(source.identifier)
        for flags, kind, value in attributes:
            if kind in (ORIGINATOR_ID, CLUSTER_LIST):
                continue
            if kind not in FLAGS and flags & OPTIONAL:
                if not flags & TRANSITIVE:
                    continue  # RFC 4271 §5: an unrecognised non-transitive one is not passed on
                out.append((flags | PARTIAL, kind, value))  # RFC 4271 §9: marked Partial
                continue
            out.append((flags, kind, value))
        clusters = attribute(attributes, CLUSTER_LIST) or b""
        out.append((OPTIONAL, ORIGINATOR_ID, originator))
        out.append((OPTIONAL, CLUSTER_LIST, self.cluster_id + clusters))
        return out

    def advertise(self, key: RouteKey, targets: list[Peer]) -> None:
        """Bring each target's Adj-RIB-Out for `key` in line with the best path (RFC 4456 §6)."""
        source = self.best(key)
        for target in targets:
            message = None
            if (
                source is not None
                and source is not target
                and key[:2] in target.families
                and (source.client or target.client)  # a non-client's routes go to clients only
            ):
                message = build_update(key, source.rib_in[key], self.reflected(key, source))
                if len(message) > target.max_size:  # RFC 8654 §4: not sent, and not held
                    self.say(f"{target.address}: UPDATE of {len(message)} octets not sent")
                    message = None
            sent = target.rib_out.get(key)
            if message is not None and (sent is None or message != sent[0]):
                target.rib_out[key] = (message, source.rib_in[key])
                self.send(target, message)
            elif message is None and sent is not None:
                del target.rib_out[key]
                self.send(target, build_update(key, sent[1], withdraw=True))

    def send(self, peer: Peer, message: bytes) -> None:
        try:
            peer.send(message)
        except OSError:
            return  # the session's own thread sees the connection end
        self.rib_out.write(peer=peer.address, kind="update", hex=message.hex())


def main(state_dir: Path) -> int:
    config = json.loads((state_dir / "reflector.json").read_text())
    unknown = set(config["faults"]) - FAULTS
    if unknown:
        print(f"unknown faults: {sorted(unknown)} (known: {sorted(FAULTS)})", file=sys.stderr)
        return 2
    reflector = Reflector(config, state_dir)

    def shut_down(signum: int, _frame: object) -> None:
        reflector.say(f"shutdown ({signal.Signals(signum).name})")
        os._exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    reflector.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
