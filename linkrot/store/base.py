"""The connection every part of the store shares: opened, tuned for concurrent readers, migrated."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ..errors import NotALinkrotDatabaseError
from .schema import migrate

DEFAULT_DB = "data/linkrot.db"
#: SQLite's page cache of each connection, in KiB (its default is 2,000)
CACHE_KIB = 16_384
#: how long a connection waits for another's lock before "database is locked"
BUSY_TIMEOUT_MS = 10_000


def use_wal(conn: sqlite3.Connection, budget: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Put the database in WAL mode, waiting for other connections rather than failing.

    WAL is a property of the file, so it is read first: once one connection has turned it on, the
    others take no lock at all.  Turning it on needs the file to itself, and SQLite does not run the
    busy handler for that: while another process writes (the workers of a shared crawl opening a
    new database at the same moment) it fails at once with "database is locked".  It is tried
    again until ``budget`` seconds have passed.  A file that cannot be in WAL mode (a filesystem
    without shared memory) keeps the mode SQLite answers with, as before.
    """
    deadline = time.monotonic() + budget
    pause = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", "memory"):
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def schema_version(path: str | Path) -> int:
    """The migration an existing database is at, read without writing (0: no linkrot tables in it).

    Look before opening a :class:`Store`, which migrates: another program's SQLite
    file must not get linkrot's tables.  Raises ``sqlite3.DatabaseError`` for a file
    that is no SQLite database.
    """
    with closing(sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)) as probe:
        return probe.execute("PRAGMA user_version").fetchone()[0]


def check_database(path: str | Path, *, must_exist: bool = False) -> None:
    """Refuse a file that is not a linkrot database, before anything writes to it.

    A missing or empty file is a new database (``must_exist``: an error, for commands that only
    read); a SQLite file of another program, or no SQLite file at all, is
    :class:`~linkrot.errors.NotALinkrotDatabaseError`.
    """
    file = Path(path)
    if str(path) == ":memory:":
        return
    if not file.is_file() or file.stat().st_size == 0:
        if must_exist:
            raise NotALinkrotDatabaseError(
                f"no database at {path} (crawl first: scrapy crawl site -a url=..., or pass --db)"
            )
        return
    try:
        version = schema_version(file)
        with closing(sqlite3.connect(file.resolve().as_uri() + "?mode=ro", uri=True)) as probe:
            tables = probe.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise NotALinkrotDatabaseError(f"{path} is not a linkrot database: {exc}") from None
    if not version and (tables or must_exist):
        raise NotALinkrotDatabaseError(f"{path} is not a linkrot database: no linkrot tables in it")


class Connection:
    """A linkrot database, open.  The SQL stays inside the store package: callers ask named questions."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(str(path))
        self._conn: sqlite3.Connection = self._db.conn
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # WAL: Datasette and the CLI read while a crawl writes; NORMAL is durable enough in WAL mode
        use_wal(self._conn)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        # a crawl's batch dirties more pages than SQLite's default 2 MB holds: they spilled to the log
        # before the commit and were written again (measured at 100,000 pages: 323 KB written per page
        # crawled with 2 MB, 239 KB with 16 MiB)
        self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        migrate(self._conn)

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self._db.query(sql, params if isinstance(params, dict) else tuple(params)))

    def _value(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self._conn.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]
