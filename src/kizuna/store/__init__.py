"""The operational store: SQLAlchemy models, the :class:`Store` and migrations."""

from kizuna.store.db import Store
from kizuna.store.models import (
    Account,
    Activity,
    Base,
    Contact,
    ContractLine,
    FxRate,
    SurveyResponse,
    TeamMember,
    Ticket,
)

__all__ = [
    "Account",
    "Activity",
    "Base",
    "Contact",
    "ContractLine",
    "FxRate",
    "Store",
    "SurveyResponse",
    "TeamMember",
    "Ticket",
]
