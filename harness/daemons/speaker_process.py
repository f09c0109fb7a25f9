"""The crafted-UPDATE speaker's process: keeps real BGP sessions, sends what it is told.

Run in a node's namespace as `python -m harness.daemons.speaker_process STATE_DIR`; reads
`STATE_DIR/speaker.json`, which carries each session's OPEN already encoded: the process is
stdlib only (no scapy import), so dozens of speakers start in a fraction of a second.
For each configured session it connects to the peer (TCP 179), sends
OPEN, answers with KEEPALIVE, keeps the hold timer (RFC 4271 §4.2, §4.4, §8), and reconnects
after `connect_retry` seconds when the session ends. Every message it receives (but keepalives)
and every state change is appended to `STATE_DIR/received.jsonl` as `{"peer", "kind", "hex"}`;
decoding is the harness's job. `STATE_DIR/api.sock` takes one JSON command per connection:
`{"peer": ADDR, "send": HEX}` sends a whole BGP message on that session and answers `done`
(or `error: ...` when the session is not Established).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MSG_OPEN, MSG_UPDATE, MSG_NOTIFICATION, MSG_KEEPALIVE = 1, 2, 3, 4
KINDS = {MSG_OPEN: "open", MSG_UPDATE: "update", MSG_NOTIFICATION: "notification"}
MARKER = b"\xff" * 16
HEADER = 19


def frame(kind: int, body: bytes = b"") -> bytes:
    """RFC 4271 §4.1: marker, length, type."""
    return MARKER + (HEADER + len(body)).to_bytes(2, "big") + bytes([kind]) + body


def split(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole messages at the head of a TCP stream, and the rest."""
    out = []
    while len(buffer) >= HEADER:
        if buffer[:16] != MARKER:
            raise OSError("bad BGP marker from peer")
        length = int.from_bytes(buffer[16:18], "big")
        if not HEADER <= length <= 65535 or len(buffer) < length:
            if length < HEADER:
                raise OSError(f"bad BGP length {length} from peer")
            break
        out.append((buffer[18], buffer[:length]))
        buffer = buffer[length:]
    return out, buffer


SO_SNDBUFFORCE = 32  # linux/asm-generic/socket.h (not exported by Python's socket module)


class Recorder:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def write(self, **entry: Any) -> None:
        entry["time"] = time.time()
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")


@dataclass
class Session:
    peer: str
    local: str
    open_message: bytes
    hold_time: int
    connect_retry: float
    recorder: Recorder
    sock: socket.socket | None = None
    established: threading.Event = field(default_factory=threading.Event)
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def run_forever(self) -> None:
        while True:
            try:
                self._one_session()
            except Exception as exc:  # whatever a peer sends, the session lives on
                reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
                self.recorder.write(peer=self.peer, kind="state", state="down", reason=reason)
            finally:
                self.established.clear()
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
            threading.Event().wait(self.connect_retry)  # ConnectRetry timer (RFC 4271 §8)

    def _one_session(self) -> None:
        sock = socket.create_connection((self.peer, 179), timeout=5, source_address=(self.local, 0))
        self.sock = sock
        self.recorder.write(peer=self.peer, kind="state", state="connected")
        self.send(self.open_message)
        hold = float(self.hold_time)
        sock.settimeout(hold)
        buffer = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                self.send(frame(MSG_NOTIFICATION, bytes([4, 0])))  # Hold Timer Expired
                raise OSError("hold timer expired") from None
            if not chunk:
                raise OSError("peer closed the connection")
            messages, buffer = split(buffer + chunk)
            for kind, message in messages:
                if kind == MSG_OPEN:
                    hold = min(hold, float(int.from_bytes(message[22:24], "big")))
                    sock.settimeout(hold if hold else None)
                    self.send(frame(MSG_KEEPALIVE))
                    if hold:
                        self._start_keepalives(hold / 3)
                elif kind == MSG_KEEPALIVE and not self.established.is_set():
                    self.established.set()
                    self.recorder.write(peer=self.peer, kind="state", state="up")
                if kind in KINDS:
                    self.recorder.write(peer=self.peer, kind=KINDS[kind], hex=message.hex())
                if kind == MSG_NOTIFICATION:
                    code = "/".join(str(b) for b in message[HEADER : HEADER + 2]) or "?"
                    raise OSError(f"notification {code} received")

    def _start_keepalives(self, every: float) -> None:
        sock = self.sock

        def loop() -> None:
            while not threading.Event().wait(every):
                try:
                    self.send(frame(MSG_KEEPALIVE), on=sock)
                except OSError:
                    return  # this connection is over; a new one starts its own keepalives

        threading.Thread(target=loop, daemon=True).start()

    def send_burst(self, data: bytes) -> str:
        """Send many messages at once, after making the socket's send buffer hold them all
        (SO_SNDBUFFORCE, root only), so the copy into the kernel is all the generator does and
        the peer reads at its own pace. Replies `done FIRST LAST`: wall-clock times around it."""
        with self.send_lock:
            if self.sock is None:
                raise OSError("no connection")
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, len(data) + (1 << 20))
            first = time.time()
            self.sock.sendall(data)
            last = time.time()
        return f"done {first:.6f} {last:.6f}"

    def send(self, message: bytes, on: socket.socket | None = None) -> None:
        """Send on the current connection (or only on `on`, if that is still the current one:
        a keepalive timer of an old connection never writes into a newer one)."""
        with self.send_lock:
            if self.sock is None or (on is not None and self.sock is not on):
                raise OSError("no connection")
            self.sock.sendall(message)


def serve(state_dir: Path) -> int:
    config = json.loads((state_dir / "speaker.json").read_text())
    recorder = Recorder(state_dir / "received.jsonl")
    sessions = {
        s["peer"]: Session(
            peer=s["peer"],
            local=s["local"],
            open_message=bytes.fromhex(s["open"]),
            hold_time=int(config["hold_time"]),
            connect_retry=float(config["connect_retry"]),
            recorder=recorder,
        )
        for s in config["sessions"]
    }
    for session in sessions.values():
        threading.Thread(target=session.run_forever, daemon=True).start()
    api = state_dir / "api.sock"
    api.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(api))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            try:
                request = json.loads(conn.makefile("rb").readline())
                session = sessions[request["peer"]]
                if not session.established.is_set():
                    raise OSError(f"session to {request['peer']} is not Established")
                if "send_file" in request:  # a burst: bytes encoded beforehand, timed here
                    reply = session.send_burst(Path(request["send_file"]).read_bytes())
                else:
                    session.send(bytes.fromhex(request["send"]))
                    reply = "done"
            except (OSError, KeyError, ValueError) as exc:
                reply = f"error: {exc}"
            with contextlib.suppress(OSError):  # a caller gone before the answer ends nothing
                conn.sendall(reply.encode() + b"\n")


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
