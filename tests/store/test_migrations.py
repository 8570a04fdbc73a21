"""Migrations: upgrade from empty on both backends gives exactly the models' schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from kizuna.store.db import Store
from kizuna.store.models import Base


def test_upgrade_from_empty_reaches_head_with_every_table(store: Store) -> None:
    assert store.current_revision() == store.head_revision()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    store.ensure_ready()


def test_migrations_match_the_models(store: Store) -> None:
    # A model change without a migration is caught here, on both backends.
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(store: Store) -> None:
    store.upgrade()
    store.upgrade()
    assert store.current_revision() == store.head_revision()
