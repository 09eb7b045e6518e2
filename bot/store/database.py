"""The SQL database: SQLite in the data directory by default, PostgreSQL from DATABASE_URL.

Nothing a customer wrote may reach a log through this module: engines hide statement parameters
(``hide_parameters``), so a failed insert is reported by its SQL and error, never by its values.
A database that cannot be reached raises :class:`ServiceUnavailable` naming it (password masked).

Admission: at most ``POOL_SIZE`` sessions are open at once per process; the next one waits in a
queue (FIFO, no time limit) *before* it takes a connection. Without it, 500 concurrent conversations
all took connections and then waited for the event loop while holding them, and the others gave up
inside SQLAlchemy's pool after its 30 s (README, "Footprint and throughput"). The pool's overflow
connections stay for what does not come through ``session()`` (pgvector's queries, ``ping``, schema
checks) and for a session opened inside another on the same task, which does not queue again (it
would wait for its own place).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import ServiceUnavailable, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
# asyncpg waits 60 s for a server that does not answer; a start-up or health check should say so sooner.
CONNECT_TIMEOUT_SECONDS = 10
# SQLAlchemy's defaults, now said: POOL_SIZE sessions at once (the rest queue before taking a
# connection), POOL_OVERFLOW more connections for direct engine users and nested sessions.
POOL_SIZE = 5
POOL_OVERFLOW = 10
POOL_TIMEOUT_SECONDS = 30

# The databases whose admission this task (and the tasks it starts) already holds a place in.
_admitted: ContextVar[frozenset[int]] = ContextVar("rapport_db_admitted", default=frozenset())


def normalise_url(url: str, data_dir: Path) -> tuple[str, dict[str, object]]:
    """Return an async SQLAlchemy URL and connect args.

    Accepts Heroku's ``postgres://`` form and libpq's ``?sslmode=``, which asyncpg
    spells ``ssl``. An empty URL means a SQLite file in the data directory.
    """
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(data_dir / 'rapport.db').resolve()}", {"timeout": 30}
    scheme, netloc, path, query, fragment = urlsplit(url)
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        params = dict(parse_qsl(query))
        connect_args: dict[str, object] = {}
        sslmode = params.pop("sslmode", None) or params.pop("ssl", None)
        if sslmode:
            connect_args["ssl"] = sslmode
        return urlunsplit(("postgresql+asyncpg", netloc, path, urlencode(params), fragment)), connect_args
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        return "sqlite+aiosqlite" + url[len(scheme):], {"timeout": 30}
    raise StoreError(f"unsupported database URL scheme '{scheme}'", fix="use postgres://… or leave it empty for SQLite")


class Database:
    """An async engine plus a session factory. Use ``session()`` for one unit of work."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url, connect_args = normalise_url(url, data_dir)
        self.is_sqlite = self.url.startswith("sqlite")
        if not self.is_sqlite:
            connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS, **connect_args}
        self.engine: AsyncEngine = create_async_engine(
            self.url, connect_args=connect_args, pool_pre_ping=not self.is_sqlite,
            pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT_SECONDS,
            # Parameters are customers' words, emails and names: keep them out of logs and exception text.
            hide_parameters=True,
        )
        event.listen(self.engine.sync_engine, "do_connect", self._connect)
        event.listen(self.engine.sync_engine, "handle_error", _drop_row_details)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._admission: asyncio.Semaphore | None = None
        self._admission_loop: asyncio.AbstractEventLoop | None = None
        self.waiting = 0  # sessions queued for a place right now (tests, metrics)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work. Waits for one of ``POOL_SIZE`` places first (see the module doc)."""
        admitted = _admitted.get()
        if id(self) in admitted:  # nested in a session of this task: it holds a place already
            async with self._sessions() as session:
                yield session
            return
        admission = self._places()
        self.waiting += 1
        try:
            await admission.acquire()
        finally:
            self.waiting -= 1
        token = _admitted.set(admitted | {id(self)})
        try:
            async with self._sessions() as session:
                yield session
        finally:
            _admitted.reset(token)
            admission.release()

    def _places(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._admission is None or self._admission_loop is not loop:  # a new event loop (tests): new places
            self._admission, self._admission_loop = asyncio.Semaphore(POOL_SIZE), loop
        return self._admission

    async def insert_once(self, row: SQLModel) -> bool:
        """Insert a row whose unique key says "this happened once"; False when it was there already."""
        async with self.session() as session:
            session.add(row)
            try:
                await session.commit()
                return True
            except IntegrityError:
                await session.rollback()
                return False

    @property
    def safe_url(self) -> str:
        """The URL without its password, fit for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)

    async def ping(self) -> None:
        """One ``SELECT 1`` on a pooled connection; raises ServiceUnavailable when the database is unreachable."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def _connect(self, dialect: Any, _record: object, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        """SQLAlchemy's ``do_connect`` hook: open the driver connection, turning a failure into one clear
        error (which database, why, what to check) instead of a driver traceback."""
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            raise ServiceUnavailable(
                f"cannot connect to the database at {self.safe_url} ({type(error).__name__}: {error})",
                fix="check DATABASE_URL (or stores.database_url): host, port, user, password and database name, "
                    "and that the server is running; leave it empty for the embedded SQLite",
                service="the database",
            ) from error

    async def close(self) -> None:
        await self.engine.dispose()


def _drop_row_details(context: ExceptionContext) -> None:
    """PostgreSQL explains a refused row in its DETAIL ("Key (external_id)=(C-1001) already exists",
    "Failing row contains (…, ana@example.com, …)"), and the driver's exception prints it. The message
    and constraint name say what went wrong; the row's values stay out of tracebacks and logs."""
    error: BaseException | None = context.original_exception
    while error is not None:
        if getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers go on while one writer commits; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left in free pages: forgetting leaves no byte behind.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
