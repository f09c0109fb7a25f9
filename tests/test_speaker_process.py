"""The speaker's session-keeping process against a peer that misbehaves (RFC 4271 §4.5: a
NOTIFICATION is at least 21 octets): the session ends, is recorded, and is tried again; the
process and its other sessions live on. The peer is a listening socket on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from conftest import needs_root

from harness.observe.wait import wait_until

pytestmark = needs_root
PEER = "127.0.0.79"  # loopback: no traffic leaves the host
SHORT_NOTIFICATION = b"\xff" * 16 + (19).to_bytes(2, "big") + b"\x03"  # no error code at all


@pytest.fixture
def peer():
    server = socket.create_server((PEER, 179))
    server.settimeout(10)
    yield server
    server.close()


def records(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_short_notification_ends_the_session_and_the_speaker_reconnects(tmp_path, peer):
    config = {
        "hold_time": 9,
        "connect_retry": 0.2,
        "sessions": [{"peer": PEER, "local": "127.0.0.1", "open": "00"}],
    }
    (tmp_path / "speaker.json").write_text(json.dumps(config))
    speaker = subprocess.Popen(
        [sys.executable, "-m", "harness.daemons.speaker_process", str(tmp_path)],
        stderr=subprocess.PIPE,
    )
    try:
        first, _ = peer.accept()
        first.sendall(SHORT_NOTIFICATION)
        second, _ = peer.accept()  # the session thread survived and connected again
        log = wait_until(
            lambda: records(tmp_path / "received.jsonl"),
            lambda got: any(r.get("state") == "down" for r in got),
            timeout=5,
            what="the speaker to record the session's end",
        )
        down = next(r for r in log if r.get("state") == "down")
        assert down["reason"] == "notification ? received"
        assert speaker.poll() is None, speaker.stderr.read().decode()
        first.close()
        second.close()
    finally:
        speaker.kill()
        speaker.wait(timeout=5)
        speaker.stderr.close()
