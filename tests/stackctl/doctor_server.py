"""A local HTTPS server on 127.0.0.1 that answers doctor's requests with recorded responses.

Azure Resource Manager, GitHub and Azure DevOps are all reached through it, by the real clients
(azure-mgmt-resource's pipeline, azure-storage-blob, requests): the only stand-in is the network.
Its certificate is self-signed for 127.0.0.1 and trusted through REQUESTS_CA_BUNDLE, which requests
(and so azure-core's transport) honour. Routes match on the path, ignoring the query string; every
request is recorded as (method, path, query).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Recorded:
    """status, a JSON body (None: empty) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class RecordingServer:
    def __init__(self, cert_file: Path, key_file: Path):
        self.routes: dict[str, Recorded] = {}
        self.requests: list[tuple[str, str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                parts = urlsplit(self.path)
                server.requests.append(("HEAD" if head else "GET", parts.path, parts.query))
                answer = server.route(parts.path.rstrip("/"), parts.query)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for header, value in answer.headers.items():
                    self.send_header(header, value)
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        # shutdown() waits for the serving loop to look at its flag, every poll_interval (0.5 s by
        # default): half a second of every test's teardown, for 137 tests.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def route(self, path: str, query: str) -> Recorded:
        """The recorded answer: a route `path?k=v&...` whose parameters the request carries wins over
        the bare `path` (one endpoint answering per resource, e.g. checks per resourceId)."""
        asked = set(parse_qsl(query))
        for key, answer in self.routes.items():
            route_path, _, route_query = key.partition("?")
            if route_query and route_path == path and set(parse_qsl(route_query)) <= asked:
                return answer
        return self.routes.get(path, Recorded(404, {"error": {"code": "NotFound"}}))

    def add(
        self, path: str, body: Any = None, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.routes[path.rstrip("/")] = Recorded(status, body, headers or {})

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(directory: Path) -> Iterator[RecordingServer]:
    cert_file, key_file = self_signed(directory)
    with RecordingServer(cert_file, key_file) as server:
        yield server
