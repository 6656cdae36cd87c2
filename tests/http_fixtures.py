"""A real HTTP server on 127.0.0.1 for the download tests, with hostile behaviours on demand.

``server.behaviour[name]`` selects how ``name`` is served: an int is that HTTP status; the
strings are documented in :meth:`_Handler.do_GET`. Every slow or endless behaviour stops when
the client goes away or the server closes, so no thread outlives its test for long.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """Serves ``files`` (name -> bytes) under ``/flowers/``; see the module docstring."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.behaviour: dict[str, object] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/flowers/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_state: Server

    def log_message(self, *args):  # keep the test output clean
        pass

    def _head(self, length: int | None, extra_headers=()):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in extra_headers:
            self.send_header(key, value)
        self.end_headers()

    def _drip(self, data: bytes, every: float) -> None:
        """Send ``data`` one byte per ``every`` seconds until done, stopped or disconnected."""
        state = self.server_state
        for i in range(len(data)):
            if state.stopping.wait(every):
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()

    def do_GET(self):  # noqa: C901 -- one branch per behaviour keeps them side by side
        """Behaviours: "truncate" (Content-Length 1000 too large, then close), "stall" (10
        bytes, then silence), "endless" (zeros without Content-Length, for ever), "overlong"
        (the file plus 1 MiB, no Content-Length), "trickle" (one byte each 0.05 s), "reset"
        (half the file, then a TCP reset), "short" (half the file under the full
        Content-Length, then close), "wrong" (same size, other bytes), "gzip" (the bytes
        as they are, labelled Content-Encoding: gzip), "flaky" (503 once, then the file),
        "slow_headers" (the status line, then one header byte per 0.05 s), "lie_length"
        (Content-Length of a different size)."""
        state = self.server_state
        name = self.path.lstrip("/").split("/")[-1]
        state.requests.append(self.path)
        what = state.behaviour.get(name)
        body = state.files.get(name)
        if what == "flaky":
            state.behaviour[name] = None
            what = 503
        if isinstance(what, int):
            self.send_error(what)
            return
        if body is None:
            self.send_error(404)
            return
        try:
            self._serve(what, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _serve(self, what, body: bytes) -> None:
        state = self.server_state
        if what == "endless":
            self._head(None)
            block = b"\0" * 65536
            while not state.stopping.is_set():
                self.wfile.write(block)
            return
        if what == "overlong":
            self._head(None)
            self.wfile.write(body + b"\0" * (1 << 20))
            return
        if what == "lie_length":
            self._head(len(body) + 1)
            self.wfile.write(body + b"\0")
            return
        if what == "slow_headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            self._drip(b"X-Slow: " + b"z" * 10_000 + b"\r\n\r\n", 0.05)
            return
        if what == "trickle":
            self._head(len(body))
            self._drip(body, 0.05)
            return
        if what == "gzip":
            self._head(len(body), [("Content-Encoding", "gzip")])
            self.wfile.write(body)
            return
        if what == "wrong":
            self._head(len(body))
            self.wfile.write(bytes(b ^ 0xFF for b in body[:16]) + body[16:])
            return
        if what == "short":
            self._head(len(body))
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        if what == "reset":
            self._head(len(body))
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends a RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            return
        self._head(len(body) + (1000 if what == "truncate" else 0))
        if what == "stall":
            self.wfile.write(body[:10])
            self.wfile.flush()
            state.stopping.wait(3.0)
            return
        self.wfile.write(body)
        if what == "truncate":
            self.close_connection = True


def wait_for(predicate, timeout: float = 10.0, every: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed; return its last value."""
    end = time.monotonic() + timeout
    while not (ok := predicate()) and time.monotonic() < end:
        time.sleep(every)
    return ok
