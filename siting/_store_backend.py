"""Database backends of the scenario store: SQLite (default) and PostgreSQL, one small interface.

Both run the same SQL (written with ``?`` placeholders; the PostgreSQL backend turns them into
``%s``). Each backend connects, checks that the database is a siting store (or empty) before it
writes anything, creates the tables, and runs explicit transactions. Database errors raised
while working become :class:`~siting._errors.InputError` through :meth:`Backend.guard`.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from siting._errors import InputError

__all__ = ["FORMAT", "SCHEMA_VERSION", "Backend", "PostgresBackend", "SQLiteBackend", "mask_url"]

log = logging.getLogger(__name__)

#: Value of the ``format`` entry in ``siting_store_meta`` that marks a siting store.
FORMAT = "siting-scenario-store"
#: Version of the table layout below; a store written by a newer layout is refused.
SCHEMA_VERSION = 1

_SQLITE_MAGIC = b"SQLite format 3\x00"

_TABLES = ("siting_store_meta", "siting_names", "siting_scenarios", "siting_frames")


def _schema(blob: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS siting_store_meta ("
        " meta_key TEXT PRIMARY KEY, meta_value TEXT NOT NULL)",
        # one row per scenario name: when it was first saved and the last version number given
        "CREATE TABLE IF NOT EXISTS siting_names ("
        " name TEXT PRIMARY KEY, created TEXT NOT NULL, last_version INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS siting_scenarios ("
        " name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
        " updated TEXT NOT NULL, parameters TEXT NOT NULL, summary TEXT NOT NULL,"
        " PRIMARY KEY (name, version))",
        "CREATE TABLE IF NOT EXISTS siting_frames ("
        " name TEXT NOT NULL, version INTEGER NOT NULL, frame_role TEXT NOT NULL,"
        " frame_key TEXT NOT NULL, frame_order INTEGER NOT NULL, frame_format TEXT NOT NULL,"
        f" crs TEXT, n_rows INTEGER NOT NULL, data {blob} NOT NULL,"
        " PRIMARY KEY (name, version, frame_role, frame_key))",
    ]


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


class Backend(ABC):
    """A connection to one store database with explicit transactions."""

    #: Short backend name (``"sqlite"`` or ``"postgresql"``).
    kind: str
    #: Where the store is, for messages (a path or a URL without its password).
    label: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders) and return a DB-API cursor."""

    @abstractmethod
    def begin_write(self) -> None:
        """Start a transaction that will write."""

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except Exception:  # no transaction open, or the connection is gone
            log.debug("rollback failed", exc_info=True)

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    def _db_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's exception classes to report as a damaged or unreachable store."""

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn database errors inside the block into an InputError about the store."""
        try:
            yield
        except self._db_errors() as err:
            text = (str(err).strip() or type(err).__name__).splitlines()[0]
            what = f"cannot {action}: {text}"
            if "locked" in text or "busy" in text:
                fix = "another program is writing to the store; try again in a moment"
            elif "malformed" in text or "not a database" in text:
                what = f"the store file is damaged ({text})"
                fix = "restore it from a backup"
            else:
                fix = "check the store location and permissions"
            raise InputError.one(self.label, "", "", what, fix) from None

    @contextmanager
    def transaction(self, action: str) -> Iterator[None]:
        """A write transaction: committed at the end, rolled back on any error."""
        with self.guard(action):
            self.begin_write()
            try:
                yield
            except BaseException:
                self.rollback()
                raise
            self.commit()

    # --- shared set-up ------------------------------------------------------------------

    def _check_meta(self) -> None:
        """Refuse a store written by another program or a newer layout."""
        rows = dict(self.execute("SELECT meta_key, meta_value FROM siting_store_meta").fetchall())
        if rows.get("format") != FORMAT:
            raise self._not_a_store("its siting_store_meta table does not name a siting store")
        try:
            version = int(rows.get("schema_version", ""))
        except ValueError:
            raise self._not_a_store("its schema version is unreadable") from None
        if version > SCHEMA_VERSION:
            raise InputError.one(
                self.label,
                "",
                "",
                f"the store was written by a newer siting (layout {version}, "
                f"this one reads up to {SCHEMA_VERSION})",
                "upgrade siting",
            )

    def _create_tables(self, blob: str) -> None:
        for sql in _schema(blob):
            self.execute(sql)
        for key, value in (("format", FORMAT), ("schema_version", str(SCHEMA_VERSION))):
            self.execute(
                "INSERT INTO siting_store_meta (meta_key, meta_value) VALUES (?, ?)"
                " ON CONFLICT (meta_key) DO NOTHING",
                (key, value),
            )

    def _not_a_store(self, why: str) -> InputError:
        return InputError.one(
            self.label,
            "",
            "",
            f"is not a siting scenario store ({why}); it was left unchanged",
            "choose another file or database for the store",
        )


class SQLiteBackend(Backend):
    """A store in one SQLite file: WAL journal, ``synchronous=FULL``, ``BEGIN IMMEDIATE``."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self.label = str(self.path)
        self._check_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.guard("open the store"):
            self.conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        try:
            self._set_up()
        except BaseException:
            self.conn.close()
            raise

    def _check_file(self) -> None:
        path = self.path
        if path.is_dir():
            raise InputError.one(
                self.label, "", "", "is a folder, not a store file", "give a file path"
            )
        if not path.exists() or path.stat().st_size == 0:
            return
        try:
            with path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as err:
            raise InputError.one(
                self.label, "", "", f"cannot be read: {err.strerror}", "check permissions"
            ) from None
        if head != _SQLITE_MAGIC:
            raise self._not_a_store("it is not a SQLite database")

    def _set_up(self) -> None:
        with self.guard("read the store"):
            tables = {
                r[0]
                for r in self.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
            }
            if tables and "siting_store_meta" not in tables:
                raise self._not_a_store(f"it holds other tables ({', '.join(sorted(tables)[:5])})")
            if tables:
                check = self.execute("PRAGMA quick_check").fetchall()
                if [r[0] for r in check] != ["ok"]:
                    first = " ".join(str(check[0][0]).split())[:200]
                    raise InputError.one(
                        self.label,
                        "",
                        "",
                        f"the store file is damaged ({first})",
                        "restore it from a backup",
                    )
                self._check_meta()
        with self.guard("prepare the store"):
            # only now that the file is known to be ours (or empty) may anything be written
            self.execute("PRAGMA journal_mode=WAL")
            self.execute("PRAGMA synchronous=FULL")
            if not tables:
                with self.transaction("create the store"):
                    self._create_tables("BLOB")
                    log.info("created scenario store %s", self.label)
                # another process may have created it meanwhile with other content
                self._check_meta()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, tuple(params))

    def begin_write(self) -> None:
        # take the write lock at once so version numbers cannot race between processes
        self.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        self.conn.close()

    def _db_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)


class PostgresBackend(Backend):
    """A store in tables ``siting_*`` of a PostgreSQL database (psycopg 3)."""

    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.label = mask_url(url)
        try:
            import psycopg
        except ImportError:
            raise InputError.one(
                self.label,
                "",
                "",
                "a PostgreSQL store needs the psycopg package, which is not installed",
                'run `pip install "psycopg[binary]"`',
            ) from None
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as err:
            raise InputError.one(
                self.label,
                "",
                "",
                f"cannot connect: {str(err).strip()}",
                "check the server, user, password and database name in the URL",
            ) from None
        try:
            self._set_up()
        except BaseException:
            self.conn.close()
            raise

    def _set_up(self) -> None:
        with self.guard("read the store"):
            ours = {
                r[0]
                for r in self.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema() AND table_name IN (?, ?, ?, ?)",
                    _TABLES,
                ).fetchall()
            }
        if ours and "siting_store_meta" not in ours:
            raise self._not_a_store(f"it has tables {sorted(ours)} but no siting_store_meta")
        if "siting_store_meta" not in ours:
            with self.transaction("create the store"):
                # serialise concurrent first openings of the same database
                self.execute("SELECT pg_advisory_xact_lock(7707001)")
                self._create_tables("BYTEA")
                log.info("created scenario store %s", self.label)
        with self.guard("read the store"):
            self._check_meta()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]

    def begin_write(self) -> None:
        self.execute("BEGIN")

    def close(self) -> None:
        self.conn.close()

    def _db_errors(self) -> tuple[type[BaseException], ...]:
        return (self._psycopg.Error,)
