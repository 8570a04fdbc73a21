"""Pooled teams and who is in them, and each team member's preferred language.

A team (``teams``) is a pool CTAs can be assigned to by the coverage model
(``assign: {to: team, team: ID}``); its members (``team_memberships``) have a
role in it: ``lead`` or ``member``. A team member's preferred language
(``notification_preferences``, party ``member:<id>``) is the language of their
digest e-mails and of the web UI when they have not picked one in the browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from kizuna.actions.model import ACTIVE_STATUSES
from kizuna.errors import Conflict, InvalidInput, NotFound, Problem, not_one_of
from kizuna.platform import Platform
from kizuna.store.actions_models import CallToAction, MemberPreference, Team, TeamMembership
from kizuna.store.models import TeamMember

__all__ = [
    "LANGUAGES",
    "TEAM_ROLES",
    "Membership",
    "TeamView",
    "create_team",
    "delete_team",
    "get_team",
    "list_teams",
    "member_language",
    "remove_member",
    "rename_team",
    "set_member",
    "set_member_language",
    "teams_of",
]

TEAM_ROLES = ("lead", "member")
LANGUAGES = ("en", "ja")
_ID = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Membership:
    """A member of a team, with their role in it."""

    member_id: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class TeamView:
    id: str
    name: str
    members: list[Membership]
    #: CTAs of the team's pool that are still active (queued, open, in progress, snoozed)
    active_ctas: int


def _no_team(team_id: str) -> NotFound:
    return NotFound(
        f"no team {team_id}", code="unknown", params={"table": "teams", "value": team_id}
    )


def _name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > 200 or any(ord(c) < 32 for c in clean):
        raise InvalidInput(
            "invalid team name",
            [
                Problem(
                    "a name is 1 to 200 printable characters",
                    field="name",
                    code="text_length",
                    params={"max": 200},
                )
            ],
        )
    return clean


def list_teams(platform: Platform) -> list[TeamView]:
    """Every team with its members (leads first) and its count of active CTAs."""
    with platform.store.session() as session:
        teams = session.scalars(sa.select(Team).order_by(Team.name, Team.id)).all()
        members: dict[str, list[Membership]] = {}
        for team_id, member_id, name, role in session.execute(
            sa.select(TeamMembership.team_id, TeamMember.id, TeamMember.name, TeamMembership.role)
            .join(TeamMember, TeamMember.id == TeamMembership.member_id)
            .order_by(TeamMembership.role, TeamMember.name)
        ):
            members.setdefault(team_id, []).append(Membership(member_id, name, role))
        active = dict(
            session.execute(
                sa.select(CallToAction.team_id, sa.func.count())
                .where(
                    CallToAction.team_id.is_not(None),
                    CallToAction.status.in_(ACTIVE_STATUSES),
                )
                .group_by(CallToAction.team_id)
            ).all()
        )
        return [
            TeamView(t.id, t.name, members.get(t.id, []), int(active.get(t.id, 0))) for t in teams
        ]


def get_team(platform: Platform, team_id: str) -> TeamView:
    """One team; :class:`NotFound` for an unknown id."""
    found = next((t for t in list_teams(platform) if t.id == team_id), None)
    if found is None:
        raise _no_team(team_id)
    return found


def create_team(platform: Platform, team_id: str, name: str) -> TeamView:
    """A new, empty team."""
    if not _ID.match(team_id):
        raise InvalidInput(
            "invalid team id",
            [
                Problem(
                    "an id is lower-case letters, digits, '-' or '_' (max 64)",
                    field="id",
                    code="id_format",
                    params={"max": 64},
                )
            ],
        )
    clean = _name(name)
    with platform.store.session() as session:
        if session.get(Team, team_id) is not None:
            raise Conflict(
                f"team {team_id} already exists", code="team_exists", params={"team": team_id}
            )
        session.add(Team(id=team_id, name=clean, created_at=platform.clock.now()))
    return get_team(platform, team_id)


def rename_team(platform: Platform, team_id: str, name: str) -> TeamView:
    clean = _name(name)
    with platform.store.session() as session:
        team = session.get(Team, team_id)
        if team is None:
            raise _no_team(team_id)
        team.name = clean
    return get_team(platform, team_id)


def delete_team(platform: Platform, team_id: str) -> None:
    """Delete a team whose pool has no active CTA (hand them to someone first)."""
    team = get_team(platform, team_id)
    if team.active_ctas:
        raise Conflict(
            f"team {team_id} still has {team.active_ctas} active CTAs; "
            "close or reassign them first",
            code="team_has_ctas",
            params={"team": team_id, "count": team.active_ctas},
        )
    with platform.store.session() as session:
        row = session.get(Team, team_id)
        if row is not None:
            session.delete(row)


def set_member(platform: Platform, team_id: str, member_id: str, role: str = "member") -> TeamView:
    """Put a team member in a team with ``role`` (or change their role there)."""
    if role not in TEAM_ROLES:
        raise InvalidInput(
            "invalid team role",
            [not_one_of("role", role, TEAM_ROLES)],
        )
    with platform.store.session() as session:
        if session.get(Team, team_id) is None:
            raise _no_team(team_id)
        if session.get(TeamMember, member_id) is None:
            raise NotFound(f"no team member {member_id}", code="unknown",
                           params={"table": "team", "value": member_id})  # fmt: skip
        row = session.get(TeamMembership, (team_id, member_id))
        if row is None:
            session.add(TeamMembership(team_id=team_id, member_id=member_id, role=role))
        else:
            row.role = role
    return get_team(platform, team_id)


def remove_member(platform: Platform, team_id: str, member_id: str) -> TeamView:
    with platform.store.session() as session:
        row = session.get(TeamMembership, (team_id, member_id))
        if row is None:
            raise NotFound(f"{member_id} is not in team {team_id}", code="not_in_team",
                           params={"member": member_id, "team": team_id})  # fmt: skip
        session.delete(row)
    return get_team(platform, team_id)


def teams_of(platform: Platform, member_id: str) -> list[tuple[str, str, str]]:
    """(team id, team name, role) of every team ``member_id`` is in."""
    with platform.store.session() as session:
        return [
            (t, n, r)
            for t, n, r in session.execute(
                sa.select(Team.id, Team.name, TeamMembership.role)
                .join(TeamMembership, TeamMembership.team_id == Team.id)
                .where(TeamMembership.member_id == member_id)
                .order_by(Team.name)
            )
        ]


def member_language(platform: Platform, member_id: str) -> str | None:
    """The language ``member_id`` chose, or None when they have not chosen one."""
    with platform.store.session() as session:
        pref = session.get(MemberPreference, f"member:{member_id}")
        return pref.language if pref is not None and pref.language in LANGUAGES else None


def set_member_language(platform: Platform, member_id: str, language: str) -> str:
    """Set the language of ``member_id``'s digests and web UI."""
    if language not in LANGUAGES:
        raise InvalidInput(
            "invalid language",
            [not_one_of("language", language, LANGUAGES)],
        )
    with platform.store.session() as session:
        if session.get(TeamMember, member_id) is None:
            raise NotFound(f"no team member {member_id}", code="unknown",
                           params={"table": "team", "value": member_id})  # fmt: skip
        party = f"member:{member_id}"
        pref = session.get(MemberPreference, party)
        if pref is None:
            session.add(MemberPreference(party=party, language=language, opted_out=False))
        else:
            pref.language = language
    return language
