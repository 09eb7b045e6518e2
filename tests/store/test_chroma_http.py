"""The Chroma server's own client (``bot.store.chroma_http``): what the shared vector-store tests cannot show.

The shared tests in ``test_vectors.py`` run this client against a real ``chroma run``. Here it also talks
through a small loopback proxy in front of that server (``ChromaProxy``), mounted under a path prefix,
which records each request and can answer some with the server's own error bodies instead: a stopped
server, the transient segment-reader 500s, a smaller batch limit.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiohttp import web

import bot.store.chroma_http as chroma_http
from bot.errors import StoreError, find_outage
from bot.store.chroma_http import api_root
from bot.store.vectors import VectorStore
from tests.fakes.server import LoopbackServer
from tests.store.test_vectors import DIM, EMBEDDER, basis, chroma_server, free_port  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/chroma"
HNSW_RACE = {"error": "InternalError", "message": "Error executing plan: Internal error: Error creating hnsw segment "
             "reader: Nothing found on disk"}
ID_RACE = {"error": "InternalError", "message": "Error executing plan: Internal error: Error finding id"}
OTHER = {"error": "InternalError", "message": "Error executing plan: something else"}


class ChromaProxy:
    """The real Chroma server at ``url`` (under ``/chroma``): forwards every request and records its last
    path segment (``query``, ``get``, ``upsert``…); a fault queued for a segment is answered instead, once."""

    def __init__(self, upstream: str) -> None:
        self.calls: list[str] = []
        self.faults: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        self.max_batch: int | None = None  # told to the client in the pre-flight checks instead of the server's
        self._upstream = httpx.AsyncClient(base_url=upstream)
        app = web.Application(client_max_size=2**26)
        app.router.add_route("*", PREFIX + "/{tail:.*}", self._forward)
        self._server = LoopbackServer(app)

    @property
    def url(self) -> str:
        return self._server.url + PREFIX

    async def __aenter__(self) -> ChromaProxy:
        await self._server.__aenter__()
        return self

    async def stop(self) -> None:
        await self._server.__aexit__()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self._upstream.aclose()

    def fail(self, verb: str, body: dict[str, Any], status: int = 500, times: int = 1) -> None:
        self.faults[verb] += [(status, body)] * times

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        verb = tail.rsplit("/", 1)[-1]
        self.calls.append(verb)
        if self.faults[verb]:
            status, body = self.faults[verb].pop(0)
            return web.json_response(body, status=status)
        answer = await self._upstream.request(request.method, "/" + tail, params=dict(request.query),
                                              content=await request.read(),
                                              headers={"content-type": "application/json"})
        if verb == "pre-flight-checks" and self.max_batch is not None:
            return web.json_response({**answer.json(), "max_batch_size": self.max_batch})
        return web.Response(body=answer.content, status=answer.status_code, content_type="application/json")


@pytest.fixture
async def proxy(chroma_server: str) -> AsyncIterator[ChromaProxy]:  # noqa: F811 (the imported fixture)
    async with ChromaProxy(chroma_server) as running:
        yield running


def test_the_api_root_keeps_the_path_and_defaults_the_port() -> None:
    assert api_root("http://chroma.internal") == "http://chroma.internal:8000/api/v2"
    assert api_root("https://chroma.example.com") == "https://chroma.example.com:443/api/v2"
    assert api_root("https://chroma.example.com:8443/vectors/") == "https://chroma.example.com:8443/vectors/api/v2"
    assert api_root("http://[::1]:9000") == "http://[::1]:9000/api/v2"


async def test_a_closed_port_is_one_store_error_that_names_the_url_and_the_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = VectorStore.open(url, tmp_path, EMBEDDER, DIM)  # sends nothing: the loop is never blocked
    try:
        with pytest.raises(StoreError) as failed:
            await store.collection("pages")
        assert failed.value.message.startswith(f"cannot reach the Chroma server at {url} (ConnectionRefusedError")
        assert failed.value.fix == ("check stores.chroma_url (CHROMA_URL) and that the Chroma server is running; "
                                    "leave it empty for the embedded store")
        outage = find_outage(failed.value)  # /healthz and the turn's error handler see an outage, not a bug
        assert outage is not None and outage.service == "the Chroma server"
    finally:
        await store.close()


async def test_a_server_that_stops_is_a_store_error_on_the_next_call(proxy: ChromaProxy, tmp_path: Path) -> None:
    store = VectorStore.open(proxy.url, tmp_path, EMBEDDER, DIM)
    name = f"t-{uuid.uuid4().hex[:12]}"
    try:
        collection = await store.collection(name)
        await collection.upsert(["a"], basis(1).reshape(1, -1), None, [{"customer_id": 1}])
        assert [h.id for h in await collection.query(basis(1), 1)] == ["a"]
        await proxy.stop()
        with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {proxy.url}"):
            await collection.query(basis(1), 1)
        with pytest.raises(StoreError, match="cannot reach the Chroma server"):
            await store.names()
    finally:
        await store.close()


async def test_a_url_without_a_chroma_server_says_so_at_the_first_call(tmp_path: Path) -> None:
    async with LoopbackServer(web.Application()) as other:  # answers 404 to everything, as a wrong path would
        store = VectorStore.open(other.url, tmp_path, EMBEDDER, DIM)
        try:
            with pytest.raises(StoreError) as failed:
                await store.names()
        finally:
            await store.close()
    assert failed.value.message == f"no Chroma server answers at {other.url} (HTTP 404 on /api/v2/pre-flight-checks)"
    assert "stores.chroma_url" in failed.value.fix and "chromadb 1.x" in failed.value.fix


async def test_only_the_transient_read_errors_are_retried(proxy: ChromaProxy, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chroma_http, "READ_RETRY_SECONDS", 0.001)
    store = VectorStore.open(proxy.url, tmp_path, EMBEDDER, DIM)
    name = f"t-{uuid.uuid4().hex[:12]}"
    try:
        collection = await store.collection(name)
        await collection.upsert(["a"], basis(1).reshape(1, -1), None, [{"customer_id": 1}])

        proxy.fail("query", HNSW_RACE)
        proxy.fail("query", ID_RACE)
        proxy.calls.clear()
        assert [h.id for h in await collection.query(basis(1), 3, where={"customer_id": 1})] == ["a"]
        assert proxy.calls == ["query"] * 3  # two refused, the third reached the server

        proxy.fail("count", HNSW_RACE, times=chroma_http.READ_RETRIES + 1)
        proxy.calls.clear()
        with pytest.raises(StoreError, match="Nothing found on disk"):
            await collection.count()
        assert proxy.calls == ["count"] * (chroma_http.READ_RETRIES + 1)  # it gives up

        proxy.fail("get", OTHER)
        proxy.calls.clear()
        with pytest.raises(StoreError) as other:
            await collection.metadatas({"customer_id": 1})
        assert other.value.message == (f"the Chroma server at {proxy.url} failed to read vector collection '{name}' "
                                       "(HTTP 500 InternalError: Error executing plan: something else)")
        assert proxy.calls == ["get"]

        proxy.fail("upsert", HNSW_RACE)  # a write is never tried twice, whatever the error says
        proxy.calls.clear()
        with pytest.raises(StoreError, match=f"failed to write to vector collection '{name}'"):
            await collection.upsert(["b"], basis(2).reshape(1, -1), None, [{"customer_id": 1}])
        assert proxy.calls == ["upsert"]
        assert await collection.count() == 1
    finally:
        await store.drop(name)
        await store.close()


async def test_writes_are_split_in_batches_the_server_accepts(proxy: ChromaProxy, tmp_path: Path) -> None:
    proxy.max_batch = 2
    store = VectorStore.open(proxy.url, tmp_path, EMBEDDER, DIM)
    name = f"t-{uuid.uuid4().hex[:12]}"
    try:
        collection = await store.collection(name)
        proxy.calls.clear()
        await collection.upsert([f"v{n}" for n in range(5)], np.stack([basis(n) for n in range(5)]),
                                [f"doc {n}" for n in range(5)], [{"customer_id": 1, "n": n} for n in range(5)])
        assert proxy.calls == ["upsert"] * 3
        assert await collection.reassign({"customer_id": 1}, {"customer_id": 2}) == 5
        assert proxy.calls.count("update") == 3
        rows = {i: (vector, document, metadata) for i, vector, document, metadata in
                await collection.vectors({"customer_id": 2})}
        assert sorted(rows) == [f"v{n}" for n in range(5)]
        np.testing.assert_array_equal(rows["v3"][0], basis(3))  # float32 sent as base64, read back exactly
        assert rows["v3"][1:] == ("doc 3", {"customer_id": 2, "n": 3})
    finally:
        await store.drop(name)
        await store.close()


def test_a_process_on_the_server_never_imports_chromadb(chroma_server: str) -> None:  # noqa: F811
    name = f"t-{uuid.uuid4().hex[:12]}"
    program = f"""
import asyncio, sys
from pathlib import Path
import numpy as np
from bot.store.vectors import VectorStore

async def main():
    store = VectorStore.open({chroma_server!r}, Path("."), "e", 4)
    collection = await store.collection({name!r})
    await collection.upsert(["a", "b"], np.eye(4, dtype=np.float32)[:2], ["one", "two"], [{{"n": 1}}, {{"n": 2}}])
    hits = await collection.query(np.eye(4, dtype=np.float32)[1], 2)
    await store.drop({name!r})
    await store.close()
    print([(h.id, h.document, round(h.similarity, 3)) for h in hits], "chromadb" in sys.modules)

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[('b', 'two', 1.0), ('a', 'one', 0.0)] False"
