"""A DynamoDB-protocol server for the tests: moto, applying one request at a time.

DynamoDB applies every conditional write and every transaction atomically. moto's own server
handles requests on many threads without isolating them, so two concurrent conditional writes
can both pass their condition (seen here: two winners of a 50-way race). Serialising requests
gives moto the isolation the real service has; connections stay concurrent.

Usage: python moto_server.py PORT   (listens on 127.0.0.1 only)
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def one_at_a_time(environ, start_response):
    with lock:
        return list(app(environ, start_response))


if __name__ == "__main__":
    run_simple(
        "127.0.0.1",
        int(sys.argv[1]),
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )
