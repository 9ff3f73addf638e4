"""The HTTP layer of the loopback endpoint: Basic or NTLM authentication, WinRM message encryption, keep-alive.

Why: pypsrp talks to it over a real socket, as to a node. As on Windows, Basic takes local accounts only
(``user`` or ``.\\user``: a ``DOMAIN\\user`` is answered 401 whatever the password), unencrypted SOAP over HTTP
is refused (AllowUnencrypted=false), and NTLM authenticates the connection (keep-alive).
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spnego
from pypsrp.encryption import WinRMEncryption

from tests.support.loopback_recorder import Exchange
from tests.support.loopback_wire import DropConnectionError, HttpError, NeverAnswerError

if TYPE_CHECKING:
    from tests.support.loopback import Loopback
    from tests.support.loopback_wsman import WSManService

_NTLM_LOCK = threading.Lock()
_NTLM_FILE: Path | None = None


def register_ntlm_user(identity: str, password: str) -> None:
    """pyspnego's NTLM acceptor reads DOMAIN:USER:PASSWORD lines from the file NTLM_USER_FILE names."""
    global _NTLM_FILE
    domain, _, user = identity.rpartition("\\")
    with _NTLM_LOCK:
        if _NTLM_FILE is None:
            fd, name = tempfile.mkstemp(prefix="loopback-ntlm-", suffix=".txt")
            os.close(fd)
            _NTLM_FILE = Path(name)
        os.environ["NTLM_USER_FILE"] = str(_NTLM_FILE)
        lines = _NTLM_FILE.read_text().splitlines()
        entry = f"{domain}:{user}:{password}"
        if entry not in lines:
            with _NTLM_FILE.open("a") as fh:
                fh.write(entry + "\n")


# ------------------------------------------------------------------------------------------- HTTP


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    service: WSManService
    loopback: Loopback


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM authenticates the connection
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    server: Server
    _ctx: Any = None
    _enc: WinRMEncryption | None = None
    _ntlm_identity: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, record: Exchange, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        head = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        # Recorded before the client can read it: a test looks at the record as soon as its call returns.
        record.status = status
        record.wire_response = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        record.ended = time.monotonic()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, record: Exchange) -> None:
        record.dropped = True
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _authenticate(self, record: Exchange) -> str | None:
        """The identity of this request, or None after answering 401."""
        lb = self.server.loopback
        authz = self.headers.get("Authorization", "")
        if authz.startswith("Basic ") and "basic" in lb.auth:
            try:
                user, _, password = base64.b64decode(authz[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            expected = lb.users.get(user.lower())
            domain, sep, _ = user.partition("\\")
            local = (domain == ".") if sep else "@" not in user  # WinRM's Basic takes local accounts only
            if local and expected is not None and expected == password:
                return user
            self._send(record, 401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return None
        match = re.match(r"(Negotiate|NTLM)\s+(\S+)", authz, re.IGNORECASE)
        if match and "ntlm" in lb.auth:
            if self._ctx is None or self._ctx.complete:
                self._ctx = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm)
                self._enc = None
                self._ntlm_identity = None
            try:
                token = self._ctx.step(base64.b64decode(match.group(2)))
            except Exception:
                self._ctx = None
                self._send(record, 401, headers={"WWW-Authenticate": "Negotiate"})
                return None
            if not self._ctx.complete:
                out = base64.b64encode(token or b"").decode()
                self._send(record, 401, headers={"WWW-Authenticate": f"{match.group(1)} {out}"})
                return None
            self._enc = WinRMEncryption(self._ctx, WinRMEncryption.SPNEGO)
            self._ntlm_identity = str(self._ctx.client_principal)
            return self._ntlm_identity
        if self._ntlm_identity is not None and not authz:
            return self._ntlm_identity  # the connection is authenticated (NTLM)
        offers = {"WWW-Authenticate": "Negotiate" if "ntlm" in lb.auth else 'Basic realm="WSMAN"'}
        self._send(record, 401, headers=offers)
        return None

    def do_POST(self) -> None:
        lb = self.server.loopback
        record = Exchange(node=self.server.service.node, started=time.monotonic())
        lb.recorder.add(record)  # visible while in flight (a hung request too)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record.wire_request = (self.requestline + "\r\n" + str(self.headers)).encode() + b"\r\n" + raw
        try:
            if self.path != "/wsman":
                self._send(record, 404)
                return
            identity = self._authenticate(record)
            if identity is None:
                return
            ctype = self.headers.get("Content-Type", "")
            record.encrypted = ctype.startswith("multipart/encrypted")
            soap = raw
            if record.encrypted:
                boundary = re.search(r'boundary="([^"]+)"', ctype)
                if self._enc is None or boundary is None:
                    self._send(record, 400)
                    return
                soap = self._enc.unwrap_message(raw, boundary.group(1))
            elif soap and lb.require_encryption and not isinstance(self.connection, ssl.SSLSocket):
                self._send(record, 401, headers={"WWW-Authenticate": "Negotiate"})  # AllowUnencrypted=false
                return
            record.soap_request = soap
            if not soap:  # pypsrp's empty POST that sets up the security context
                self._send(record, 200)
                return
            status, answer = self.server.service.handle(soap, identity, record)
            record.soap_response = answer
            if record.encrypted and self._enc is not None:
                ctype_out, payload = self._enc.wrap_message(answer)
                protocol = WinRMEncryption.SPNEGO
                self._send(
                    record,
                    status,
                    payload,
                    {"Content-Type": f'{ctype_out};protocol="{protocol}";boundary="Encrypted Boundary"'},
                )
            else:
                self._send(record, status, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})
        except DropConnectionError:
            self._drop(record)
        except NeverAnswerError:
            lb.stopping.wait(lb.hang_seconds)
            self._drop(record)
        except HttpError as err:
            self._send(record, err.status, err.body, {"Content-Type": "text/plain"} if err.body else None)
        finally:
            record.ended = time.monotonic()
