"""Vector collections on a Chroma server, spoken to over its REST API (v2) with ``httpx``: no ``chromadb``.

The ``chromadb`` package costs a process ~0.7-2 s of imports (its API types, pydantic models,
telemetry, the embedded Rust core) and one thread per call; a process whose vectors live on a server
needs only HTTP. The server is chromadb 1.x's ``chroma run``; collections live in the default tenant and
database, where chromadb's own ``HttpClient`` keeps them, so either client reads what the other wrote.

Rapport always computes embeddings itself and passes them in: no collection is given an embedding
function, and every write and query here takes vectors. The interface is ``bot.store.vectors``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import numpy as np

from bot.errors import EmbedderMismatchError, StoreError, find_outage
from bot.store.vectors import Metadata, VectorCollection, VectorHit, VectorStore

try:  # writes a query's 384 floats in 0.01 ms, the stdlib in 0.24; installed with chromadb
    import orjson

    def _dumps(body: Any) -> bytes:
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)  # numpy scalars, as chromadb sent them
except ImportError:  # pragma: no cover - the stdlib writes the same JSON
    import json

    def _dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

# Chroma 1.5 (server and embedded share its Rust core) can fail a read that races the first flush of a
# collection's HNSW segment: "Error creating hnsw segment reader: Nothing found on disk". Seen on loopback with
# one writer and two readers on a fresh collection (4 of 800 queries); each read succeeded 50 ms later. The
# same race, under two test processes at once, also fails as "Error finding id" (the metadata segment already
# holds an id whose vector the reader's segment has not loaded yet). The server answers both with a 500.
_TRANSIENT_READS = ("Error creating hnsw segment reader", "Error finding id")
READ_RETRIES = 4
READ_RETRY_SECONDS = 0.05

TENANT = "default_tenant"
DATABASE = "default_database"
UNREACHABLE_FIX = ("check stores.chroma_url (CHROMA_URL) and that the Chroma server is running; "
                   "leave it empty for the embedded store")
REFUSED_FIX = "see the Chroma server's log for the cause; the server must be chromadb 1.x (`chroma run`)"
# chromadb's client waits forever; a turn should not. Generous reads: an ingest upserts thousands at once.
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Requests on the wire at once; the rest wait on a semaphore, not in httpx's pool. httpcore's pool walks
# every connection and every queued request on each request and release (encode/httpcore#1035): with 500
# conversations at once it was a quarter of the event loop's time. A 2-core Chroma server gains nothing
# from more connections than this.
IN_FLIGHT = 8
LIST_PAGE = 100  # collections per page of names()
MAX_BATCH = 1000  # records per write until the server's pre-flight check says how many it takes
# What each request does, for the message of a refusal: "failed to <action> vector collection 'pages'".
_ACTIONS = {"query": "query", "get": "read", "upsert": "write to", "update": "update metadata in",
            "delete": "delete from", "count": "count"}


def api_root(chroma_url: str) -> str:
    """``scheme://host:port[/prefix]/api/v2`` for ``chroma_url``: port 443 for https, else 8000, when it names
    none; a path (a server behind a proxy at ``/chroma``) is kept."""
    parts = urlsplit(chroma_url)
    scheme = "https" if parts.scheme == "https" else "http"
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port or (443 if scheme == "https" else 8000)
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}/api/v2"


class ChromaHttpCollection(VectorCollection):
    """One collection on the Chroma server, async, built by exactly one embedder."""

    def __init__(self, store: ChromaHttpStore, name: str, collection_id: str) -> None:
        self._store = store
        self.name = name
        self._path = f"/tenants/{TENANT}/databases/{DATABASE}/collections/{collection_id}"

    async def _call(self, method: str, verb: str, body: dict[str, Any] | None = None, *, read: bool = False,
                    params: dict[str, str] | None = None) -> Any:
        return await self._store._call(method, f"{self._path}/{verb}",
                                       f"{_ACTIONS[verb]} vector collection '{self.name}'", body, read=read,
                                       params=params)

    async def _write(self, verb: str, ids: list[str], embeddings: np.ndarray | None, documents: list[str] | None,
                     metadatas: list[dict[str, Any]]) -> None:
        """``upsert`` or ``update`` in batches the server accepts; each batch is one request."""
        step = self._store.max_batch
        for start in range(0, len(ids), step):
            end = start + step
            await self._call("POST", verb, {
                "ids": ids[start:end],
                "embeddings": self._store.encode(embeddings[start:end]) if embeddings is not None else None,
                "documents": documents[start:end] if documents is not None else None,
                "metadatas": metadatas[start:end],
                "uris": None,
            })

    async def upsert(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str] | None,
        metadatas: Sequence[Metadata],
    ) -> None:
        """Write vectors. ``documents=None`` stores none: customer memories keep their text in SQL only,
        because Chroma keeps every document it was given in its files long after a delete."""
        if len(ids) == 0:
            return
        vectors = np.asarray(embeddings, dtype=np.float32).reshape(len(ids), -1)
        await self._write("upsert", list(ids), vectors, list(documents) if documents is not None else None,
                          [dict(m) for m in metadatas])

    async def query(self, embedding: np.ndarray, limit: int, where: dict[str, Any] | None = None) -> list[VectorHit]:
        """Nearest neighbours of ``embedding``; ``where`` is applied inside the server, before ranking."""
        if limit <= 0:
            return []
        result = await self._call("POST", "query", {
            "ids": None,
            "query_embeddings": [np.asarray(embedding, dtype=np.float32).reshape(-1).tolist()],
            "n_results": limit,
            "where": where or None,
            "where_document": None,
            "include": ["documents", "metadatas", "distances"],
        }, read=True)
        return query_hits(result)

    async def _get(self, where: dict[str, Any] | None, include: list[str]) -> dict[str, Any]:
        return dict(await self._call("POST", "get", {
            "ids": None, "where": where or None, "where_document": None, "include": include,
        }, read=True))

    async def metadatas(self, where: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        result = await self._get(where, ["metadatas"])
        return {i: dict(m or {}) for i, m in zip(result["ids"], result["metadatas"], strict=True)}

    async def reassign(self, where: dict[str, Any], changes: dict[str, Any]) -> int:
        """Change metadata fields on every vector matching ``where``; returns how many changed."""
        found = await self.metadatas(where)
        if found:
            ids = list(found)
            await self._write("update", ids, None, None, [{**found[i], **changes} for i in ids])
        return len(found)

    async def vectors(self, where: dict[str, Any]) -> list[tuple[str, np.ndarray, str, dict[str, Any]]]:
        """(id, embedding, document, metadata) of every vector matching ``where``."""
        result = await self._get(where, ["embeddings", "documents", "metadatas"])
        return [
            (i, np.asarray(e, dtype=np.float32), d or "", dict(m or {}))
            for i, e, d, m in zip(result["ids"], result["embeddings"], result["documents"], result["metadatas"],
                                  strict=True)
        ]

    async def documents(self, where: dict[str, Any] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, document, metadata) of every vector matching ``where`` (all of them without it: audits)."""
        result = await self._get(where, ["documents", "metadatas"])
        return [(i, d or "", dict(m or {}))
                for i, d, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)]

    async def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if ids is not None and len(ids) == 0:
            return
        await self._call("POST", "delete", {
            "ids": list(ids) if ids is not None else None, "where": where or None, "where_document": None,
        })

    async def count(self) -> int:
        return int(await self._call("GET", "count", read=True, params={"read_level": "index_and_wal"}))


def query_hits(result: Any) -> list[VectorHit]:
    """The hits of a one-embedding Chroma query result (the server's JSON and chromadb's QueryResult alike)."""
    return [
        VectorHit(id=i, document=d or "", metadata=dict(m or {}), similarity=1.0 - float(dist))
        for i, d, m, dist in zip(
            result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
        )
    ]


class ChromaHttpStore(VectorStore):
    """Opens collections on a Chroma server and refuses any that another embedder built."""

    def __init__(self, chroma_url: str, embedder_name: str, dimension: int) -> None:
        self.url = chroma_url
        self.embedder_name = embedder_name
        self.dimension = dimension
        self.max_batch = MAX_BATCH
        self._base64 = False
        self._checked = False
        self._client = httpx.AsyncClient(base_url=api_root(chroma_url), timeout=TIMEOUT,
                                         headers={"content-type": "application/json"},
                                         limits=httpx.Limits(max_connections=IN_FLIGHT,
                                                             max_keepalive_connections=IN_FLIGHT))
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)

    @classmethod
    def open(cls, chroma_url: str, embedder_name: str, dimension: int) -> ChromaHttpStore:  # type: ignore[override]
        """A store for the server at ``chroma_url``. Nothing is sent yet, so opening never blocks the event loop:
        the first call (the runtime's first collection, reindex's names) asks the server for its pre-flight
        checks, and a wrong URL or a server that is down fails there, at start-up, with one message."""
        return cls(chroma_url, embedder_name, dimension)

    async def close(self) -> None:
        await self._client.aclose()

    def encode(self, embeddings: np.ndarray) -> list[str] | list[list[float]]:
        """Vectors as the server reads them: little-endian float32 in base64 when it says it can."""
        if not self._base64:
            return [row.tolist() for row in embeddings]
        little = np.ascontiguousarray(embeddings, dtype="<f4")
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in little]

    async def _check(self) -> None:
        """Ask the server what it takes (batch size, base64 vectors): one request, which also proves it is a
        Chroma 1.x server at this URL."""
        response = await self._send("GET", "/pre-flight-checks", None, None)
        try:
            checks = response.json() if response.is_success else None
            if not isinstance(checks, dict):
                raise ValueError("no JSON object")
        except ValueError:
            raise StoreError(
                f"no Chroma server answers at {self.url} (HTTP {response.status_code} on "
                f"{response.request.url.path})",
                fix="check stores.chroma_url (CHROMA_URL): it must point at a Chroma server of chromadb 1.x "
                "(`chroma run`, REST API v2); leave it empty for the embedded store",
            ) from None
        self.max_batch = int(checks.get("max_batch_size") or MAX_BATCH)
        self._base64 = bool(checks.get("supports_base64_encoding"))
        self._checked = True

    async def _send(self, method: str, path: str, body: dict[str, Any] | None,
                    params: dict[str, str] | None) -> httpx.Response:
        try:
            async with self._in_flight:
                return await self._client.request(method, path, content=_dumps(body) if body is not None else None,
                                                  params=params)
        except httpx.TransportError as exc:  # refused, reset, timed out, name not found
            outage = find_outage(exc)
            raise StoreError(f"cannot reach the Chroma server at {self.url} ({outage.detail if outage else exc})",
                             fix=UNREACHABLE_FIX) from exc

    async def _call(self, method: str, path: str, action: str, body: dict[str, Any] | None = None, *,
                    read: bool = False, params: dict[str, str] | None = None, absent_ok: bool = False) -> Any:
        """The JSON answer of one request. A read the server fails with the transient segment-reader errors is
        tried again (50, 100, 200, 400 ms apart); any other refusal is a StoreError naming ``action`` at once."""
        if not self._checked:
            await self._check()
        for attempt in range(READ_RETRIES + 1):
            response = await self._send(method, path, body, params)
            if response.is_success:
                return response.json()
            if absent_ok and response.status_code == 404:
                return None
            transient = response.status_code >= 500 and any(m in response.text for m in _TRANSIENT_READS)
            if not (read and transient) or attempt == READ_RETRIES:
                raise self._refused(response, action)
            await asyncio.sleep(READ_RETRY_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    def _refused(self, response: httpx.Response, action: str) -> StoreError:
        try:
            answer = response.json()
            detail = f"{answer['error']}: {answer['message']}"
        except (ValueError, KeyError, TypeError):
            detail = response.text.strip()[:300] or response.reason_phrase
        return StoreError(f"the Chroma server at {self.url} failed to {action} (HTTP {response.status_code} "
                          f"{detail})", fix=REFUSED_FIX)

    @staticmethod
    def _named(name: str) -> str:
        return f"/tenants/{TENANT}/databases/{DATABASE}/collections/{quote(name, safe='')}"

    async def collection(self, name: str) -> VectorCollection:
        found = await self._call("POST", f"/tenants/{TENANT}/databases/{DATABASE}/collections",
                                 f"open vector collection '{name}'", {
                                     "name": name,
                                     "metadata": {"hnsw:space": "cosine", "embedder": self.embedder_name,
                                                  "dimension": self.dimension},
                                     "configuration": None,
                                     "get_or_create": True,
                                 })
        built_by = (found.get("metadata") or {}).get("embedder")
        if built_by != self.embedder_name:
            raise EmbedderMismatchError(
                f"vector collection '{name}' was built by embedder '{built_by}', but this config uses "
                f"'{self.embedder_name}'; its vectors cannot be compared",
                fix=f"run `rapport ingest --reindex` to rebuild it with '{self.embedder_name}', "
                "or set models.embedder back to match",
            )
        return ChromaHttpCollection(self, name, str(found["id"]))

    async def names(self) -> list[str]:
        names: list[str] = []
        while True:
            page = await self._call("GET", f"/tenants/{TENANT}/databases/{DATABASE}/collections",
                                    "list vector collections",
                                    params={"limit": str(LIST_PAGE), "offset": str(len(names))})
            names += [c["name"] for c in page]
            if len(page) < LIST_PAGE:
                return names

    async def drop(self, name: str) -> None:
        """Delete collection ``name``; one that is not there is no error."""
        await self._call("DELETE", self._named(name), f"drop vector collection '{name}'", absent_ok=True)
