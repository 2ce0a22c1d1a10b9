"""A mail server for the tests (aiosmtpd from PyPI): accepts every message on 127.0.0.1 and
appends it, parsed, as a JSON line to the file given.

Usage: python smtp.py LOG_FILE   (listens on a free port; prints "ready PORT")
"""

import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": message["subject"],
            "message_id": message["message-id"],
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"


if __name__ == "__main__":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    controller = Controller(Keep(sys.argv[1]), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", port, flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
