"""The OpenAPI schema tells the whole truth, proved by schemathesis in-process (ADR-0021).

The real app (migrated database of the test run, Redis when ``REDIS_URL`` is set) with
two signed-up users, ``alice`` and ``bob``, logged in through the API by schemathesis
(Web Fuzzing Commons auth with ``peers``):

* every phase (examples, coverage, fuzzing, stateful) and every check, including
  ``ignored_auth``, ``use_after_free``, ``ensure_resource_availability``,
  ``negative_data_rejection``, ``positive_data_acceptance`` and
  ``object_level_authorization``. SECURITY A1 (one user never reads another's
  object), A5 (no or an invalid token is a 401, never served), R5 (an undeclared
  method is a 405 with a complete ``Allow``), E1 (every error is the declared envelope);
* the pytest-native state machine (``schema.as_state_machine()``), following the
  schema's links (sign-up -> read) with the same checks after every step.

Example counts are modest so ``make test`` stays fast; ``make fuzz`` runs the same
checks with more examples against a live server.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import real_redis_url
from tests.contract import harness

# no_cover (pytest-cov): no line tracing, which doubles the cost of a fuzzing run;
# the integration tests cover the same code paths, so `make test`'s coverage does not
# depend on these.
pytestmark = [pytest.mark.slow, pytest.mark.no_cover]

SEED = 20261122


@pytest.fixture
def contract_app(make_app: Callable[..., FastAPI]) -> Iterator[FastAPI]:
    """The app with alice and bob signed up; schemathesis owns its lifespan.

    The fuzzer is one client address creating many accounts: the per-IP sign-up throttle
    (ADR-0028) would answer 429 after 10 and hide every later sign-up path (links, the
    admin pass's create -> delete). Its own tests are in test_signup_throttle.py.

    Likewise the per-IP login budget: a fuzzed logout (ADR-0034) ends the session of the
    token schemathesis holds, so it logs in again, and the fuzzed wrong logins from the
    same address would have spent that budget (429, "token fetch failed"). Its own tests
    are in test_login_throttle.py."""
    app = make_app(
        with_redis=False,
        redis_url=real_redis_url(),
        signup_max_per_ip=1_000_000,
        login_max_failures_per_ip=1_000_000,
    )
    try:
        harness.sign_up(app)
        yield app
    finally:
        harness.stop_lifespans()


@pytest.fixture
def contract_config(tmp_path: Path) -> dict[str, Any]:
    """Schemathesis settings for the in-process run: all checks, peers, bounded examples."""
    return {
        "seed": SEED,
        "generation": {"max-examples": 5, "database": "none"},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": harness.POSITIVE_DATA_STATUSES}
        },
        "operations": [
            {
                "include-operation-id": harness.TOKEN_OPERATIONS,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": harness.TOKEN_OPERATION_STATUSES
                    }
                },
            }
        ],
        "phases": {"stateful": {"max-steps": 6}},
        "auth": {
            "wfc": {
                "path": str(harness.write_wfc(tmp_path / "wfc.json")),
                "peers": ["alice", "bob"],
            }
        },
    }


def test_every_check_and_phase_passes(
    contract_app: FastAPI, contract_config: dict[str, Any]
) -> None:
    """Undocumented statuses, schema violations, 5xx, ignored auth, BOLA: none found."""
    report = harness.run(contract_app, contract_config)
    assert report.scenarios > 0
    assert report.errors == [], report.describe()
    assert report.failures == [], report.describe()


def test_admin_only_operations_pass_as_a_superuser(
    contract_app: FastAPI, contract_config: dict[str, Any], tmp_path: Path
) -> None:
    """Admin-only operations (``GET /api/v1/users``, ``DELETE /api/v1/users/{id}``) are
    exercised past their 403 too, with sign-up and read so the stateful phase can
    create -> read -> delete -> read again (``use_after_free``)."""
    harness.create_superuser(contract_app.state.container.settings)
    wfc = harness.write_wfc(tmp_path / "admin.json", (harness.ADMIN,))
    config = contract_config | {"auth": {"wfc": {"path": str(wfc)}}}
    report = harness.run(contract_app, config, operation_ids=harness.ADMIN_PASS_OPERATION_IDS)
    assert report.errors == [], report.describe()
    assert report.failures == [], report.describe()


def test_state_machine_follows_links_and_passes(
    contract_app: FastAPI, contract_config: dict[str, Any]
) -> None:
    """Sign-up -> read chains (schema links) pass every check at every step."""
    schema = harness.load_schema(contract_app, contract_config)
    database_url = contract_app.state.container.settings.database_url

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def teardown(self) -> None:
            # Every example starts from the same rows (alice and bob, no owned resources),
            # so a replay while Hypothesis shrinks sees the same 201/409 answers.
            harness.delete_users_except_peers(database_url)
            super().teardown()

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_the_fuzz_config_accepts_the_same_statuses_for_valid_data() -> None:
    """``make fuzz`` (schemathesis.toml) and this in-process run judge valid data alike."""
    config = tomllib.loads((Path(__file__).resolve().parents[2] / "schemathesis.toml").read_text())
    accepted = config["checks"]["positive_data_acceptance"]["expected-statuses"]
    assert accepted == harness.POSITIVE_DATA_STATUSES
    [tokens] = config["operations"]
    assert tokens["include-operation-id"] == harness.TOKEN_OPERATIONS
    token_statuses = tokens["checks"]["positive_data_acceptance"]["expected-statuses"]
    assert token_statuses == harness.TOKEN_OPERATION_STATUSES
