"""Google's ID-token signer, in miniature: an RSA key, its certificate served as Google serves its
own (`{"<kid>": "<PEM certificate>"}` at /oauth2/v1/certs), and ID tokens signed with google-auth.

The tokens are shaped as Cloud Scheduler's OIDC tokens are: RS256 with a `kid`, claims
`iss`, `aud`, `email`, `email_verified`, `sub`, `iat`, `exp`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

GOOGLE_ISSUER = "https://accounts.google.com"


class GoogleKey:
    """An RSA key with a self-signed certificate, named by `kid`."""

    def __init__(self, kid: str):
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.system.gserviceaccount.com")])
        now = datetime.now(timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .sign(self._key, hashes.SHA256())
        )
        self.certificate_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        private_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._signer = crypt.RSASigner.from_string(private_pem, key_id=kid)

    def id_token(self, *, audience: str, email: str, lifetime: int = 3600, **claims) -> str:
        """A signed ID token; `claims` override or add (None removes one)."""
        now = int(time.time())
        payload = {
            "iss": GOOGLE_ISSUER, "aud": audience, "email": email, "email_verified": True,
            "sub": "104857600000000000001", "iat": now, "exp": now + lifetime,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(self._signer, payload).decode()


class FakeGoogleCerts:
    """Serves the certificates of `keys` on 127.0.0.1; `url` is the certs URL, `fetches` counts the GETs."""

    def __init__(self):
        self.key = GoogleKey("fake-google-key-1")
        self.keys = [self.key]
        self.fetches = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                fake.fetches += 1
                body = json.dumps({key.kid: key.certificate_pem for key in fake.keys}).encode()
                self.send_response(200 if self.path == "/oauth2/v1/certs" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/oauth2/v1/certs"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "FakeGoogleCerts":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class SilentServer:
    """Accepts connections and never answers: a certs endpoint that hangs."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/oauth2/v1/certs"

    def close(self) -> None:
        self._socket.close()
