"""The hub over HTTPS: members trust it with --ca; an untrusted certificate is one clear line."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shieldwall.procs import free_port, start_hub, stop
from tests.waiting import wait

from .conftest import cli, cli_json

pytestmark = pytest.mark.e2e


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shieldwall test hub")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "hub.pem", directory / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_hub_over_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    data = tmp_path / "hub"
    token = cli_json("hub", "init", "--data", str(data), "--template", "nato")["admin_token"]
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "hub.log"
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    proc = start_hub(data, port, log, extra=tls, wait=False)
    trusting = ssl.create_default_context(cafile=str(cert))

    def up() -> bool:
        assert proc.poll() is None, f"hub exited: {log.read_text(errors='replace')[-2000:]}"
        try:
            return httpx.get(url + "/healthz", timeout=1, verify=trusting).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait(up, 30, "the hub answering /healthz over HTTPS to a client trusting its CA")
        # A client without the CA is refused for exactly that reason, by a hub that is up.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url + "/healthz", timeout=5)
        assert proc.poll() is None and up(), "the refusal was the client's: the hub serves on"
        member_key = tmp_path / "alpha.key"
        cli("keygen", str(member_key))
        cli(
            "join",
            "--hub",
            url,
            "--ca",
            str(cert),
            "--name",
            "alpha",
            "--key",
            str(member_key),
            "--address",
            "192.0.2.10",
        )
        cli("members", "approve", "alpha", "--hub", url, "--ca", str(cert), "--admin-token", token)
        listed = cli_json("members", "list", "--hub", url, "--ca", str(cert), "--token", token)[
            "members"
        ]
        assert [(m["name"], m["status"]) for m in listed] == [("alpha", "active")]

        untrusted = cli("members", "list", "--hub", url, check=False)
        assert untrusted.returncode == 2
        lines = untrusted.stderr.strip().splitlines()
        assert len(lines) == 1 and "does not trust" in lines[0] and "--ca" in lines[0]
    finally:
        stop(proc)


def test_tls_flags_refused(tmp_path: Path) -> None:
    cases = [
        (["--tls-cert", str(tmp_path / "c.pem")], "both --tls-cert and --tls-key"),
        (
            ["--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")],
            "does not exist",
        ),
    ]
    for extra, words in cases:
        result = cli("hub", "serve", "--data", str(tmp_path), *extra, check=False)
        assert result.returncode == 2 and words in result.stderr
    result = cli(
        "members",
        "list",
        "--hub",
        "https://127.0.0.1:1",
        "--ca",
        str(tmp_path / "no.pem"),
        check=False,
    )
    assert result.returncode == 2 and "--ca" in result.stderr
