"""Personal API tokens: random, shown once, stored as a SHA-256 digest, revocable."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from kizuna.auth.keys import digest, new_id, new_secret
from kizuna.auth.policy import Principal
from kizuna.errors import NotFound, PermissionDenied
from kizuna.platform import Platform
from kizuna.store.auth_models import ApiToken
from kizuna.store.models import TeamMember, TeamRole

TOKEN_PREFIX = "kzt_"
# Writing last_used_at on every request would turn each read into a write;
# minute precision is enough to see which tokens are in use.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed (the secret itself is never kept)."""

    id: str
    member_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly created token: ``token`` is shown this once and never again."""

    info: TokenInfo
    token: str


def create_token(platform: Platform, member_id: str, name: str = "api") -> NewToken:
    """Create a personal API token for ``member_id``."""
    token = new_secret(TOKEN_PREFIX)
    with platform.store.session() as session:
        member = session.get(TeamMember, member_id)
        if member is None:
            raise NotFound(f"no team member {member_id}")
        row = ApiToken(
            id=new_id(),
            member_id=member_id,
            name=name,
            token_hash=digest(token),
            created_at=platform.clock.now(),
        )
        session.add(row)
        session.flush()
        return NewToken(info=_info(row), token=token)


def revoke_token(platform: Platform, token_id: str, *, member_id: str | None = None) -> TokenInfo:
    """Revoke a token by its id (limited to ``member_id``'s tokens when given)."""
    with platform.store.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (member_id is not None and row.member_id != member_id):
            raise NotFound(f"no API token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = platform.clock.now()
        return _info(row)


def list_tokens(platform: Platform, member_id: str | None = None) -> list[TokenInfo]:
    """Tokens, newest first, of one member or of everyone."""
    query = sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if member_id is not None:
        query = query.where(ApiToken.member_id == member_id)
    with platform.store.session() as session:
        return [_info(r) for r in session.scalars(query)]


def authenticate_token(platform: Platform, token: str) -> Principal:
    """The principal owning ``token``; PermissionDenied for unknown or revoked tokens."""
    return authenticate_token_id(platform, token)[1]


def authenticate_token_id(platform: Platform, token: str) -> tuple[str, Principal]:
    """The token's id and the principal owning it; PermissionDenied for unknown or revoked."""
    now = platform.clock.now()
    with platform.store.session() as session:
        row = session.execute(
            sa.select(ApiToken, TeamMember)
            .join(TeamMember, TeamMember.id == ApiToken.member_id)
            .where(ApiToken.token_hash == digest(token))
        ).first()
        if row is None:
            raise PermissionDenied("unknown API token")
        api_token, member = row
        if api_token.revoked_at is not None:
            raise PermissionDenied("this API token was revoked")
        if not member.active:
            raise PermissionDenied("this user is deactivated")
        if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_PRECISION:
            api_token.last_used_at = now
        return api_token.id, Principal(
            member_id=member.id, name=member.name, role=TeamRole(member.role), email=member.email
        )


class TokenCache:
    """Recently authenticated tokens of one server process, for ``ttl`` seconds.

    A read then costs no query (and no thread hand-off) for the token. The price:
    a token revoked or a user deactivated or re-roled by *another* process (the
    CLI, an import, another worker) keeps working here for at most ``ttl``
    seconds; a revoke through this process is forgotten at once. Keyed by the
    token's digest, never the token. ``ttl=0`` turns the cache off.
    """

    def __init__(
        self, ttl: float = 5.0, size: int = 10_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._now = now
        self._entries: OrderedDict[str, tuple[float, str, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        """The cached principal of ``token``, if authenticated less than ``ttl`` ago."""
        if self.ttl <= 0:
            return None
        key = digest(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._now() - entry[0] >= self.ttl:
                del self._entries[key]
                return None
            return entry[2]

    def put(self, token: str, token_id: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            key = digest(token)
            self._entries[key] = (self._now(), token_id, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget_token(self, token_id: str) -> None:
        """Drop a token (by id) at once, e.g. after it was revoked."""
        with self._lock:
            for key in [k for k, (_, tid, _p) in self._entries.items() if tid == token_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        member_id=row.member_id,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
