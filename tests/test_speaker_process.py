"""The speaker's session-keeping process against a peer that misbehaves, and clients of its API
that do. The peer is a listening socket on loopback.

- Each connection's end is recorded with who ended it (`closed_by`): the peer (EOF, RST, a
  NOTIFICATION: RFC 4271 §4.5, its sender closes the connection) or the speaker itself (its hold
  timer, RFC 4271 §6.5; bytes that are not BGP, §6.1; shutdown), each with a reason; the session
  is tried again, and the process and its other sessions live on.
- Whatever a client of `api.sock` sends is answered `error: ...` (when the client is still
  there); the process keeps serving, and keeps its sessions.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_root

from harness.bgp.session import build_keepalive, build_open
from harness.daemons.speaker_process import MAX_REQUEST
from harness.model.base import Family
from harness.observe.refusals import attempts, refused
from harness.observe.wait import wait_until

pytestmark = needs_root
# Loopback, so no traffic leaves the host; an address of this test process's own, so a run of
# these tests elsewhere on the machine (another checkout) neither takes its port 179 nor connects.
PEER = f"127.79.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
SHORT_NOTIFICATION = b"\xff" * 16 + (19).to_bytes(2, "big") + b"\x03"  # no error code at all
SPEAKER_OPEN = b"OPEN-OF-THE-SPEAKER"  # what it sends as its OPEN: only its arrival matters
PEER_OPEN = build_open(64514, 0, "10.0.0.79", [Family.L2VPN_EVPN])  # hold time 0: no timers


@pytest.fixture
def peer():
    server = socket.create_server((PEER, 179))
    server.settimeout(10)
    yield server
    server.close()


def records(path):
    if not path.exists():
        return []
    *lines, _ = path.read_text().split("\n")  # the last one is still being written, if any
    return [json.loads(line) for line in lines]


class Speaker:
    """The process under test, in `directory`, with one session to PEER."""

    def __init__(
        self,
        directory: Path,
        hold_time: int = 9,
        open_message: bytes = SPEAKER_OPEN,
        connect_retry: float = 0.2,
    ) -> None:
        self.directory = directory
        config = {
            "hold_time": hold_time,
            "connect_retry": connect_retry,
            "sessions": [{"peer": PEER, "local": "127.0.0.1", "open": open_message.hex()}],
        }
        (directory / "speaker.json").write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.daemons.speaker_process", str(directory)],
            stderr=subprocess.PIPE,
        )
        wait_until((directory / "api.sock").exists, timeout=10, what="the speaker's API")

    def records(self) -> list[dict]:
        return records(self.directory / "received.jsonl")

    def await_record(self, predicate, what: str) -> dict:
        log = wait_until(self.records, lambda got: any(map(predicate, got)), timeout=10, what=what)
        return next(r for r in log if predicate(r))

    def ask(self, data: bytes) -> str:
        """Send `data` to the API as it is, close our side, read the one-line answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(self.directory / "api.sock"))
            try:
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # an oversize request: the speaker answered without reading it all
            with client.makefile("rb") as answer:
                return answer.readline().decode().strip()

    def assert_alive(self) -> None:
        assert self.process.poll() is None, self.process.stderr.read().decode()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self.process.stderr.close()


@pytest.fixture
def speaker(tmp_path, peer):  # the peer listens first: the speaker's first connection is made
    running = Speaker(tmp_path)
    yield running
    running.stop()


def down(record: dict) -> bool:
    return record.get("state") == "down"


def read_until(conn: socket.socket, ending: bytes) -> bytes:
    """What the peer side receives, until it ends with `ending`."""
    got = b""
    while not got.endswith(ending):
        chunk = conn.recv(1 << 16)
        assert chunk, f"connection closed after {got!r}"
        got += chunk
    return got


@pytest.fixture
def established(speaker, peer):
    """A session up between the speaker and the peer socket (OPEN, KEEPALIVE: RFC 4271 §8)."""
    conn, _ = peer.accept()
    conn.settimeout(10)
    read_until(conn, SPEAKER_OPEN)
    conn.sendall(PEER_OPEN + build_keepalive())
    speaker.await_record(lambda r: r.get("state") == "up", "the session to be Established")
    yield conn
    conn.close()


def test_a_short_notification_ends_the_session_and_the_speaker_reconnects(speaker, peer):
    first, _ = peer.accept()
    first.sendall(SHORT_NOTIFICATION)
    second, _ = peer.accept()  # the session thread survived and connected again
    end = speaker.await_record(down, "the speaker to record the session's end")
    assert (end["closed_by"], end["reason"]) == ("peer", "notification ? received")
    speaker.assert_alive()
    first.close()
    second.close()


def test_a_connection_the_peer_closes_before_its_open_is_recorded_as_a_refusal(speaker, peer):
    conn, _ = peer.accept()
    conn.settimeout(10)
    read_until(conn, SPEAKER_OPEN)
    conn.close()
    end = speaker.await_record(down, "the connection's end")
    assert end["closed_by"] == "peer"
    kinds = [(r["kind"], r.get("state") or r.get("message")) for r in speaker.records()]
    assert kinds[:3] == [("state", "connected"), ("sent", "open"), ("state", "down")]
    (first, *_) = attempts(speaker.records())
    assert refused(first)


def test_hold_timer_expiry_is_the_speakers_own_close(tmp_path, peer):
    """RFC 4271 §6.5: the speaker sends NOTIFICATION 4/0 and closes; `closed_by` "self"."""
    speaker = Speaker(tmp_path, hold_time=1)
    try:
        conn, _ = peer.accept()  # and says nothing
        conn.settimeout(10)
        read_until(conn, b"\x03\x04\x00")  # NOTIFICATION Hold Timer Expired
        end = speaker.await_record(down, "the hold timer to expire")
        assert (end["closed_by"], end["reason"]) == ("self", "hold timer expired")
        sent = [r for r in speaker.records() if r["kind"] == "sent"]
        assert [r["message"] for r in sent] == ["open", "notification"]
        assert sent[1]["hex"].endswith("030400")
        (first, *_) = attempts(speaker.records())
        assert not refused(first)
        conn.close()
    finally:
        speaker.stop()


def test_bytes_that_are_not_bgp_are_the_speakers_own_close(speaker, peer):
    """RFC 4271 §6.1: a header without the marker is Connection Not Synchronized (1/1)."""
    conn, _ = peer.accept()
    conn.settimeout(10)
    conn.sendall(bytes(19))
    read_until(conn, b"\x03\x01\x01")
    end = speaker.await_record(down, "the speaker to give up on the connection")
    assert (end["closed_by"], end["reason"]) == ("self", "bad BGP marker from peer")
    speaker.assert_alive()
    conn.close()


def test_shutdown_records_each_open_connection_as_closed_by_the_speaker(speaker, established):
    speaker.process.send_signal(signal.SIGTERM)
    assert speaker.process.wait(timeout=5) == 0
    last = speaker.records()[-1]
    assert (last["state"], last["closed_by"], last["reason"]) == (
        "down",
        "self",
        "shutdown (SIGTERM)",
    )


def valid(data: bytes = b"HELLO-PEER") -> bytes:
    return json.dumps({"peer": PEER, "send": data.hex()}).encode() + b"\n"


BAD_REQUESTS = {
    "not JSON": b"not json\n",
    "not UTF-8": b"\xff\xfe\n",
    "a list": b"[1, 2]\n",
    "a string": b'"peer"\n',
    "no peer": b'{"send": "00"}\n',
    "a peer that is a number": b'{"peer": 1, "send": "00"}\n',
    "a peer that is a list": b'{"peer": ["x"], "send": "00"}\n',
    "an unknown peer": b'{"peer": "192.0.2.1", "send": "00"}\n',
    "nothing to send": json.dumps({"peer": PEER}).encode() + b"\n",
    "send is a number": json.dumps({"peer": PEER, "send": 5}).encode() + b"\n",
    "send is not hex": json.dumps({"peer": PEER, "send": "zz"}).encode() + b"\n",
    "send is empty": json.dumps({"peer": PEER, "send": ""}).encode() + b"\n",
    "oversize is not true or false": json.dumps(
        {"peer": PEER, "send": "00", "oversize": "yes"}
    ).encode()
    + b"\n",
    # the session's maximum is 4096 octets (SPEAKER_OPEN carries no capability, RFC 8654 §4)
    "a message over the session's maximum": valid(b"\x02" * 4097),
    "send_file is a number": json.dumps({"peer": PEER, "send_file": 7}).encode() + b"\n",
    "send_file is missing": json.dumps({"peer": PEER, "send_file": "/nonexistent"}).encode()
    + b"\n",
    "nested too deep": b"[" * 100_000 + b"\n",
    "oversize": b'{"peer": "' + b"x" * (MAX_REQUEST + 4096) + b'"}\n',
    "cut short": b'{"peer": "127.0',
    "empty": b"",
}


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_is_answered_and_the_speaker_serves_on(speaker, established, request_bytes):
    reply = speaker.ask(request_bytes)
    assert reply.startswith("error: "), reply
    assert speaker.ask(valid()) == "done"
    read_until(established, b"HELLO-PEER")  # sent on the session kept all along
    assert not any(map(down, speaker.records()))
    speaker.assert_alive()


def test_a_client_gone_before_the_answer_or_silent_ends_nothing(speaker, established):
    api = str(speaker.directory / "api.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.connect(api)
        gone.sendall(valid(b"FIRST"))  # and leaves without reading the answer
    read_until(established, b"FIRST")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(api)  # says nothing, and keeps the connection open meanwhile
        started = time.monotonic()
        assert speaker.ask(valid(b"SECOND")) == "done"
        assert time.monotonic() - started < 2  # not queued behind the silent client
    read_until(established, b"SECOND")
    assert not any(map(down, speaker.records()))
    speaker.assert_alive()


def test_reconnect_cuts_the_connect_retry_timer_short(tmp_path, peer):
    """After a session ends, `reconnect` makes the next attempt now, not when the ConnectRetry
    timer (here 60 s) expires; on a session that is up it is refused."""
    speaker = Speaker(tmp_path, connect_retry=60)
    request = json.dumps({"peer": PEER, "reconnect": True}).encode() + b"\n"
    try:
        first, _ = peer.accept()
        first.settimeout(10)
        read_until(first, SPEAKER_OPEN)
        first.sendall(PEER_OPEN + build_keepalive())
        speaker.await_record(lambda r: r.get("state") == "up", "the session to be Established")
        assert speaker.ask(request).startswith("error: session to")
        first.sendall(SHORT_NOTIFICATION)
        speaker.await_record(down, "the session's end")
        started = time.monotonic()
        assert speaker.ask(request) == "done"
        second, _ = peer.accept()  # the peer socket gives up after 10 s, far before 60
        assert time.monotonic() - started < 5
        speaker.assert_alive()
        first.close()
        second.close()
    finally:
        speaker.stop()
