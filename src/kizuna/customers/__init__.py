"""Customer records (accounts, contacts, contracts, tickets, surveys, activities) as services."""

from kizuna.customers.service import (
    RESOURCES,
    Page,
    create_record,
    delete_record,
    get_record,
    list_records,
    update_record,
)

__all__ = [
    "RESOURCES",
    "Page",
    "create_record",
    "delete_record",
    "get_record",
    "list_records",
    "update_record",
]
