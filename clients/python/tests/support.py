"""Test helpers: a proxy that loses answers."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


def read_message(conn: socket.socket) -> bytes:
    """One HTTP/1.1 message (headers and a Content-Length body); b"" at the end of the stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


class LossyProxy:
    """A loopback proxy in front of ``upstream``: forwards each request, waits for the server's
    whole answer, and for the first ``drop`` requests closes the connection instead of passing
    that answer on (the server did the work; the client never hears of it)."""

    def __init__(self, upstream: str, drop: int) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop = drop
        self.dropped: list[bytes] = []
        self.forwarded = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                request = read_message(conn)
                if not request:
                    return
                with socket.create_connection(self.upstream) as up:
                    up.sendall(request)
                    answer = read_message(up)
                with self._lock:
                    self.forwarded += 1
                    lose = self.drop > 0
                    if lose:
                        self.drop -= 1
                        self.dropped.append(answer)
                if lose:
                    return  # closes the client's connection: its answer is lost
                conn.sendall(answer)
