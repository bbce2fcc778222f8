"""An answered write survives a power cut: the commit's fsync reaches the disk before the answer
leaves, and a server cut off the instant it answers has the row in its store.

A killed process keeps what it wrote in the kernel's page cache, so killing alone cannot show
that a write would survive the power going; the order of the server's own system calls can. The
server runs under `strace`, which records every fsync/fdatasync and every write to a socket; each
201 must be preceded, since the answer before it, by a sync of the store's write-ahead log.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import EdgeServer, needs_strace, provision_device

SYSCALLS = "fdatasync,fsync,write,writev,sendto,sendmsg"
ANSWERS = 6


pytestmark = needs_strace


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _events(trace: Path) -> list[str]:
    """The trace reduced to 'sync' (a finished sync of the WAL) and 'answer <status>' (a socket
    write starting an HTTP response), in the order they completed."""
    events, syncing = [], set()
    for line in trace.read_text(errors="replace").splitlines():
        # strace pads the pid column: "123  fdatasync(...)" as well as "12345 fdatasync(...)".
        pid, call = line.split(maxsplit=1)
        if re.match(r"f(data)?sync\(\d+<[^>]*-wal>\)", call):
            if "<unfinished" in call:
                syncing.add(pid)
            else:
                events.append("sync")
        elif re.match(r"<\.\.\. f(data)?sync resumed>", call) and pid in syncing:
            syncing.discard(pid)
            events.append("sync")
        elif answer := re.search(r'"HTTP/1\.1 (\d{3})', call):
            events.append(f"answer {answer.group(1)}")
    return events


def test_every_answer_follows_its_fsync_and_survives_a_cut(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir)
    trace = tmp_path / "strace.log"
    edge = EdgeServer(data_dir, {})
    edge.argv = ["strace", "-f", "-qq", "-y", "-s", "16", "-e", f"trace={SYSCALLS}", "-o",
                 str(trace), *edge.argv]  # fmt: skip
    edge.start(timeout=60)
    server_pid = _children(edge.pid)[0]
    answered = []
    try:
        with httpx.Client(timeout=10) as client:
            for number in range(1, ANSWERS + 1):
                code = f"downtown-lima-{number}"
                answer = client.post(edge.customer_url(code, "session"), json={"customerName": "C"})
                assert answer.status_code == 201, answer.text
                answered.append(answer.json()["data"]["sessionId"])
        # The cut: nothing the server would do after its last answer gets to run.
        os.kill(server_pid, signal.SIGKILL)
    finally:
        edge.stop()

    events = _events(trace)
    created = [i for i, event in enumerate(events) if event == "answer 201"]
    assert len(created) == ANSWERS, events
    for index in created:
        before = events[:index]
        previous_answer = max(i for i, e in enumerate(before) if e.startswith("answer"))
        assert "sync" in before[previous_answer:], f"a 201 left before its fsync: {events}"

    deadline = time.monotonic() + 10
    while Path(f"/proc/{server_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with sqlite3.connect(data_dir / "edge.db") as store:
        stored = {row[0] for row in store.execute("SELECT id FROM sessions")}
    assert set(answered) <= stored
