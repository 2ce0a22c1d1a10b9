"""The benchmark's Python Lambda (not part of Holdpoint): the cold-start work of Holdpoint's
read function written the usual Python way, for the cold-start comparison. At init it makes boto3
DynamoDB and Secrets Manager clients and fetches the signing secret; each invocation answers
GET /health, or GET /v1/approvals/{id} with one GetItem. It speaks the Lambda Runtime API itself
(what awslambdaric does), so the same stand-in runtime starts it as starts the Rust binaries."""

import json
import os
import urllib.request

import boto3

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
TABLE = os.environ["HOLDPOINT_APPROVALS_TABLE"]
TENANT = "acme"
dynamodb = boto3.client("dynamodb")
secrets = boto3.client("secretsmanager")
KEY = secrets.get_secret_value(SecretId=os.environ["HOLDPOINT_SIGNING_SECRET_ID"])["SecretString"]


def handler(event):
    if event.get("rawPath") == "/health":
        return {"statusCode": 200, "body": json.dumps({"status": "ok"})}
    id = event["pathParameters"]["id"]
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"A#{TENANT}#{id}"}}).get("Item")
    if item is None:
        return {"statusCode": 404, "body": json.dumps({"code": "not_found"})}
    # Nothing of the item's layout is assumed: Holdpoint's store decides it.
    return {"statusCode": 200, "body": json.dumps({"id": id, "attributes": len(item)})}


while True:
    with urllib.request.urlopen(f"{API}/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.load(r)
    answer = json.dumps(handler(event)).encode()
    urllib.request.urlopen(urllib.request.Request(f"{API}/{request_id}/response", data=answer, method="POST")).read()
