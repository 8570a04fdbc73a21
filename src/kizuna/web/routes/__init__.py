"""The UI's page groups, one module each.

Each module defines ``router`` (a FastAPI ``APIRouter``) and optionally ``NAV``
(its entries in the top navigation). A new capability (success plans,
playbooks and CTAs, churn risk) adds a page by adding a module here, a
template extending ``base.html``, and its ``NAV`` entry.
"""

PAGE_MODULES: tuple[str, ...] = (
    "auth",
    "portfolio",
    "accounts",
    "account360",
    "retention",
    "risk",
    "revenue",
    "onboarding",
    "plans",
    "actions",
    "unsubscribe",
    "teams",
    "documents",
    "runs",
    "admin",
)
