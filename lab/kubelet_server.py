"""The slice of the kubelet API that kube-apiserver proxies `pods/log` to, for every lab node.

HTTPS on each node's InternalIP:<kubeletEndpoint port> (one process, one listening socket per
node, one acceptor thread), with the lab's kubelet-serving certificate; the client certificate
(the apiserver's --kubelet-client-certificate) must chain to the lab CA, as a kubelet's
--client-ca-file demands. Serves GET /containerLogs/{ns}/{pod}/{container} with tailLines,
limitBytes and follow; /healthz for readiness checks.
"""
from __future__ import annotations

import logging
import selectors
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from lab.wait import until

log = logging.getLogger("lab.kubelet_server")

# (namespace, pod, container) -> (log file, still running?) or None when the lab never ran it.
LogLookup = Callable[[str, str, str], "tuple[Path, Callable[[], bool]] | None"]

FOLLOW_POLL_S = 0.2
FOLLOW_MAX_S = 3600  # a follow stream ends with its process; this bounds it even if that never comes


def select_log(data: bytes, tail_lines: int | None, limit_bytes: int | None) -> bytes:
    """The kubelet's selection: the last `tail_lines` lines, then at most `limit_bytes` bytes of that."""
    if tail_lines is not None:
        if tail_lines <= 0:
            data = b""
        else:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail_lines:])
    if limit_bytes is not None and limit_bytes >= 0:
        data = data[:limit_bytes]
    return data


class _Handler(BaseHTTPRequestHandler):
    server_version = "lab-kubelet"
    protocol_version = "HTTP/1.0"  # one response per connection; a follow stream ends by closing

    def log_message(self, fmt, *args):  # keep the access log out of the agent's log
        log.debug("%s %s", self.client_address[0], fmt % args)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self._reply(200, b"ok")
        parts = [unquote(p) for p in url.path.split("/")]
        if len(parts) != 5 or parts[1] != "containerLogs":
            return self._reply(404, b"404 page not found\n")
        _, _, namespace, pod, container = parts
        query = parse_qs(url.query)

        def number(name):
            try:
                return int(query[name][0]) if name in query else None
            except ValueError:
                return None

        found = self.server.lookup(namespace, pod, container)
        if found is None:
            # The apiserver only asks for pods bound to this node; a twin pod the lab never ran
            # (seeded as Running) simply has no output.
            return self._reply(200, b"")
        path, running = found
        data = select_log(path.read_bytes() if path.exists() else b"", number("tailLines"), number("limitBytes"))
        if query.get("follow", ["false"])[0] != "true" or number("limitBytes") is not None:
            return self._reply(200, data)
        self._follow(path, data, running)

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _follow(self, path: Path, data: bytes, running: Callable[[], bool]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(data)
        offset = [path.stat().st_size if path.exists() else 0]

        def sent_to_the_end() -> bool:
            """Sends what the log gained; True once the process had exited before that read."""
            alive = running()
            with open(path, "rb") as f:
                f.seek(offset[0])
                chunk = f.read()
            if chunk:
                offset[0] += len(chunk)
                self.wfile.write(chunk)
                self.wfile.flush()
            return not alive

        try:
            until(sent_to_the_end, FOLLOW_MAX_S, "the container to exit", every=FOLLOW_POLL_S)
        except TimeoutError:
            pass  # followed for FOLLOW_MAX_S: the stream ends there


class _TlsServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, context: ssl.SSLContext, lookup: LogLookup):
        self.context = context
        self.lookup = lookup
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the address's FQDN: a reverse DNS lookup per node that can
        # hang on a machine without network. The name is only used in error pages.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        conn, addr = self.socket.accept()
        # The handshake happens in the connection's own thread, so a slow client never blocks
        # the acceptor that serves every node.
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        log.info("kubelet API connection from %s failed", client_address[0], exc_info=True)


class KubeletServer:
    """Listens on many node addresses; `sync` opens and closes sockets as nodes come and go."""

    def __init__(self, pki: Path, lookup: LogLookup):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_cert_chain(str(pki / "kubelet-serving.crt"), str(pki / "kubelet-serving.key"))
        self.lookup = lookup
        self.selector = selectors.DefaultSelector()
        self.servers: dict[tuple[str, int], _TlsServer] = {}
        self.errors: dict[str, str] = {}
        self.wanted: tuple[set, threading.Event] | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, name="kubelet-accept", daemon=True)
        self.thread.start()

    def sync(self, addresses: set[tuple[str, int]], timeout: float = 5) -> None:
        """Asks the acceptor thread (the selector's only user) to listen on exactly `addresses`."""
        done = threading.Event()
        with self.lock:
            self.wanted = (set(addresses), done)
        done.wait(timeout)

    def listening(self) -> list[str]:
        with self.lock:
            return sorted(f"{ip}:{port}" for ip, port in self.servers)

    def _apply(self, addresses: set[tuple[str, int]]) -> None:
        for address in set(self.servers) - addresses:
            server = self.servers.pop(address)
            self.selector.unregister(server.socket)
            server.server_close()
        for address in sorted(addresses - set(self.servers)):
            name = f"{address[0]}:{address[1]}"
            if not address[0].startswith("127."):
                self.errors[name] = "not a loopback address; not served"
                continue
            try:
                server = _TlsServer(address, self.context, self.lookup)
            except OSError as e:  # e.g. another lab on the same node IPs; retried next sync
                self.errors[name] = str(e)
                continue
            self.errors.pop(name, None)
            self.servers[address] = server
            self.selector.register(server.socket, selectors.EVENT_READ, server)
        for name in [n for n in self.errors if tuple(n.rsplit(":", 1)) not in
                     {(ip, str(port)) for ip, port in addresses}]:
            self.errors.pop(name)

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                wanted, self.wanted = self.wanted, None
                if wanted:
                    self._apply(wanted[0])
                    wanted[1].set()
                empty = not self.servers
            if empty:
                self.stopping.wait(0.1)
                continue
            for key, _ in self.selector.select(timeout=0.1):
                server: _TlsServer = key.data
                try:
                    server._handle_request_noblock()  # accept, then handle in a thread (ThreadingMixIn)
                except (OSError, ValueError):
                    pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        with self.lock:
            for server in self.servers.values():
                server.server_close()
            self.servers.clear()
