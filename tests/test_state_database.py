"""The state database under both engines: the home's SQLite file and a real PostgreSQL, with one schema."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xai_oauth._exceptions import ConfigError
from xai_oauth._redact import scrub
from xai_oauth.store._database import Database, check_store_url, open_database, shown_url
from xai_oauth.store._errors import StoreCorrupt, StoreError, StoreUnavailable
from xai_oauth.store._schema import MIGRATIONS, Migration, migrate, schema_version

from .conftest import ROOT


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, isolated_home: Path) -> Any:
    if request.param == "sqlite":
        db = open_database(None, str(isolated_home))
    else:
        db = Database(request.getfixturevalue("pg_url"))
    yield db
    db.close()


def test_migrate_makes_every_table_and_a_second_run_changes_nothing(database: Database) -> None:
    assert schema_version(database) == 0
    assert migrate(database) == MIGRATIONS[-1].version
    assert migrate(database) == MIGRATIONS[-1].version
    with database.transaction() as tx:
        assert tx.query("SELECT COUNT(*) FROM schema_migrations") == [(len(MIGRATIONS),)]
        tx.execute(
            "INSERT INTO usage_hours (hour, client, account, model, requests) VALUES (:h, :c, :a, :m, 1) "
            "ON CONFLICT (hour, client, account, model) DO UPDATE SET requests = usage_hours.requests + "
            "excluded.requests",
            h=1,
            c="k",
            a="ann",
            m="grok-4.3",
        )
        tx.execute(
            "INSERT INTO usage_hours (hour, client, account, model, requests) VALUES (:h, :c, :a, :m, 1) "
            "ON CONFLICT (hour, client, account, model) DO UPDATE SET requests = usage_hours.requests + "
            "excluded.requests",
            h=1,
            c="k",
            a="ann",
            m="grok-4.3",
        )
        assert tx.query("SELECT requests FROM usage_hours") == [(2,)]


def test_a_failed_block_rolls_back_and_the_connection_serves_again(database: Database) -> None:
    migrate(database)
    with pytest.raises(RuntimeError), database.transaction() as tx:
        tx.execute("INSERT INTO store_meta (name, value) VALUES (:n, :v)", n="a", v="1")
        raise RuntimeError("the caller changed its mind")
    with database.transaction(write=False) as tx:
        assert tx.query("SELECT COUNT(*) FROM store_meta") == [(0,)]


def test_a_schema_newer_than_this_code_is_refused_and_left_alone(database: Database) -> None:
    newer = (*MIGRATIONS, Migration(999, "from the future", ("CREATE TABLE IF NOT EXISTS future (x TEXT)",)))
    assert migrate(database, newer) == 999
    with pytest.raises(StoreError, match="newer than this xai-oauth knows"):
        migrate(database)
    assert schema_version(database) == 999


def test_two_processes_migrating_at_once_apply_each_step_once(database: Database, tmp_path: Path) -> None:
    code = (
        "import sys; from xai_oauth.store._database import Database; from xai_oauth.store._schema import migrate;"
        "print(migrate(Database(sys.argv[1])))"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, database.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    with database.transaction(write=False) as tx:
        assert tx.query("SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version") == [
            (m.version, 1) for m in MIGRATIONS
        ]


def test_the_home_file_is_private_from_the_start(isolated_home: Path) -> None:
    db = open_database(None, str(isolated_home))
    migrate(db)
    path = isolated_home / "state.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_home.stat().st_mode) == 0o700
    for sidecar in (isolated_home / "state.db-wal", isolated_home / "state.db-shm"):
        if sidecar.exists():
            assert stat.S_IMODE(sidecar.stat().st_mode) & 0o077 == 0
    db.close()


def test_a_damaged_home_file_is_store_corrupt_with_a_way_out(isolated_home: Path) -> None:
    isolated_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = isolated_home / "state.db"
    path.write_bytes(b"this is not a database at all" * 200)
    os.chmod(path, 0o600)
    with pytest.raises(StoreCorrupt) as caught:
        migrate(open_database(None, str(isolated_home)))
    assert "state.db" in caught.value.action


def test_an_unreachable_postgres_is_store_unavailable_naming_the_host_never_the_password() -> None:
    port = closed_port()
    url = f"postgresql://someone:sekrit-pw-123@127.0.0.1:{port}/pool"
    db = Database(url)
    with pytest.raises(StoreUnavailable) as caught:
        with db.transaction():
            pass
    error = caught.value
    text = f"{error.message} {error.action} {error!r} {error.details}"
    assert "127.0.0.1" in text and f":{port}/pool" in text
    assert "sekrit-pw-123" not in text
    assert "sekrit-pw-123" not in scrub(f"the url was {url}")


def test_store_urls_are_checked_and_shown_without_their_password() -> None:
    assert (
        shown_url("postgresql://ann:pw@db.example:5433/xai?sslmode=require") == "postgresql://ann@db.example:5433/xai"
    )
    assert shown_url("sqlite:///srv/xai/state.db") == "sqlite:///srv/xai/state.db"
    for bad in ("mysql://a:pw-xyz@h/db", "postgresql://", "sqlite://relative.db", "just words"):
        with pytest.raises(ConfigError) as caught:
            check_store_url(bad)
        assert "pw-xyz" not in caught.value.message


def test_status_without_a_store_url_imports_no_database_module() -> None:
    code = (
        f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); from exports import status; status(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert not {"sqlite3", "psycopg", "xai_oauth.store._database"} & set(__import__("json").loads(out))


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed): connections to it are refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
