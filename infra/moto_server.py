"""A DynamoDB-protocol server for the tests: moto, applying one request at a time.

DynamoDB applies every conditional write and every transaction atomically. moto's own server
handles requests on many threads without isolating them, so two concurrent conditional writes
can both pass their condition (seen here: two winners of a 50-way race). Serialising requests
gives moto the isolation the real service has; connections stay concurrent.

moto also backs up every table a TransactWriteItems touches with copy.deepcopy before applying
it, so one transaction costs time in proportion to the whole table (about 0.5 s at 2,000
approvals, seen here). Below, a transaction remembers instead the items it is about to write
(by key) and puts them back if it is cancelled: all a rollback of Puts, Deletes and
ConditionChecks needs, since those replace items and never change one in place (a transaction
with an Update keeps moto's own backup). Requests are serialised, so nothing else sees a table
while a transaction runs.

Usage: python moto_server.py PORT   (listens on 127.0.0.1 only)
"""

import copy
import sys
import threading

import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

class NoTableCopy:
    """Stands in for the `copy` module inside transact_write_items: tables are not copied."""

    @staticmethod
    def deepcopy(value):
        return value if isinstance(value, Table) else copy.deepcopy(value)


def key_of(table, op):
    """The (hash, range) key an operation of a transaction writes, as moto stores it."""
    attrs = op.get("Key") or op.get("Item") or {}
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_attr = table.range_key_attr
    return hash_key, DynamoType(attrs[range_attr]) if range_attr else None


def put_back(table, hash_key, range_key, item):
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


moto_transact_write_items = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    if any("Update" in item for item in transact_items):
        return moto_transact_write_items(self, transact_items)
    before = []
    try:
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.tables[op["TableName"]]
            hash_key, range_key = key_of(table, op)
            before.append((table, hash_key, range_key, table.get_item(hash_key, range_key)))
    except Exception:
        # Malformed: let moto answer it as it would.
        return moto_transact_write_items(self, transact_items)
    dynamodb_models.copy = NoTableCopy
    try:
        return moto_transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in reversed(before):
            put_back(table, hash_key, range_key, item)
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = transact_write_items

# moto lists its own package directory on every request to find the backend (a tenth of its
# time per request, seen here); the list does not change while it runs.
moto_modules = list(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: moto_modules

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def ses_sent(start_response):
    """The mail SES (v1 or v2) accepted so far in us-east-1, as JSON: what the notify function's
    tests read to see that a reviewer was mailed (moto keeps it in memory only)."""
    import json

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    sent = [
        {
            "source": getattr(m, "source", None),
            "destinations": getattr(m, "destinations", None),
            "subject": getattr(m, "subject", None),
            "body": getattr(m, "body", None),
        }
        for m in backend.sent_messages
    ]
    body = json.dumps(sent, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def one_at_a_time(environ, start_response):
    with lock:
        if environ.get("PATH_INFO") == "/holdpoint-test/ses-sent":
            return ses_sent(start_response)
        return list(app(environ, start_response))


if __name__ == "__main__":
    run_simple(
        "127.0.0.1",
        int(sys.argv[1]),
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )
