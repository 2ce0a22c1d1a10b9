"""Approval ids are UUIDs, checked before any request: no id reaches another path."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from holdpoint import AsyncClient, Client, HoldpointError

BAD = ["../../v1/policy", "..", "", "a/b", "%2e%2e", "00000000-0000-0000-0000-000000000000/x"]


def calls(client: Client, approval_id: Any) -> list[Any]:
    return [
        lambda: client.get(approval_id),
        lambda: client.wait(approval_id, 0),
        lambda: client.execute_with_hash(approval_id, "0" * 64),
        lambda: client.cancel(approval_id),
        lambda: client.decide(approval_id, "approved"),
    ]


def recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"title": "not found"})

    return seen, httpx.MockTransport(answer)


@pytest.mark.parametrize("approval_id", BAD)
def test_an_id_that_is_not_a_uuid_is_refused_before_any_request(approval_id: str) -> None:
    seen, transport = recording()
    with Client("http://127.0.0.1:1", api_key="k", transport=transport) as client:
        for call in calls(client, approval_id):
            with pytest.raises(ValueError, match="UUID"):
                call()
    assert seen == []


@pytest.mark.parametrize("approval_id", [None, 7, b"../../v1/policy"])
def test_an_id_that_is_not_a_string_is_a_type_error(approval_id: object) -> None:
    seen, transport = recording()
    with Client("http://127.0.0.1:1", api_key="k", transport=transport) as client:
        for call in calls(client, approval_id):
            with pytest.raises(TypeError):
                call()
    assert seen == []


async def test_the_async_client_checks_them_too() -> None:
    seen: list[httpx.Request] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"title": "not found"})

    transport = httpx.MockTransport(answer)
    async with AsyncClient("http://127.0.0.1:1", api_key="k", transport=transport) as client:
        with pytest.raises(ValueError):
            await client.get("../../v1/policy")
        with pytest.raises(ValueError):
            await client.decide("../policy", "approved")
    assert seen == []


def test_a_uuid_goes_in_the_path_as_a_uuid() -> None:
    seen, transport = recording()
    approval_id = uuid.uuid4()
    with Client("http://127.0.0.1:1", api_key="k", transport=transport) as client:
        for given in (approval_id, str(approval_id).upper()):
            with pytest.raises(HoldpointError):  # the mock answers 404
                client.get(given)
    assert [r.url.path for r in seen] == [f"/v1/approvals/{approval_id}"] * 2
