"""A stop signal that arrives while a server is still starting stops it, cleanly.

`systemctl restart` just after a start, or a test stopping a server it has just seen answer,
can send SIGTERM while Sanic runs the after_server_start listeners. Sanic's own handling either
broke start-up with a traceback and a process that then lived on (the store's thread kept it
up, deaf to further signals), or lost the signal. Here a start-up listener of the test's sends
the signal itself and is still running when it arrives: the race, made certain.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from provisioning.server_process import free_port
from tests.conftest import provision_device

SIGNAL_MID_START = """
import asyncio, os, signal

def signal_mid_start(app):
    @app.after_server_start
    async def terminate_while_starting(app):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.3)
"""

DEVICE = """
from pathlib import Path
from edge.app import create_app
from edge.logs import configure_logging
from edge.settings import Settings
from provisioning.listener import listen

configure_logging("INFO")
settings = Settings.resolve(environ={{"RESTAI_EDGE_DATA_DIR": {data_dir!r}}})
app = create_app(settings)
signal_mid_start(app)
with listen("127.0.0.1", {port}) as sock:
    app.run(sock=sock, single_process=True, motd=False)
"""

CENTRAL = """
from pathlib import Path
from sync.central.app import create_central_app

app = create_central_app(Path({db!r}), "device-token-of-the-test", "admin-token-of-the-test")
signal_mid_start(app)
app.run(host="127.0.0.1", port={port}, single_process=True, motd=False)
"""


def run_until_stopped(script: str) -> str:
    """Run `script` in a fresh interpreter; it must end by itself, with status 0. Its output."""
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SIGNAL_MID_START) + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout + process.stderr


def test_the_device_stops_when_told_to_while_starting(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=2)
    output = run_until_stopped(DEVICE.format(data_dir=str(data_dir), port=free_port()))
    assert "Traceback" not in output
    # The stop listeners ran: the store was closed, not abandoned.
    assert "RestAI Edge stopped" in output


def test_the_central_stops_when_told_to_while_starting(tmp_path: Path) -> None:
    output = run_until_stopped(CENTRAL.format(db=str(tmp_path / "c.db"), port=free_port()))
    assert "Traceback" not in output
