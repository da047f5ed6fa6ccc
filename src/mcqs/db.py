"""Database engine, sessions and the column types every domain shares.

One request or one job is one transaction: the edge opens it with
:func:`transaction`, services only ``flush()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    MetaData,
    Table,
    any_,
    bindparam,
    column,
    create_engine,
    event,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from mcqs.idle_connections import closed_by_peer

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Execution option of connections that only read (see Database.reading).
READ_ONLY = "mcqs_read_only"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (PostgreSQL's or SQLite's)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[str] = (),
    skip_conflicts_on: Sequence[str] = (),
) -> Sequence[Any]:
    """Insert ``rows`` (plain dicts with the same keys, every value given: no column
    default is applied) with one statement, returning the ``returning`` columns of the rows
    written. ``skip_conflicts_on``: insert-or-ignore on the unique index of those columns
    (a partial index's condition is taken from the model's ``Index``, where it is stated
    once); the rows it skipped are not returned.

    For the worker's batches: on PostgreSQL the rows go as one array per column into one
    short ``INSERT … SELECT … FROM unnest(…)``, the same text whatever their number, which
    SQLAlchemy compiles once, psycopg converts once and PostgreSQL prepares once (a
    multi-row ``VALUES`` is a new, long text per batch size: converted anew every time, and
    parsed anew by the server). SQLite takes them as an ``executemany``. The rows are
    written in the order given (a unique index's row locks are taken in that order); the
    rows returned may come in another: return a key to match them by."""
    if not rows:
        return []
    names = tuple(rows[0])
    dialect = session.get_bind().dialect.name
    statement = _insert_statement(dialect, table, names, tuple(returning), tuple(skip_conflicts_on))
    if dialect == "postgresql":
        result = session.execute(statement, {name: [row[name] for row in rows] for name in names})
    else:
        result = session.execute(statement, list(rows))
    return result.all() if returning else []


# Session.info's key of the advisory locks the session's transaction holds.
_HELD_LOCKS = "mcqs_advisory_locks"
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")  # built once


def serialise_on(session: Session, key: str) -> None:
    """Until this transaction ends, no other transaction gets past ``serialise_on`` with
    the same ``key`` (PostgreSQL: an advisory lock on its hash; SQLite's transactions
    already run one at a time). A key this transaction already holds costs no statement,
    so two rules that serialise on one key (a FİN's checks and its open applications) take
    one lock. Locks taken inside a savepoint are not remembered: rolling it back releases
    them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    held = session.info.get(_HELD_LOCKS)
    transaction = session.get_transaction()  # None before the transaction's first statement
    if transaction is not None and held is not None and held[0] is transaction and key in held[1]:
        return
    session.connection().execute(_ADVISORY_LOCK, {"key": key})
    if session.in_nested_transaction():
        return
    transaction = session.get_transaction()
    if held is None or held[0] is not transaction:
        held = (transaction, set[str]())
        session.info[_HELD_LOCKS] = held
    held[1].add(key)


Columns = ColumnElement[Any] | QueryableAttribute[Any]


def among(
    session: Session, columns: Columns | tuple[Columns, ...], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``columns IN values`` for a batch's worth of values (a tuple of columns: ``values``
    are tuples). On PostgreSQL one array parameter per column (``= ANY(…)``, or ``IN
    (SELECT unnest(…), …)``): one short statement whatever their number, where an ``IN``
    list is a new, long text per size that psycopg converts anew each time (see
    :func:`insert_rows`); elsewhere an ``IN`` list."""
    values = list(values)
    postgres = session.get_bind().dialect.name == "postgresql"
    if not isinstance(columns, tuple):
        if not postgres:
            return columns.in_(values)
        return columns == any_(bindparam(None, values, type_=postgresql.ARRAY(columns.type)))
    if not postgres:
        return tuple_(*columns).in_(values)
    arrays = (
        func.unnest(bindparam(None, [v[n] for v in values], type_=postgresql.ARRAY(c.type)))
        for n, c in enumerate(columns)
    )
    return tuple_(*columns).in_(select(*arrays))


_insert_statements: dict[tuple[Any, ...], Any] = {}


def _insert_statement(
    dialect: str,
    table: Table,
    names: tuple[str, ...],
    returning: tuple[str, ...],
    conflict: tuple[str, ...],
) -> Any:
    """The statement of :func:`insert_rows`, built once per shape (the key holds only
    names: a clause built by the caller at each call would make a new key each time, and
    this cache would grow with every call)."""
    key = (dialect, table.name, names, returning, conflict)
    found = _insert_statements.get(key)
    if found is not None:
        return found
    statement: Any
    if dialect == "postgresql":
        arrays = func.unnest(
            *(bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in names)
        )
        source = arrays.table_valued(
            *(column(name) for name in names), with_ordinality="position"
        ).render_derived()
        rows_in_order = select(*(source.c[name] for name in names)).order_by(source.c.position)
        statement = postgresql.insert(table).from_select(
            list(names), rows_in_order, include_defaults=False
        )
    else:
        statement = sqlite.insert(table) if dialect == "sqlite" else table.insert()
    if conflict:
        statement = statement.on_conflict_do_nothing(
            index_elements=list(conflict),
            index_where=_partial_index_where(table, conflict, dialect),
        )
    if returning:
        statement = statement.returning(*(table.c[name] for name in returning))
    _insert_statements[key] = statement
    return statement


def _partial_index_where(table: Table, columns: tuple[str, ...], dialect: str) -> Any:
    """The condition of the table's unique index on ``columns`` for ``dialect``
    (``postgresql_where=``/``sqlite_where=``), or None: a full index, or a key."""
    for index in sorted(table.indexes, key=lambda index: str(index.name)):  # in a fixed order
        if index.unique and tuple(c.name for c in index.columns) == columns:
            return index.dialect_kwargs.get(f"{dialect}_where")
    return None


def enum_column(enum: type[StrEnum], name: str, *, length: int = 20) -> Enum:
    """A string column holding an enum's values, with a CHECK constraint in the database."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Take transactions out of the driver's hands (it would begin them only at the
            # first write), so that "begin" below starts every one.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            if connection.get_execution_options().get(READ_ONLY):
                # A reader that must never queue behind a writer (the health check): WAL
                # lets it read a consistent snapshot while a writer holds the lock.
                connection.exec_driver_sql("BEGIN")
                return
            # SQLite has no SELECT ... FOR UPDATE: taking the write lock at the start makes
            # each transaction see and change the data alone, as row locks do on PostgreSQL.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # hide_parameters: bound values (FİNs, names, phone numbers) stay out of error messages.
    # No pool_pre_ping (a round trip before every transaction of the site): a connection the
    # server closed is found at checkout by its socket instead (decision 0007).
    engine = create_engine(
        database_url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=POOL_RECYCLE_SECONDS,
        hide_parameters=True,
    )
    event.listen(engine, "checkout", _refuse_closed_connection)
    return engine


# A pooled connection older than this is closed and opened again at its next checkout: one
# that a firewall or NAT dropped in silence (no FIN, so its socket reads nothing) is not
# kept for ever.
POOL_RECYCLE_SECONDS = 1800


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Instead of a ping: an idle PostgreSQL connection has nothing to read, unless the
    server has closed it (restarted, or its backend terminated: it sends an error and
    closes). Anything readable, or a connection psycopg already knows is gone, is
    discarded; the pool then opens a new one (raising ``DisconnectionError`` here makes it
    try again, up to three times)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("pooled connection closed")
    if closed_by_peer(dbapi_connection.pgconn.socket):
        raise DisconnectionError("pooled connection closed by the server")


class Database:
    """The engine and session factory of one configured database."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends normally, roll back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads and never waits for SQLite's write lock (which every
        other transaction here takes at its start); rolled back at the end. It connects at
        its first query, so a database that is down raises there, not here."""
        session = Session(self._reader)
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
