"""Small read-only summaries of the store."""

from __future__ import annotations

import sqlalchemy as sa

from kizuna.store.db import Store
from kizuna.store.models import ALL_MODELS


def table_counts(store: Store) -> dict[str, int]:
    """Number of rows in each table of the store, by table name."""
    with store.session() as session:
        return {
            model.__tablename__: int(
                session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
            )
            for model in ALL_MODELS
        }
