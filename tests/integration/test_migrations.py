"""Each service's Alembic history builds exactly the schema its storage module declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

import mypage_svc.storage
import notification_svc.storage
import reservation_svc.storage
import yogaclass_svc.storage
from tests.integration.conftest import BACKENDS, new_database
from yoga_common import migrate

SERVICES = {
    "yogaclass_svc": yogaclass_svc.storage.metadata,
    "reservation_svc": reservation_svc.storage.metadata,
    "notification_svc": notification_svc.storage.metadata,
    "mypage_svc": mypage_svc.storage.metadata,
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_match_the_tables(backend: str, service: str, tmp_path: Path) -> None:
    metadata: MetaData = SERVICES[service]
    url = new_database(backend, tmp_path, service.removesuffix("_svc"))
    migrations = Path(__file__).parents[2] / service / "migrations"
    migrate.upgrade(url, migrations)
    migrate.upgrade(url, migrations)  # a second start changes nothing
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
