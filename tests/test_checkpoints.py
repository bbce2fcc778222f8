"""The WAL is folded into the store beside the writer, not inside a diner's COMMIT.

SQLite checkpoints in the COMMIT that takes the WAL past its threshold, so that commit and every
diner queued behind the single writer waited for the store's pages to be written and synced.
Under `strace`, a process writes a few hundred rows one by one, as waiters approving diners do,
with more than enough pages for several checkpoints: the writes into the store file itself must
come from the store's checkpointer thread, nearly all of them (none on a machine with time to
spare), not from the writer's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from edge.store import WAL_AUTOCHECKPOINT_PAGES
from tests.conftest import needs_strace

WRITES = 400
ROW_BYTES = 3000


pytestmark = needs_strace

WRITER = """
import asyncio, json, sys, threading
from pathlib import Path
from edge.store import Store

async def main(path, writes, row_bytes):
    async with Store(Path(path), create=True) as store:
        await store.transact(lambda tx: tx.execute("CREATE TABLE notes (text TEXT)"))
        for n in range(writes):
            text = str(n) * (row_bytes // len(str(n)))
            await store.transact(lambda tx: tx.execute("INSERT INTO notes VALUES (?)", (text,)))
            # A waiter's next tap is milliseconds away, never back to back.
            await asyncio.sleep(0.01)
        print(json.dumps({t.native_id: t.name for t in threading.enumerate()}), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def test_commits_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    store = tmp_path / "edge.db"
    trace = tmp_path / "strace.log"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-y", "-e", "trace=pwrite64,write", "-o", str(trace)]
        + [sys.executable, "-c", WRITER, str(store), str(WRITES), str(ROW_BYTES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    threads = {int(tid): name for tid, name in json.loads(done.stdout).items()}
    wal_frames: Counter[str] = Counter()
    store_pages: Counter[str] = Counter()
    for line in trace.read_text(errors="replace").splitlines():
        tid, call = line.split(maxsplit=1)
        if call.startswith("write(1<"):
            break  # the thread list, printed before closing: the last connection out folds the WAL
        name = threads.get(int(tid), "other").rsplit("_", 1)[0]
        if re.match(rf"p?write(64)?\(\d+<{re.escape(str(store))}-wal>", call):
            wal_frames[name] += 1
        elif re.match(rf"p?write(64)?\(\d+<{re.escape(str(store))}>", call):
            store_pages[name] += 1
    # Enough WAL for several of SQLite's own checkpoints, had the writer been left to make them.
    assert wal_frames["store-writer"] > 3 * WAL_AUTOCHECKPOINT_PAGES, wal_frames
    assert store_pages["store-checkpoint"] > 0, store_pages
    # On a machine loaded well past its cores the checkpointer can fall behind now and then, and
    # the writer's own checkpoint at 256 pages still bounds the WAL; on a free one it never runs.
    assert store_pages["store-writer"] * 4 < store_pages["store-checkpoint"], store_pages
