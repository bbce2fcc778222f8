"""The staff tablets' HTTPS listener: a self-signed certificate made at provisioning (its
fingerprint printed), or the installer's own; the same device behind both doors, with rate
limits and the login lockout still counting the real client address."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
import socketio

from provisioning.server_process import free_port
from tests.conftest import MANAGER_PIN, EdgeServer, auth, provision_device
from tests.test_provision_cli import error_line, invoke, restai

SLUG = "downtown-lima"


def https(cert: Path) -> ssl.SSLContext:
    """A client that trusts exactly this certificate, as a tablet does once it is trusted."""
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture(scope="module")
def tls_device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    data_dir = tmp_path_factory.mktemp("tls") / "data"
    provision_device(data_dir, tables=10)
    done = invoke(data_dir, "provision", "--branch-slug", SLUG, "--tls")
    assert done.exit_code == 0, done.output
    edge = EdgeServer(data_dir, {"RESTAI_EDGE_TLS_PORT": str(free_port())})
    edge.provision_output = done.stdout  # type: ignore[attr-defined]
    edge.start()
    yield edge
    edge.stop()
    edge.assert_clean_log()


def tls_url(edge: EdgeServer) -> str:
    return f"https://127.0.0.1:{edge.env['RESTAI_EDGE_TLS_PORT']}"


def test_provisioning_makes_a_certificate_and_prints_its_fingerprint(tls_device) -> None:
    cert = tls_device.data_dir / "tls.crt"
    key = tls_device.data_dir / "tls.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    shown = "SHA256:" + ":".join(re.findall("..", digest))
    assert shown in tls_device.provision_output
    # Provisioning again keeps it: the tablets trust this one certificate.
    again = invoke(tls_device.data_dir, "provision", "--branch-slug", SLUG, "--tls")
    assert again.exit_code == 0 and shown in again.stdout
    assert ssl.PEM_cert_to_DER_cert(cert.read_text()) == der


def test_staff_log_in_over_https_and_diners_stay_on_http(tls_device) -> None:
    cert = tls_device.data_dir / "tls.crt"
    with httpx.Client(verify=https(cert)) as client:
        page = client.get(f"{tls_url(tls_device)}/staff")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        login = client.post(
            f"{tls_url(tls_device)}/api/auth/staff/login", json={"pin": MANAGER_PIN}
        )
        assert login.status_code == 200, login.text
        token = login.json()["data"]["token"]
        assert (
            client.get(f"{tls_url(tls_device)}/api/tables", headers=auth(token)).status_code == 200
        )
    # The same device, the same token, on the diners' plain HTTP door.
    assert httpx.get(f"{tls_device.url}/api/tables", headers=auth(token)).status_code == 200
    # Nothing but TLS on the HTTPS port.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{tls_device.env['RESTAI_EDGE_TLS_PORT']}/healthz", timeout=3)


@pytest.mark.asyncio
async def test_staff_sockets_work_over_tls(tls_device) -> None:
    token = tls_device.staff_token()
    context = https(tls_device.data_dir / "tls.crt")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    client = socketio.AsyncClient(reconnection=False, http_session=session)
    heard: asyncio.Queue = asyncio.Queue()
    client.on("session:pending", heard.put_nowait)
    try:
        await client.connect(
            tls_url(tls_device), auth={"token": token}, transports=["websocket"], wait_timeout=5
        )
        async with httpx.AsyncClient() as http:
            created = await http.post(
                tls_device.customer_url(f"{SLUG}-3", "session"), json={"customerName": "Ana"}
            )
        assert created.status_code == 201
        pending = await asyncio.wait_for(heard.get(), 5)
        assert pending["customerName"] == "Ana"
    finally:
        await client.disconnect()
        await session.close()


def test_the_lockout_counts_the_real_address_across_both_doors(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    edge = make_server(RESTAI_EDGE_TLS_PORT=str(free_port()))
    assert invoke(edge.data_dir, "provision", "--branch-slug", SLUG, "--tls").exit_code == 0
    edge.stop()
    edge.start()
    context = https(edge.data_dir / "tls.crt")
    login = f"{tls_url(edge)}/api/auth/staff/login"
    with httpx.Client(verify=context) as client:
        for _ in range(5):
            wrong = client.post(
                login, json={"pin": "000001"}, headers={"X-Forwarded-For": "10.0.0.9"}
            )
            assert wrong.status_code == 401
        assert client.post(login, json={"pin": MANAGER_PIN}).status_code == 429
    # Locked on the plain door too: one address, one count.
    plain = httpx.post(f"{edge.url}/api/auth/staff/login", json={"pin": MANAGER_PIN})
    assert plain.status_code == 429


def test_serve_with_certificate_files_of_ones_own(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=2)
    elsewhere = tmp_path / "certs"
    elsewhere.mkdir()
    assert (
        invoke(
            elsewhere,
            "provision",
            "--branch-slug",
            SLUG,
            "--branch-name",
            "X",
            "--tables",
            "1",
            "--tls",
        ).exit_code
        == 0
    )
    cert, key = elsewhere / "own.pem", elsewhere / "own.key"
    shutil.copy(elsewhere / "tls.crt", cert)
    shutil.copy(elsewhere / "tls.key", key)
    port = free_port()
    edge = EdgeServer(data_dir, {})
    edge.argv = [
        *edge.argv,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--tls-port",
        str(port),
    ]
    edge.start()
    try:
        with httpx.Client(verify=https(cert)) as client:
            assert client.get(f"https://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        edge.stop()
    edge.assert_clean_log()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent/cert.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "{dir}/edge.db", "--tls-key", "{dir}/pin.key"], "cannot serve TLS with"),
        (["--tls-cert", "{dir}/nope.pem", "--tls-key", "{dir}/nope.key"], "does not exist"),
    ],
)
def test_bad_certificate_files_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    data_dir = tmp_path / "data"
    provision_device(data_dir, tables=1)
    argv = [arg.format(dir=data_dir) for arg in args]
    done = restai(data_dir, "serve", "--port", str(free_port()), *argv)
    assert done.returncode == 1
    assert message in error_line(done.stderr)
