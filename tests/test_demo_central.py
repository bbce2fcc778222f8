"""`restai-edge demo` runs a reference central beside the device, so the demo shows the catalog
pulled from it, heartbeats and uploads; stopping the demo stops its central."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx

from provisioning.server_process import ServerProcess


def test_the_demo_pulls_its_menu_from_its_own_central(tmp_path: Path) -> None:
    demo = ServerProcess(
        [sys.executable, "-m", "provisioning", "demo", "--host", "127.0.0.1"],
        log_path=tmp_path / "demo.log",
    ).start(40)
    try:
        deadline = time.monotonic() + 20
        while True:
            catalog = httpx.get(demo.url + "/healthz").json()["data"]["catalog"]
            if catalog["source"] == "central" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert catalog["source"] == "central", catalog
        output = demo.log()
        central = re.search(r"central \(reference, catalog every 5 s\): (http://\S+)", output)
        token = re.search(r"Authorization: Bearer (\S+)'", output)
        assert central and token, output
        admin = {"Authorization": f"Bearer {token.group(1)}"}
        served = httpx.get(central.group(1) + "/_catalog", headers=admin)
        assert served.json()["version"] == catalog["version"]
        deadline = time.monotonic() + 20
        while not httpx.get(central.group(1) + "/_devices", headers=admin).json()["count"]:
            assert time.monotonic() < deadline, "no heartbeat reached the demo's central"
            time.sleep(0.2)
    finally:
        demo.stop()
    assert "Traceback" not in demo.log(), demo.log()
    try:
        httpx.get(central.group(1) + "/healthz", timeout=2)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the demo's central outlived the demo")
