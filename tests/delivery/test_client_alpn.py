"""The delivery client offers HTTP/2 by ALPN to an HTTPS endpoint (a real TLS handshake)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kameleoon_relay.delivery.client import http_session


def tls_server(directory: Path) -> tuple[ssl.SSLContext, socket.socket]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    context.set_alpn_protocols(["h2", "http/1.1"])
    listener = socket.create_server(("127.0.0.1", 0))
    return context, listener


def test_h2_is_offered_by_alpn(tmp_path: Path) -> None:
    context, listener = tls_server(tmp_path)
    chosen: list[str | None] = []

    def accept() -> None:
        connection, _ = listener.accept()
        tls = context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        # Our certificate is not trusted by the client, so the handshake ends in an alert;
        # the protocol was chosen from the client's offer before that.
        with contextlib.suppress(ssl.SSLError, OSError):
            tls.do_handshake()
        chosen.append(tls.selected_alpn_protocol())
        tls.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    async def request() -> None:
        client = http_session(timeout=3)
        port = listener.getsockname()[1]
        with contextlib.suppress(Exception):  # the untrusted certificate: refused
            await client.get(f"https://localhost:{port}/segmentio").build().send()
        await client.close()

    asyncio.run(request())
    thread.join(5)
    listener.close()
    assert chosen == ["h2"]
