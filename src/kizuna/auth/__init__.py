"""Users, roles, API tokens, event-source write keys and the audit log.

Framework-free: the API, the web UI and the CLI call these functions.
"""

from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, Principal, account_scope, can_read, can_write
from kizuna.auth.sources import add_source, authenticate_write_key, list_sources, revoke_source
from kizuna.auth.tokens import authenticate_token, create_token, list_tokens, revoke_token
from kizuna.auth.users import add_user, authenticate_password, get_principal, list_users

__all__ = [
    "Caller",
    "Principal",
    "account_scope",
    "add_source",
    "add_user",
    "authenticate_password",
    "authenticate_token",
    "authenticate_write_key",
    "can_read",
    "can_write",
    "create_token",
    "get_principal",
    "list_sources",
    "list_tokens",
    "list_users",
    "record_audit",
    "revoke_source",
    "revoke_token",
]
