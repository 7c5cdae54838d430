"""What the state database holds, and how it gets there: numbered migrations, applied once, in order, under a lock.

One schema for both engines. Every table is created ``IF NOT EXISTS`` and
every migration is recorded in ``schema_migrations`` in the same transaction
as its statements, so running ``migrate`` again (two servers starting at
once, ``xai-oauth store migrate`` after a start) changes nothing. Migrations
only ever add: a column or table a newer version no longer uses stays, so an
older server running beside a newer one keeps working, and no data is lost
by an upgrade. A database whose schema is newer than this code knows is
refused with a clear error, never written.

The tables, by who uses them:

* the server's pool: ``cooldowns`` (one row per account and model, as the
  JSON file held them), ``affinity`` (conversation → account, with an
  expiry), ``video_jobs`` (a job's owner), ``last_errors``;
* the usage ledger: ``usage_hours`` and ``usage_errors``, one row per hour,
  client key, account and model, added to (never rewritten) in batches;
* what every process shares: ``store_meta`` (the pool's conversation secret,
  the sealing key's check value), ``revisions`` (a counter per topic that a
  write bumps, so other servers know what to read again), ``version_gate``;
* on PostgreSQL, the sign-ins themselves: ``signins`` (the sealed
  credential, its non-secret record and a version that fences writes) and
  ``grant_journal`` (a grant in flight, written on its own connection so a
  killed holder's answer survives the holder's rolled-back transaction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ._database import Database, Transaction
from ._errors import StoreError

__all__ = ["MIGRATIONS", "Migration", "migrate", "schema_version"]

#: The advisory lock that serialises migrations on PostgreSQL (any constant of ours).
MIGRATION_LOCK = 0x78616F61  # "xaoa"


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its number, what it adds, and its statements (``{blob}`` is the engine's type)."""

    version: int
    adds: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the server's state (cooldowns, affinity, video jobs, usage, last errors, version gate) and shared sign-ins",
        (
            "CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS revisions (topic TEXT PRIMARY KEY, revision BIGINT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS cooldowns (
                slot TEXT NOT NULL,
                model TEXT NOT NULL DEFAULT '',
                reason TEXT NOT NULL,
                until DOUBLE PRECISION,
                message TEXT NOT NULL DEFAULT '',
                since DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (slot, model))""",
            """CREATE TABLE IF NOT EXISTS affinity (
                conversation TEXT PRIMARY KEY,
                profile TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS affinity_by_expiry ON affinity (expires_at)",
            """CREATE TABLE IF NOT EXISTS video_jobs (
                job_id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS video_jobs_by_age ON video_jobs (started_at)",
            """CREATE TABLE IF NOT EXISTS usage_hours (
                hour BIGINT NOT NULL,
                client TEXT NOT NULL,
                account TEXT NOT NULL,
                model TEXT NOT NULL,
                requests BIGINT NOT NULL DEFAULT 0,
                input_tokens BIGINT NOT NULL DEFAULT 0,
                output_tokens BIGINT NOT NULL DEFAULT 0,
                cached_tokens BIGINT NOT NULL DEFAULT 0,
                errors BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (hour, client, account, model))""",
            """CREATE TABLE IF NOT EXISTS usage_errors (
                hour BIGINT NOT NULL,
                client TEXT NOT NULL,
                account TEXT NOT NULL,
                model TEXT NOT NULL,
                code TEXT NOT NULL,
                count BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (hour, client, account, model, code))""",
            """CREATE TABLE IF NOT EXISTS last_errors (
                profile TEXT PRIMARY KEY,
                code TEXT NOT NULL,
                message TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS version_gate (
                issuer TEXT PRIMARY KEY,
                version TEXT NOT NULL,
                learned_at DOUBLE PRECISION NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS signins (
                issuer TEXT NOT NULL,
                profile TEXT NOT NULL,
                version BIGINT NOT NULL,
                credential {blob},
                meta TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (issuer, profile))""",
            """CREATE TABLE IF NOT EXISTS grant_journal (
                issuer TEXT NOT NULL,
                profile TEXT NOT NULL,
                grant_type TEXT NOT NULL,
                replaces TEXT,
                sent_at DOUBLE PRECISION NOT NULL,
                received_at DOUBLE PRECISION,
                answer {blob},
                PRIMARY KEY (issuer, profile))""",
        ),
    ),
)

_BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA"}
_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
)


def schema_version(database: Database) -> int:
    """The newest migration the database has (0 for an empty one)."""
    with database.transaction(write=False) as tx:
        return _applied(tx)


def migrate(database: Database, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply every migration the database lacks, in order, each with its record; the version it is at now.

    Serialised across processes: SQLite by its write lock, PostgreSQL by an
    advisory lock held to the end of the transaction (so it ends with its
    holder, and works behind a transaction-pooling PgBouncer).
    """
    known = max((m.version for m in migrations), default=0)
    with database.transaction() as tx:
        if tx.engine == "postgresql":
            tx.query("SELECT pg_advisory_xact_lock(:key)", key=MIGRATION_LOCK)
        tx.execute(_LEDGER)
        current = _applied(tx)
        if current > known:
            raise StoreError(
                f"The state database {database.where} has schema version {current}, newer than this xai-oauth knows "
                f"({known}); nothing was changed.",
                action="Upgrade xai-oauth on this machine to the version the other machines run.",
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                tx.execute(statement.replace("{blob}", _BLOB[tx.engine]))
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (:version, :at)",
                version=migration.version,
                at=time.time(),
            )
        return known


def _applied(tx: Transaction) -> int:
    if tx.engine == "sqlite":
        found = tx.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    else:
        found = tx.query("SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL")
    if not found:
        return 0
    rows = tx.query("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0) if rows else 0
