"""Latency, a bandwidth limit and connection resets between the suite and the API server, through
Toxiproxy (built from the Go module proxy into .lab/bin/toxiproxy-server by lab/build.sh).

The proxy is plain TCP on loopback: TLS and the client certificate pass through untouched, and the
apiserver's serving certificate has the SAN 127.0.0.1, so the suite only needs a kubeconfig whose
server is the proxy's listener. The server is our own child process, stopped by its Popen.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlparse

from lab import control_plane as cp
from lab.paths import BIN_DIR
from lab.wait import polling

from .fault import Fault, LabContext, periodic

BINARY = BIN_DIR / "toxiproxy-server"
PROXY = "apiserver"
LATENCY_MS, JITTER_MS = 250, 50
BANDWIDTH_KBPS = 64
RESET_FIRST, RESET_EVERY, RESET_FOR = 1.5, 2.0, 0.3   # seconds: a burst of resets every 2 s


class Toxiproxy:
    """One toxiproxy-server with one proxy in front of the apiserver."""

    def __init__(self, lab: LabContext):
        self.lab = lab
        self.control = f"http://127.0.0.1:{cp.free_port()}"
        self.listen = f"127.0.0.1:{cp.free_port()}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Toxiproxy":
        if not BINARY.exists():
            raise FileNotFoundError(f"{BINARY} is missing: run `make lab-build` (lab/build.sh builds it)")
        port = urlparse(self.control).port
        log = open(self.lab.workdir / "toxiproxy.log", "ab")
        self.proc = subprocess.Popen([str(BINARY), "-host", "127.0.0.1", "-port", str(port)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for attempt in polling(10, every=0.1):
            with attempt:
                self.call("GET", "/version")
        upstream = urlparse(self.lab.api_url)
        self.call("POST", "/proxies", {"name": PROXY, "listen": self.listen, "enabled": True,
                                       "upstream": f"{upstream.hostname}:{upstream.port}"})
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def server(self) -> str:
        return f"https://{self.listen}"

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read()
        return json.loads(text) if text else None

    def add(self, name: str, kind: str, stream: str = "downstream", **attributes) -> None:
        self.call("POST", f"/proxies/{PROXY}/toxics",
                  {"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes})

    def remove(self, name: str) -> None:
        self.call("DELETE", f"/proxies/{PROXY}/toxics/{name}")


class _ThroughToxiproxy(Fault):
    def __init__(self):
        self.proxy: Toxiproxy | None = None

    @contextmanager
    def installed(self, lab: LabContext):
        with Toxiproxy(lab) as self.proxy:
            self.install(self.proxy)
            yield

    def install(self, proxy: Toxiproxy) -> None:
        pass

    def server(self) -> str:
        return self.proxy.server


class Latency(_ThroughToxiproxy):
    kind = "Toxiproxy latency"
    setting = f"+{LATENCY_MS} ms ± {JITTER_MS} ms each way"

    def install(self, proxy: Toxiproxy) -> None:
        for stream in ("upstream", "downstream"):
            proxy.add(f"latency-{stream}", "latency", stream, latency=LATENCY_MS, jitter=JITTER_MS)

    def observed(self) -> str:
        return f"{2 * LATENCY_MS} ms added per round trip"


class Bandwidth(_ThroughToxiproxy):
    kind = "Toxiproxy bandwidth"
    setting = f"{BANDWIDTH_KBPS} KB/s per connection, both ways"

    def install(self, proxy: Toxiproxy) -> None:
        for stream in ("upstream", "downstream"):
            proxy.add(f"bandwidth-{stream}", "bandwidth", stream, rate=BANDWIDTH_KBPS)

    def observed(self) -> str:
        return f"{BANDWIDTH_KBPS} KB/s"


class Resets(_ThroughToxiproxy):
    kind = "Toxiproxy connection resets"
    setting = f"reset_peer on every connection for {RESET_FOR:g} s every {RESET_EVERY:g} s"

    def __init__(self):
        super().__init__()
        self.bursts = 0

    def alongside(self, stop: threading.Event) -> None:
        self.bursts += periodic(stop, RESET_FIRST, RESET_EVERY, self._burst)

    def _burst(self) -> None:
        # reset_peer with timeout 0 closes every open connection with RST, and every new one at once.
        self.proxy.add("reset", "reset_peer", timeout=0)
        try:
            threading.Event().wait(RESET_FOR)
        finally:
            self.proxy.remove("reset")

    def observed(self) -> str:
        return f"{self.bursts} reset bursts"
