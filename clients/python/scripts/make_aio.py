"""Writes src/holdpoint/aio.py from src/holdpoint/client.py: the async client is the sync one
with every request awaited. Run after changing client.py, then ``ruff format``
(tests/test_package.py checks that aio.py is what this makes)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "holdpoint"
AWAITED = ["_send", "request_approval", "get", "list_approvals", "wait"]
AWAITED += ["execute", "execute_with_hash", "cancel", "decide", "gate"]


def asynchronous(s: str) -> str:
    swaps = [
        (
            '"""The synchronous client."""',
            '"""The asynchronous client: :class:`Client`, awaited."""',
        ),
        (
            "import time\nimport uuid\nfrom collections.abc import Callable",
            "import asyncio\nimport uuid\nfrom collections.abc import Awaitable, Callable",
        ),
        ("class Client:", "class AsyncClient:"),
        (
            "API key that calls it.\n\n    ``Client(",
            "API key that calls it, for asyncio.\n\n    ``AsyncClient(",
        ),
        ("httpx.BaseTransport", "httpx.AsyncBaseTransport"),
        ("httpx.Client(", "httpx.AsyncClient("),
        (
            "Callable[[float], None] = time.sleep",
            "Callable[[float], Awaitable[None]] = asyncio.sleep",
        ),
        (
            "    def close(self) -> None:\n        self._http.close()",
            "    async def aclose(self) -> None:\n        await self._http.aclose()",
        ),
        ("    def __enter__(self) -> Client:", "    async def __aenter__(self) -> AsyncClient:"),
        ("    def __exit__(", "    async def __aexit__("),
        ("        self.close()", "        await self.aclose()"),
        ("response = self._http.request(", "response = await self._http.request("),
        ("self._sleep(", "await self._sleep("),
        (") -> Client:\n", ") -> AsyncClient:\n"),
        ("step: Callable[[Any], T],", "step: Callable[[Any], Awaitable[T]],"),
        ("Unasked(step(None))", "Unasked(await step(None))"),
        ("value = step(edited)", "value = await step(edited)"),
    ]
    for old, new in swaps:
        if old not in s:
            raise SystemExit(f"client.py no longer has {old!r}")
        s = s.replace(old, new)
    for name in AWAITED:
        s = s.replace(f"    def {name}(", f"    async def {name}(")
        s = s.replace(f"self.{name}(", f"await self.{name}(")
    return s


if __name__ == "__main__":
    (ROOT / "aio.py").write_text(asynchronous((ROOT / "client.py").read_text()))
