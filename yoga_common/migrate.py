"""Alembic, driven from code: each service keeps its own migration history in
`<service>/migrations` and upgrades its database to head when it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from yoga_common.db import UtcDateTime, make_engine


def upgrade(database_url: str, migrations_dir: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, "head")


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    # Migrations name the plain column type, so they never import application code.
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime()"
    return False


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py` (online mode only)."""
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL given to the migration")
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        conn.execution_options(yoga_write=True)
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            if engine.dialect.name == "postgresql":
                # Replicas starting together must not run the same migration twice.
                conn.execute(text("SELECT pg_advisory_xact_lock(7402)"))
            context.run_migrations()
    engine.dispose()
