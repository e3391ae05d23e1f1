"""Session-per-request and database outages (ADR-0007, ADR-0008, ADR-0042)."""

from __future__ import annotations

import gc

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request

from app.core.errors import Unauthorized
from app.db.engine import TRANSACTION_ISOLATION, ReadOnlyWrite, is_read_only
from app.db.session import SessionDep, after_commit, keep_writes_on_error
from app.users.models import User
from tests.fixtures.app import serve

CLOSED_PORT_PG = "postgresql://postgres:pw@127.0.0.1:9/none"  # pragma: allowlist secret

scratch = sa.Table(
    "scratch_session_test", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
)
router = APIRouter(prefix="/probe")


@router.post("/write/{value}")
async def write(value: int, session: SessionDep) -> dict[str, int]:
    await session.execute(scratch.insert().values(id=value))
    if value < 0:
        raise RuntimeError("fail after write")
    return {"id": value}


#: What the after-commit callbacks saw: (value, rows visible to a fresh session).
AFTER_COMMIT_SEEN: list[tuple[int, int]] = []


@router.post("/write-then/{value}")
async def write_then(value: int, session: SessionDep) -> dict[str, int]:
    """Write, register two after-commit callbacks (the first fails), fail if negative."""
    await session.execute(scratch.insert().values(id=value))
    engine = session.bind

    async def failing() -> None:
        raise RuntimeError("a follow-up failed")

    async def record() -> None:
        async with engine.connect() as conn:  # type: ignore[union-attr]
            rows = await conn.scalar(sa.select(sa.func.count()).select_from(scratch))
        AFTER_COMMIT_SEEN.append((value, int(rows or 0)))

    after_commit(session, failing)
    after_commit(session, record)
    if value < 0:
        raise RuntimeError("fail after write")
    return {"id": value}


@router.post("/write-kept/{value}")
async def write_kept(value: int, session: SessionDep) -> None:
    """Write, mark the writes as kept, then refuse (the shape of a refresh-token reuse).
    A negative value makes the kept commit itself fail."""
    await session.execute(scratch.insert().values(id=abs(value)))
    if value < 0:

        async def broken_commit() -> None:
            raise RuntimeError("commit failed")

        session.commit = broken_commit  # type: ignore[method-assign]
    keep_writes_on_error(session)
    raise Unauthorized()


@router.get("/count")
async def count(session: SessionDep) -> dict[str, int]:
    result = await session.execute(sa.select(sa.func.count()).select_from(scratch))
    return {"count": result.scalar_one()}


#: What the session of each request looked like: (method, read-only, isolation level).
SESSIONS_SEEN: list[tuple[str, bool, str]] = []


@router.api_route("/kind", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
async def kind(session: SessionDep, request: Request) -> dict[str, int]:
    """Record the request's session, then read through it."""
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).dbapi_connection  # what it is really in
    autocommit = getattr(driver, "autocommit", False) is True
    level = "AUTOCOMMIT" if autocommit else await conn.get_isolation_level()
    SESSIONS_SEEN.append((request.method, is_read_only(session), level))
    return {
        "count": (
            await session.execute(sa.select(sa.func.count()).select_from(scratch))
        ).scalar_one()
    }


@router.get("/write-in-get/{how}")
async def write_in_get(how: str, session: SessionDep) -> dict[str, int]:
    """A bug on purpose: a safe method that writes (a Core INSERT or an ORM flush)."""
    if how == "core":
        await session.execute(scratch.insert().values(id=99))
    else:
        session.add(User(email="get-writes@example.com", hashed_password="x"))
        await session.flush()
    return {"id": 99}


@pytest.fixture
async def app(make_app) -> FastAPI:
    app = make_app()
    app.include_router(router)
    return app


@pytest.fixture
async def scratch_table(app: FastAPI):
    async with (
        app.router.lifespan_context(app),
        app.state.container.database.engine.begin() as conn,
    ):
        await conn.run_sync(scratch.metadata.create_all)
    yield
    async with (
        app.router.lifespan_context(app),
        app.state.container.database.engine.begin() as conn,
    ):
        await conn.run_sync(scratch.metadata.drop_all)


async def test_commit_on_success_and_rollback_on_error(app: FastAPI, scratch_table) -> None:
    async with serve(app) as client:
        assert (await client.post("/probe/write/1")).status_code == 200
        failed = await client.post("/probe/write/-1")
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal_error"
        assert (await client.get("/probe/count")).json() == {"count": 1}


async def test_after_commit_callbacks_run_once_committed_never_after_a_rollback(
    app: FastAPI, scratch_table
) -> None:
    """``after_commit`` callbacks run after the commit (they see the row from another
    connection), all of them even if one fails, which never fails the response; after a
    rollback none runs."""
    AFTER_COMMIT_SEEN.clear()
    async with serve(app) as client:
        assert (await client.post("/probe/write-then/7")).status_code == 200
        assert (await client.post("/probe/write-then/-7")).status_code == 500
    assert AFTER_COMMIT_SEEN == [(7, 1)]


async def test_writes_kept_on_error_are_committed_and_the_error_still_answered(
    app: FastAPI, scratch_table, caplog: pytest.LogCaptureFixture
) -> None:
    """``keep_writes_on_error``: the request is refused (its 401 envelope) yet its writes
    are committed. If that commit fails, the refusal is still the answer and the failure
    only goes to the log."""
    async with serve(app) as client:
        kept = await client.post("/probe/write-kept/3")
        assert kept.status_code == 401
        assert (await client.get("/probe/count")).json() == {"count": 1}
        failed = await client.post("/probe/write-kept/-4")
        assert failed.status_code == 401
        assert (await client.get("/probe/count")).json() == {"count": 1}
    assert [r.getMessage() for r in caplog.records if r.name == "app.db"] == [
        "commit of writes kept on error failed"
    ]


async def test_database_outage_is_503_envelope_without_internals(make_app) -> None:
    app = make_app(database_url=CLOSED_PORT_PG)
    app.include_router(router)
    async with serve(app) as client:
        response = await client.get("/probe/count")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    for leak in ("127.0.0.1", "Connect", "refused", "asyncpg", "pw", "SELECT"):
        assert leak not in response.text


async def test_lifespan_opens_and_disposes_engine_and_closes_own_redis(make_app) -> None:
    app = make_app(with_redis=False, redis_url="redis://127.0.0.1:9/0")
    async with serve(app) as client:
        await client.get("/health")
        engine = app.state.container.database.engine
        redis = app.state.container.redis.client
        assert redis is not None
    # After shutdown the pool holds no connections and the Redis pool is disconnected.
    assert engine.pool.checkedout() == 0
    assert redis.connection_pool._in_use_connections == set()


async def test_what_startup_built_is_frozen_out_of_the_gc_while_serving(make_app) -> None:
    """ADR-0042: the lifespan moves every object alive after startup out of the cyclic
    GC's reach (``gc.freeze``), so full collections scan only what requests create; at
    shutdown they are handed back (nothing is kept alive past the app)."""
    app = make_app()
    async with serve(app) as client:
        await client.get("/health")
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0


def test_sqlite_default_creates_var_directory(tmp_path, make_settings) -> None:
    from app.db.engine import create_engine

    db_file = tmp_path / "nested" / "dir" / "app.db"
    create_engine(make_settings(database_url=f"sqlite+aiosqlite:///{db_file}"))
    assert db_file.parent.is_dir()


async def test_unavailable_classifier() -> None:
    from sqlalchemy import exc

    from app.db.errors import is_unavailable

    assert is_unavailable(ConnectionRefusedError())
    assert is_unavailable(exc.TimeoutError())
    assert not is_unavailable(exc.IntegrityError("x", {}, Exception()))
    assert not is_unavailable(ValueError())


async def test_safe_methods_get_a_read_only_autocommit_session(app: FastAPI, scratch_table) -> None:
    """ADR-0042: GET/HEAD/OPTIONS run on a read-only session, in autocommit on PostgreSQL
    (no BEGIN/COMMIT round trips; SQLite never sends BEGIN before a read); every other
    method gets the transaction that commits before the response (ADR-0007)."""
    SESSIONS_SEEN.clear()
    async with serve(app) as client:
        for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, "/probe/kind")
            assert response.status_code == 200, (method, response.text)
    postgres = app.state.container.database.engine.dialect.name == "postgresql"
    for method, read_only, level in SESSIONS_SEEN:
        assert read_only is (method in ("GET", "HEAD", "OPTIONS")), method
        if postgres:
            assert level == ("AUTOCOMMIT" if read_only else TRANSACTION_ISOLATION), (method, level)
        else:
            assert level != "AUTOCOMMIT", (method, level)
    assert len(SESSIONS_SEEN) == 7


@pytest.mark.parametrize("how", ["core", "orm"])
async def test_a_safe_method_that_writes_is_refused_and_nothing_is_written(
    app: FastAPI, scratch_table, how: str
) -> None:
    """ADR-0042: a write in a read-only request raises before any SQL is sent (a bug:
    500 envelope), so an autocommit session never leaves half a change behind."""
    async with serve(app) as client:
        response = await client.get(f"/probe/write-in-get/{how}")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert (await client.get("/probe/count")).json() == {"count": 0}
    async with (
        app.router.lifespan_context(app),
        app.state.container.database.read_sessionmaker() as session,
    ):
        with pytest.raises(ReadOnlyWrite):
            await session.execute(scratch.delete())
