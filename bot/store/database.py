"""The SQL database: SQLite in the data directory by default, PostgreSQL from DATABASE_URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


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
        self.engine: AsyncEngine = create_async_engine(
            self.url, connect_args=connect_args, pool_pre_ping=not self.is_sqlite
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @property
    def safe_url(self) -> str:
        """The URL without its password, fit for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers go on while one writer commits; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
