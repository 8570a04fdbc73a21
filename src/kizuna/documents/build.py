"""The three documents built from :class:`~kizuna.documents.facts.Facts`.

The customer edition (the default) never shows the vendor's health score,
risk, internal notes or calls to action: those sections are added only when
``internal`` is true, and are marked as internal.
"""

from __future__ import annotations

from datetime import date, timedelta

from kizuna.documents import charts
from kizuna.documents.facts import ADOPTION_METRICS, USAGE_METRICS, Facts, Point
from kizuna.documents.i18n import N_, Lang
from kizuna.documents.model import Document, Image, Section, Table
from kizuna.plans import next_meeting
from kizuna.plans.evaluate import KpiResult
from kizuna.settings import Settings

#: EBR period: a quarter back from the as-of date, and a quarter ahead for the next plan.
EBR_PERIOD_DAYS = 90
#: A meeting report with no earlier meeting covers this many days.
DEFAULT_MEETING_PERIOD_DAYS = 28

STATUS = {
    "on_track": N_("On track"),
    "at_risk": N_("At risk"),
    "off_track": N_("Off track"),
    "achieved": N_("Achieved"),
    "no_data": N_("No data yet"),
}
METRIC_LABELS = {
    "active_users_28d": N_("Active users (28 days)"),
    "logins_28d": N_("Logins (28 days)"),
    "feature_breadth_28d": N_("Feature breadth (28 days)"),
    "seat_utilisation_28d": N_("Seat utilisation (28 days)"),
}
ROLE_LABELS = {
    "evaluator": N_("Evaluator"),
    "final_evaluator": N_("Final evaluator"),
    "promoter": N_("Promoter"),
    "end_user": N_("End users"),
    "other": N_("Other contacts"),
}
VENDOR_ROLE_LABELS = {
    "csm": N_("Customer success manager"),
    "executive_sponsor": N_("Executive sponsor"),
    "solutions_engineer": N_("Solutions engineer"),
}
CADENCE = {"weekly": N_("Weekly"), "biweekly": N_("Every two weeks"), "monthly": N_("Monthly")}
KIND_TITLES = {
    "plan": N_("Success plan"),
    "meeting": N_("Meeting report"),
    "ebr": N_("Executive business review"),
}


def _new(
    kind: str, facts: Facts, lang: Lang, internal: bool, settings: Settings, subtitle: str
) -> Document:
    _ = lang._
    return Document(
        kind=kind,
        language=lang.code,
        internal=internal,
        as_of=facts.as_of,
        account_id=facts.account_id,
        account_name=facts.account_name,
        title=f"{facts.account_name} — {_(KIND_TITLES[kind])}",
        subtitle=subtitle,
        edition_label=_("Internal edition — not for the customer")
        if internal
        else _("Prepared for {name}").format(name=facts.account_name),
        vendor_name=settings.vendor_name,
    )


def kpi_points(facts: Facts, k: KpiResult, start: date | None = None) -> list[Point]:
    """The KPI's measured values from its baseline date (or ``start``) to the as-of date."""
    begin = start or k.baseline_date
    if k.metric:
        return facts.series.series(facts.account_id, k.metric, begin, facts.as_of)
    return [
        (c.checkin_date, c.value)
        for c in facts.view.checkins.get(k.id, [])
        if begin <= c.checkin_date <= facts.as_of
    ]


def _value_on(points: list[Point], day: date) -> float | None:
    found = [v for d, v in points if d <= day]
    return found[-1] if found else None


def _fmt(lang: Lang, value: float | None, unit: str | None) -> str:
    text = lang.number(value)
    return f"{text} {unit}" if unit and value is not None else text


def kpi_table(facts: Facts, lang: Lang, kpis: list[KpiResult]) -> Table:
    _ = lang._
    rows = [
        [
            k.name,
            _fmt(lang, k.baseline, k.unit),
            _fmt(lang, k.current, k.unit),
            _fmt(lang, k.target, k.unit),
            lang.date(k.target_date),
            lang.percent(k.progress),
            _(STATUS[k.status.value]),
        ]
        for k in kpis
    ]
    headers = [
        _("KPI"),
        _("Baseline"),
        _("Now"),
        _("Target"),
        _("Target date"),
        _("Progress"),
        _("Status"),
    ]
    return Table(headers, rows)


def kpi_chart(facts: Facts, lang: Lang, k: KpiResult, color: str) -> Image:
    points = [(k.baseline_date, k.baseline), *kpi_points(facts, k)]
    png = charts.line_chart(
        k.name,
        points,
        lang.code,
        color,
        baseline=(k.baseline_date, k.baseline),
        target=(k.target_date, k.target),
        target_label=lang._("Planned line to target"),
    )
    return Image(png, k.name)


def all_kpis(facts: Facts) -> list[KpiResult]:
    return ([facts.view.kgi] if facts.view.kgi else []) + list(facts.view.kpis)


def _next_meetings(facts: Facts, lang: Lang, after: date) -> list[str]:
    """Each series' next meeting on or after ``after``, soonest first."""
    found = []
    for m in facts.view.meetings:
        day = next_meeting(m.first_date, m.cadence, after, m.last_date)
        if day is not None:
            found.append((day, f"{lang.date(day)} — {m.name} ({lang._(CADENCE[m.cadence])})"))
    return [text for _day, text in sorted(found)]


def _health_section(facts: Facts, lang: Lang, color: str) -> Section:
    _ = lang._
    s = Section("health", _("Health (internal)"), internal=True)
    points = [(h["as_of"], float(h["score"])) for h in facts.health if h["score"] is not None]
    if points:
        s.paragraphs.append(
            _("Health score {now} on {day} (band {band}).").format(
                now=lang.number(points[-1][1]),
                day=lang.date(points[-1][0]),
                band=facts.health[-1]["band"],
            )
        )
        s.images.append(
            Image(charts.line_chart(_("Health score"), points, lang.code, color), _("Health score"))
        )
    else:
        s.paragraphs.append(_("No health snapshots yet."))
    return s


def _risk_section(facts: Facts, lang: Lang) -> Section:
    _ = lang._
    s = Section("risk", _("Churn risk (internal)"), internal=True)
    risk = facts.risk
    if risk is None:
        s.paragraphs.append(_("No churn risk score yet."))
        return s
    s.paragraphs.append(
        _("Churn probability at the next renewal: {p} ({band}), scored on {day}.").format(
            p=lang.percent(risk["probability"]),
            band=risk["band_label"],
            day=lang.date(risk["as_of"]),
        )
    )
    s.bullets = [d["text"] for d in risk["drivers"]]
    return s


#: A call to action's status in words (the ids are kizuna.actions.model.STATUSES).
CTA_STATUS_WORDS = {
    "queued": N_("Queued"),
    "open": N_("Open"),
    "in_progress": N_("In progress"),
    "snoozed": N_("Snoozed"),
    "closed_won": N_("Closed won"),
    "closed_lost": N_("Closed lost"),
}


def _ctas_section(facts: Facts, lang: Lang) -> Section:
    _ = lang._
    s = Section("ctas", _("Calls to action in the period (internal)"), internal=True)
    s.bullets = []
    for c in facts.ctas:
        status = _(CTA_STATUS_WORDS.get(c.status, c.status))
        if c.due_date is not None:
            status = _("{status}, due {day}").format(status=status, day=lang.date(c.due_date))
        s.bullets.append(f"{c.title} — {status}")
    if not s.bullets:
        s.paragraphs.append(_("No call to action in this period."))
    return s


def _internal_context(facts: Facts, lang: Lang) -> Section:
    _ = lang._
    s = Section("internal", _("Internal notes and warnings"), internal=True)
    s.bullets = [w.message for w in facts.view.warnings]
    s.bullets += [
        f"{lang.date(a['date'])} — {a['text']}" for a in facts.activities if not a["shared"]
    ]
    if not s.bullets:
        s.paragraphs.append(_("Nothing to note."))
    return s


# -- the success plan document --------------------------------------------------


def plan_document(facts: Facts, lang: Lang, internal: bool, settings: Settings) -> Document:
    _ = lang._
    v, color = facts.view, settings.vendor_color
    p = v.plan
    doc = _new(
        "plan",
        facts,
        lang,
        internal,
        settings,
        f"{p.title} · {lang.date(p.start_date)} – {lang.date(p.end_date)} · "
        + _("as of {day}").format(day=lang.date(facts.as_of)),
    )
    goal = Section("goal", _("Goal (KGI)"))
    if v.kgi:
        goal.paragraphs.append(
            f"{v.kgi.name}: {_fmt(lang, v.kgi.baseline, v.kgi.unit)} → "
            f"{_fmt(lang, v.kgi.target, v.kgi.unit)} ({lang.date(v.kgi.target_date)})"
        )
    doc.sections.append(goal)
    roles = Section("roles", _("Project structure"))
    for role, people in v.contacts.items():
        if role == "other":
            continue
        names = ", ".join(c["name"] for c in people) or _("not named yet")
        roles.bullets.append(f"{_(ROLE_LABELS[role])}: {names}")
    for r in v.vendor_roles:
        role_label = (
            _(VENDOR_ROLE_LABELS[r["role"]]) if r["role"] in VENDOR_ROLE_LABELS else r["role"]
        )
        roles.bullets.append(f"{settings.vendor_name} ({role_label}): {r['name'] or '—'}")
    doc.sections.append(roles)
    issues = Section("issues", _("Purpose and problems"))
    issues.tables.append(
        Table(
            [_("Business issue"), _("Problem"), _("Solution"), _("Benefit")],
            [
                [i.business_issue, i.problem or "", i.solution or "", i.benefit or ""]
                for i in v.issues
            ],
        )
    )
    doc.sections.append(issues)
    road = Section("roadmap", _("Improvement roadmap"))
    road.tables.append(
        Table(
            [_("Order"), _("Initiative"), _("Purpose"), _("Impact"), _("Difficulty")],
            [
                [str(i.position), i.name, i.purpose or "", str(i.impact), str(i.difficulty)]
                for i in v.initiatives
            ],
        )
    )
    road.images.append(
        Image(
            charts.matrix_chart(
                _("Impact × difficulty"),
                [(i.name, i.impact, i.difficulty) for i in v.initiatives],
                lang.code,
                color,
                _("Difficulty"),
                _("Impact"),
            ),
            _("Impact × difficulty"),
        )
    )
    doc.sections.append(road)
    kpis = Section("kpis", _("KPIs"))
    kpis.tables.append(kpi_table(facts, lang, all_kpis(facts)))
    kpis.images = [kpi_chart(facts, lang, k, color) for k in all_kpis(facts)]
    doc.sections.append(kpis)
    doc.sections.append(_milestones_section(facts, lang))
    meet = Section("meetings", _("Meetings"))
    meet.bullets = [
        f"{m.name} — {_(CADENCE[m.cadence])}, " + _("next {day}").format(day=lang.date(m.next_date))
        for m in v.meetings
    ]
    doc.sections.append(meet)
    flow = Section("checklist", _("After the start: steps and pitfalls to avoid"))
    flow.tables.append(
        Table(
            [_("Step"), _("Pitfall to avoid"), _("Done")],
            [
                [c.label, c.failure_pattern or "", lang.date(c.done_on) if c.done else ""]
                for c in v.checklist
            ],
        )
    )
    doc.sections.append(flow)
    if internal:
        doc.sections.append(_internal_context(facts, lang))
    return doc


def _milestones_section(facts: Facts, lang: Lang, since: date | None = None) -> Section:
    _ = lang._
    s = Section("milestones", _("Milestones"))
    rows = []
    for m in facts.view.milestones:
        if m["state"] == "done":
            state = _("Done")
        elif m["overdue"]:
            state = _("Overdue")
        else:
            state = _("Open")
        rows.append([m["name"], lang.date(m["due_date"]), state])
    s.tables.append(Table([_("Milestone"), _("Due"), _("Status")], rows))
    return s


# -- the meeting report ----------------------------------------------------------


def meeting_report(
    facts: Facts, lang: Lang, internal: bool, settings: Settings, previous: date | None
) -> Document:
    _ = lang._
    color = settings.vendor_color
    since = previous or facts.as_of - timedelta(days=DEFAULT_MEETING_PERIOD_DAYS)
    doc = _new(
        "meeting",
        facts,
        lang,
        internal,
        settings,
        _("Meeting of {day} · since {since}").format(
            day=lang.date(facts.as_of), since=lang.date(since)
        ),
    )
    kpis = all_kpis(facts)
    s = Section("kpis", _("KPIs since the previous meeting"))
    rows = []
    for k in kpis:
        pts = [(k.baseline_date, k.baseline), *kpi_points(facts, k)]
        before = _value_on(pts, since)
        change = k.current - before if k.current is not None and before is not None else None
        rows.append(
            [
                k.name,
                _fmt(lang, before, k.unit),
                _fmt(lang, k.current, k.unit),
                ("+" if change and change > 0 else "") + lang.number(change),
                _fmt(lang, k.target, k.unit),
                _(STATUS[k.status.value]),
            ]
        )
    s.tables.append(
        Table([_("KPI"), _("Previous"), _("Now"), _("Change"), _("Target"), _("Status")], rows)
    )
    s.images = [kpi_chart(facts, lang, k, color) for k in kpis]
    doc.sections.append(s)
    ms = Section("milestones", _("Milestones done and due"))
    done = [
        m
        for m in facts.view.milestones
        if m["state"] == "done" and since < (m["done_on"] or m["due_date"]) <= facts.as_of
    ]
    due = [m for m in facts.view.milestones if m["state"] != "done"]
    ms.bullets = [
        _("Done: {name} ({day})").format(
            name=m["name"], day=lang.date(m["done_on"] or m["due_date"])
        )
        for m in done
    ]
    ms.bullets += [
        (_("Overdue: {name} (due {day})") if m["overdue"] else _("Due: {name} ({day})")).format(
            name=m["name"], day=lang.date(m["due_date"])
        )
        for m in due
    ]
    if not ms.bullets:
        ms.paragraphs.append(_("No milestone done or due."))
    doc.sections.append(ms)
    doc.sections.append(
        _usage_section(facts, lang, since, USAGE_METRICS, "usage", _("Usage movement"))
    )
    acts = Section("actions", _("Agreed actions"))
    acts.bullets = [
        f"{lang.date(a['date'])} — {a['text']}" for a in facts.activities if a["shared"]
    ]
    if not acts.bullets:
        acts.paragraphs.append(_("No action recorded with the customer in this period."))
    doc.sections.append(acts)
    nxt = Section("next", _("Next meeting"))
    upcoming = _next_meetings(facts, lang, facts.as_of + timedelta(days=1))
    nxt.bullets = upcoming[:3] or [_("No meeting scheduled.")]
    doc.sections.append(nxt)
    if internal:
        doc.sections.append(_health_section(facts, lang, color))
        doc.sections.append(_ctas_section(facts, lang))
        doc.sections.append(_internal_context(facts, lang))
    return doc


def _usage_section(
    facts: Facts, lang: Lang, since: date, metrics: tuple[str, ...], key: str, heading: str
) -> Section:
    _ = lang._
    s = Section(key, heading)
    rows = []
    for metric in metrics:
        before = facts.series.value_on(facts.account_id, metric, since)
        now = facts.series.value_on(facts.account_id, metric, facts.as_of)
        b, n = (before[1] if before else None), (now[1] if now else None)
        if metric == "seat_utilisation_28d":
            fb, fn = lang.percent(b), lang.percent(n)
        else:
            fb, fn = lang.number(b), lang.number(n)
        change = n - b if n is not None and b is not None else None
        ch = lang.percent(change) if metric == "seat_utilisation_28d" else lang.number(change)
        rows.append([_(METRIC_LABELS[metric]), fb, fn, ("+" if change and change > 0 else "") + ch])
    s.tables.append(
        Table([_("Measure"), lang.date(since), lang.date(facts.as_of), _("Change")], rows)
    )
    return s


# -- the executive business review -------------------------------------------------


def ebr(facts: Facts, lang: Lang, internal: bool, settings: Settings) -> Document:
    _ = lang._
    color = settings.vendor_color
    start = facts.as_of - timedelta(days=EBR_PERIOD_DAYS)
    doc = _new(
        "ebr",
        facts,
        lang,
        internal,
        settings,
        _("Period {start} – {end}").format(start=lang.date(start), end=lang.date(facts.as_of)),
    )
    kpis = all_kpis(facts)
    value = Section("value", _("Value delivered against the agreed KPIs"))
    value.tables.append(kpi_table(facts, lang, kpis))
    value.images = [kpi_chart(facts, lang, k, color) for k in kpis]
    doc.sections.append(value)
    adoption = _usage_section(facts, lang, start, ADOPTION_METRICS, "adoption", _("Adoption"))
    users = facts.series.series(facts.account_id, "active_users_28d", start, facts.as_of)
    if users:
        adoption.images.append(
            Image(
                charts.line_chart(_(METRIC_LABELS["active_users_28d"]), users, lang.code, color),
                _(METRIC_LABELS["active_users_28d"]),
            )
        )
    doc.sections.append(adoption)
    sup, support = facts.support, Section("support", _("Support summary"))
    support.tables.append(
        Table(
            [_("Measure"), _("Value")],
            [
                [_("Tickets opened"), lang.number(sup.opened)],
                [_("Tickets closed"), lang.number(sup.closed)],
                [_("Open now"), lang.number(sup.open_now)],
                [_("High or urgent"), lang.number(sup.urgent_or_high)],
                [_("Median hours to close"), lang.number(sup.median_hours_to_close)],
                [_("Average satisfaction (CSAT)"), lang.number(sup.csat)],
            ],
        )
    )
    doc.sections.append(support)
    contract = Section("contract", _("Contract and renewal"))
    if facts.contract:
        c = facts.contract
        contract.bullets = [
            _("Products: {names}").format(names=", ".join(c.products)),
            _("Annual value: {arr} {currency}").format(
                arr=lang.number(float(c.arr), 0), currency=c.currency
            ),
            _("Renewal date: {day}").format(day=lang.date(c.renewal_date)),
        ]
        if c.seats:
            contract.bullets.append(_("Seats: {n}").format(n=lang.number(c.seats)))
    else:
        contract.paragraphs.append(_("No active contract on this date."))
    doc.sections.append(contract)
    plan = Section("next_period", _("Plan for the next period"))
    horizon = facts.as_of + timedelta(days=EBR_PERIOD_DAYS)
    plan.bullets = [
        _("Milestone: {name} ({day})").format(name=m["name"], day=lang.date(m["due_date"]))
        for m in facts.view.milestones
        if m["state"] != "done" and m["due_date"] <= horizon
    ]
    plan.bullets += [
        _("Initiative: {name}").format(name=i.name)
        for i in facts.view.initiatives
        if any(k.status.value != "achieved" for k in i.kpis)
    ]
    plan.bullets += _next_meetings(facts, lang, facts.as_of + timedelta(days=1))[:3]
    doc.sections.append(plan)
    if internal:
        doc.sections.append(_health_section(facts, lang, color))
        doc.sections.append(_risk_section(facts, lang))
        doc.sections.append(_ctas_section(facts, lang))
        doc.sections.append(_internal_context(facts, lang))
    return doc
