"""A webhook receiver for the tests that verifies every request with the Standard Webhooks
reference implementation (the `standardwebhooks` package from PyPI), as any receiver would.

Usage: python webhooks.py   (listens on 127.0.0.1, a free port; prints "ready PORT")

- POST /_secrets with {"<name>": "whsec_…"}: the secret a path's first segment is verified with.
- POST /<name>[/<mode>]: verified with <name>'s secret; a request that does not verify is
  answered 401. Modes: none (200), `flaky3` (503 for the first 3 attempts of each webhook-id,
  with Retry-After: 0, then 200), `fail` (always 500), `gone` (always 410).
- GET /_log: every request so far as JSON: path, webhook-id, verified, answer, body.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
secrets = {}
log = []
attempts = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_log":
            with lock:
                body = json.dumps(log).encode()
            self.answer(200, body, [("Content-Type", "application/json")])
        else:
            self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_secrets":
            with lock:
                secrets.update(json.loads(body))
            return self.answer(204)
        parts = self.path.strip("/").split("/")
        name, mode = parts[0], (parts[1] if len(parts) > 1 else "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id", "")
        with lock:
            secret = secrets.get(name)
        verified = False
        if secret is not None:
            try:
                Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        if not verified:
            status = 401
        else:
            with lock:
                attempts[msg_id] = attempts.get(msg_id, 0) + 1
                n = attempts[msg_id]
            if mode == "flaky3":
                status = 503 if n <= 3 else 200
            elif mode == "fail":
                status = 500
            elif mode == "gone":
                status = 410
            else:
                status = 200
        with lock:
            log.append({
                "path": self.path,
                "id": msg_id,
                "verified": verified,
                "status": status,
                "body": json.loads(body) if body else None,
            })
        extra = [("Retry-After", "0")] if status == 503 else []
        self.answer(status, b"", extra)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("ready", server.server_address[1], flush=True)
    server.serve_forever()
