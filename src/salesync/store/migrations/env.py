"""Alembic environment: runs on the engine salesync hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from salesync.store.tables import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through salesync.store.database.migrate()")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
