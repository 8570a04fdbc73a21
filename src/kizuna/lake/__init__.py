"""The usage-event lake: append-only Parquet files partitioned by event date."""

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet

__all__ = ["EVENT_SCHEMA", "LakeLayout", "atomic_write_parquet"]
