"""Team members as users: adding them, their passwords, and who they are."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kizuna.auth.policy import Principal
from kizuna.auth.sessions import end_member_sessions
from kizuna.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from kizuna.platform import Platform
from kizuna.store.auth_models import UserCredential
from kizuna.store.models import TeamMember, TeamRole

_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" close to "wrong password".
_DUMMY_HASH = _hasher.hash("kizuna-timing-equaliser")

MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True, slots=True)
class User:
    """A team member as shown in user lists (never with the password hash)."""

    id: str
    name: str
    email: str | None
    role: TeamRole
    active: bool
    has_password: bool


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password too short",
            [Problem(f"use at least {MIN_PASSWORD_LENGTH} characters", field="password")],
        )


def add_user(
    platform: Platform,
    *,
    member_id: str,
    name: str | None,
    email: str,
    role: TeamRole,
    password: str | None = None,
) -> User:
    """Add a team member (or give an existing one without a login a password).

    ``name`` None keeps an existing member's name (a new member is named by the id).
    Raises :class:`Conflict` if the id or e-mail already has a login.
    """
    problems = []
    if not member_id.strip():
        problems.append(Problem("must not be empty", field="id"))
    if "@" not in email:
        problems.append(Problem("not an e-mail address", field="email"))
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Problem(f"use at least {MIN_PASSWORD_LENGTH} characters", field="password"))
    if problems:
        raise InvalidInput("cannot add the user", problems)
    email = email.strip().lower()
    with platform.store.session() as session:
        member = session.get(TeamMember, member_id)
        other = session.scalar(sa.select(TeamMember).where(TeamMember.email == email))
        if other is not None and other.id != member_id:
            raise Conflict(f"e-mail {email} already belongs to team member {other.id}")
        if member is None:
            member = TeamMember(
                id=member_id, name=name or member_id, email=email, role=role, active=True
            )
            session.add(member)
        else:
            if session.get(UserCredential, member_id) is not None:
                raise Conflict(f"team member {member_id} already has a login")
            member.email, member.role, member.active = email, role, True
            if name:
                member.name = name
        session.flush()
        if password is not None:
            session.add(UserCredential(member_id=member_id, password_hash=hash_password(password)))
        return _user(member, password is not None)


def set_password(platform: Platform, member_id: str, password: str) -> None:
    """Set or replace a team member's password; their open sessions end."""
    _check_password(password)
    with platform.store.session() as session:
        if session.get(TeamMember, member_id) is None:
            raise NotFound(f"no team member {member_id}")
        cred = session.get(UserCredential, member_id)
        if cred is None:
            session.add(UserCredential(member_id=member_id, password_hash=hash_password(password)))
        else:
            cred.password_hash = hash_password(password)
            cred.changed_at = platform.clock.now()
    end_member_sessions(platform, member_id)


def set_active(platform: Platform, member_id: str, active: bool) -> User:
    """Activate or deactivate a team member; deactivating ends their sessions
    (API tokens stop working too: every request checks that the member is active)."""
    with platform.store.session() as session:
        member = session.get(TeamMember, member_id)
        if member is None:
            raise NotFound(f"no team member {member_id}")
        member.active = active
        has_login = session.get(UserCredential, member_id) is not None
        user = _user(member, has_login)
    if not active:
        end_member_sessions(platform, member_id)
    return user


def list_users(platform: Platform) -> list[User]:
    """Every team member, by id, with whether they can log in."""
    with platform.store.session() as session:
        rows = session.execute(
            sa.select(TeamMember, UserCredential.member_id)
            .outerjoin(UserCredential, UserCredential.member_id == TeamMember.id)
            .order_by(TeamMember.id)
        ).all()
        return [_user(member, cred is not None) for member, cred in rows]


def get_principal(platform: Platform, member_id: str) -> Principal:
    """The active team member ``member_id`` as a principal; PermissionDenied otherwise."""
    with platform.store.session() as session:
        member = session.get(TeamMember, member_id)
        if member is None or not member.active:
            raise PermissionDenied("this user is unknown or deactivated")
        return _principal(member)


def authenticate_password(platform: Platform, email: str, password: str) -> Principal:
    """The principal whose e-mail and password these are; PermissionDenied otherwise.

    The message does not say whether the e-mail exists.
    """
    with platform.store.session() as session:
        row = session.execute(
            sa.select(TeamMember, UserCredential.password_hash)
            .join(UserCredential, UserCredential.member_id == TeamMember.id)
            .where(TeamMember.email == email.strip().lower())
        ).first()
    if row is None:
        verify_password(_DUMMY_HASH, password)
        raise PermissionDenied("wrong e-mail or password")
    member, password_hash = row
    if not verify_password(password_hash, password) or not member.active:
        raise PermissionDenied("wrong e-mail or password")
    return _principal(member)


def _principal(member: TeamMember) -> Principal:
    return Principal(
        member_id=member.id, name=member.name, role=TeamRole(member.role), email=member.email
    )


def _user(member: TeamMember, has_password: bool) -> User:
    return User(
        id=member.id,
        name=member.name,
        email=member.email,
        role=TeamRole(member.role),
        active=bool(member.active),
        has_password=has_password,
    )
