"""Signed session cookies for the web UI, with a CSRF token inside.

The cookie holds the member id and a random CSRF token, signed with the
platform's session secret (``itsdangerous``); it is HttpOnly, SameSite=Lax and
Secure unless ``cookie_secure`` is off. It also carries the id of a server-side
session (:mod:`kizuna.auth.sessions`), so logging out ends it for good.
Requests authenticated by the cookie that change something must echo the CSRF
token in the ``X-CSRF-Token`` header (or a ``csrf_token`` form field, for the
UI's forms).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "kizuna_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class SessionData:
    member_id: str
    csrf_token: str
    #: the server-side session (see :mod:`kizuna.auth.sessions`); "" in old cookies
    session_id: str = ""


class SessionSigner:
    """Makes and reads session cookie values."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kizuna-session")

    def issue(self, member_id: str, session_id: str) -> tuple[str, SessionData]:
        data = SessionData(
            member_id=member_id, csrf_token=secrets.token_urlsafe(24), session_id=session_id
        )
        value = self._serializer.dumps({"m": member_id, "c": data.csrf_token, "s": session_id})
        return value, data

    def read(self, value: str) -> SessionData | None:
        try:
            raw = self._serializer.loads(value, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("m"), str):
            return None
        return SessionData(
            member_id=raw["m"], csrf_token=str(raw.get("c", "")), session_id=str(raw.get("s", ""))
        )
