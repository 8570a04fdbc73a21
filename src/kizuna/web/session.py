"""The UI's login session: the API's signed session cookie, and a CSRF token for every form.

The UI reuses the API's session mechanism (:mod:`kizuna.api.sessions`): one
signed cookie (HMAC, ``itsdangerous``, keyed by
:func:`kizuna.auth.keys.session_secret`) holding the team member's id and a
CSRF token. So a logged-in browser can also call the API (sending the token in
``X-CSRF-Token`` for changes). The
cookie is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` unless the
``cookie_secure`` setting is off (plain-HTTP local use). The cookie names a
server-side session (:mod:`kizuna.auth.sessions`) that logout, a password
change and deactivation end; every request checks it and re-reads the member,
so an ended session or a deactivated user is out at once.

CSRF: every state-changing form carries the session's token in a hidden
``csrf_token`` field (synchroniser token); a POST whose token does not match is
refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from kizuna.api.sessions import COOKIE_NAME, MAX_AGE_SECONDS, SessionSigner
from kizuna.auth.keys import session_secret
from kizuna.settings import Settings

SESSION_COOKIE = COOKIE_NAME
SESSION_MAX_AGE = MAX_AGE_SECONDS


@dataclass(frozen=True, slots=True)
class UiSession:
    """What the session cookie says: who is logged in and their form token."""

    member_id: str
    csrf: str
    session_id: str = ""


class SessionCodec:
    """Issues and checks session cookies with the platform's session key."""

    def __init__(self, settings: Settings) -> None:
        self._signer = SessionSigner(session_secret(settings))
        self.secure = settings.cookie_secure

    def new(self, member_id: str, session_id: str) -> tuple[UiSession, str]:
        """The cookie value for the server-side session ``session_id`` of ``member_id``."""
        value, data = self._signer.issue(member_id, session_id)
        return UiSession(member_id=member_id, csrf=data.csrf_token, session_id=session_id), value

    def read(self, cookie: str | None) -> UiSession | None:
        """The session in ``cookie``, or None when it is missing, forged or expired."""
        if not cookie:
            return None
        data = self._signer.read(cookie)
        if data is None:
            return None
        return UiSession(
            member_id=data.member_id, csrf=data.csrf_token, session_id=data.session_id
        )


def csrf_ok(session: UiSession, submitted: str | None) -> bool:
    """Whether a form's token is this session's token (compared in constant time)."""
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
