"""Problems and errors, worded in the page's language.

The core reports what is wrong as a :class:`kizuna.errors.Problem` (or a
:class:`kizuna.errors.KizunaError`) with a stable ``code`` and the values its
message names (``params``); the English ``message`` is the command line's and
the API's wording. Pages word a problem through the catalogs from its code
(:func:`problem_text`), so an import, a definition file's problems, a refused
form and an error page read in the page's language. A problem without a known
code keeps its message; an error without one is worded by its HTTP status
(:func:`error_text`). Tests list every code the import and the definition
loaders can produce and check that each has words in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from markupsafe import Markup

from kizuna.errors import KizunaError, Problem
from kizuna.web.i18n import N_, format_date, gettext

#: A form's problems by field: a message of the catalogs or a problem worded from its code.
FieldErrors = Mapping[str, "str | Problem"]

#: Each problem code's words (an English msgid with the problem's ``params``).
PROBLEM_TEXT: Mapping[str, str] = {
    # a value of a row (kizuna.dataio.validate.error_code)
    "required": N_("required value missing"),
    "not_allowed": N_("'%(value)s' is not one of %(expected)s"),
    "too_small": N_("must be at least %(bound)s, got %(value)s"),
    "not_greater": N_("must be greater than %(bound)s, got %(value)s"),
    "too_large": N_("must be at most %(bound)s, got %(value)s"),
    "not_whole": N_("'%(value)s' is not a whole number"),
    "not_number": N_("'%(value)s' is not a number"),
    "too_many_digits": N_("%(value)s has too many digits"),
    "too_many_decimals": N_("%(value)s has more than %(places)s decimal places"),
    "not_boolean": N_("'%(value)s' is not true or false"),
    "not_text": N_("'%(value)s' is not text"),
    "too_long": N_("is longer than %(max)s characters"),
    # the import's own value checks (kizuna.dataio.schemas)
    "date_format": N_("'%(value)s' is not a date (YYYY-MM-DD)"),
    "timestamp_format": N_(
        "'%(value)s' is not an ISO 8601 timestamp (e.g. 2025-06-30T09:15:00+09:00)"
    ),
    "json_object": N_("must be a JSON object, e.g. %(example)s"),
    "json_object.error": N_("is not valid JSON (%(error)s)"),
    "currency_code": N_("'%(value)s' is not a 3-letter currency code (ISO 4217, e.g. USD)"),
    "email": N_("'%(value)s' is not an e-mail address"),
    "id_characters": N_("an id must not contain control characters (such as NUL or newline)"),
    "nul_character": N_("text must not contain NUL characters"),
    "row_check.end_date": N_("end_date %(end)s is before start_date %(start)s"),
    "row_check.closed_at": N_("closed_at %(closed)s is before opened_at %(opened)s"),
    "row_check.score": N_("%(kind)s score must be between %(low)s and %(high)s, got %(score)s"),
    # the file and the rows together (kizuna.dataio.validate)
    "empty_file": N_("the file is empty; expected a header row"),
    "unreadable_record": N_("unreadable record: %(detail)s"),
    "unknown_column": N_("unknown column '%(column)s'; the %(table)s columns are %(columns)s"),
    "duplicate_column": N_("column '%(column)s' appears %(count)s times"),
    "missing_column": N_("required column '%(column)s' is missing"),
    "also_given": N_("'%(value)s' is also given for %(other)s (row %(first_row)s)"),
    "duplicate_key": N_("duplicate id '%(key)s' (first at row %(first_row)s)"),
    "unknown_reference": N_("no %(noun)s '%(value)s' in the store"),
    "unknown_reference_here": N_("no %(noun)s '%(value)s' in the store or in this file"),
    "reference_cycle": N_("references form a cycle: %(path)s"),
    "taken": N_("'%(value)s' already belongs to '%(owner)s' in the store"),
    "refers_to_rejected": N_("refers to '%(target)s', rejected at row %(rejected_row)s"),
    # reading the file (kizuna.dataio.readers, kizuna.dataio.importer)
    "not_utf8": N_(
        "byte %(byte)s at position %(position)s is not UTF-8; "
        "save the file as UTF-8 (with or without BOM)"
    ),
    "csv_syntax": N_("CSV syntax error: %(detail)s"),
    "unknown_table": N_("unknown table '%(table)s'"),
    # the work forms and their services (kizuna.actions, kizuna.auth.vault, kizuna.health)
    "unknown": N_("no %(noun)s %(value)s"),
    "text_length": N_("write 1 to %(max)s characters"),
    "id_format": N_("an id is lower-case letters, digits, '-' or '_' (at most %(max)s)"),
    "date_before_today": N_("%(date)s is before today (%(today)s)"),
    "date_after_today": N_("%(date)s is after today (%(today)s)"),
    "out_of_range": N_("must be from %(low)s to %(high)s, got %(value)s"),
    "snooze_until": N_("snooze until a day after today (%(today)s), got %(date)s"),
    "snooze_reason": N_("say why the CTA is snoozed"),
    "activity_text": N_("write what happened"),
    "opt_out_kept": N_("a contact's opt-out is always honoured; only they can undo it"),
    "cta_closed": N_("this CTA is already closed"),
    "cta_queued": N_("this CTA is queued, not yet open"),
    "team_exists": N_("team '%(team)s' already exists"),
    "team_has_ctas": N_(
        "team '%(team)s' still has %(count)s active CTAs; close or reassign them first"
    ),
    "not_in_team": N_("'%(member)s' is not in team '%(team)s'"),
    "secrets_no_key": N_(
        "no encryption key for stored secrets: set KIZUNA_SECRETS_KEY "
        "(make one with 'kizuna secret new-key' and keep it outside the data folder)"
    ),
    "secrets_bad_key": N_(
        "KIZUNA_SECRETS_KEY is not a Fernet key (32 bytes, URL-safe base64; "
        "make one with 'kizuna secret new-key')"
    ),
    "form_expired": N_("the form expired: reload the page and try again"),
    "admin_only": N_("only an admin may do this"),
    "manager_only": N_("changing teams needs a manager or an admin"),
    "log_in": N_("log in first"),
    "may_not_write": N_("you may not change this account"),
    "check_fields": N_("check: %(fields)s"),
    "choose_date": N_("choose a date"),
    "choose_sentiment": N_("choose 1 to 5"),
    # success plans (kizuna.plans)
    "plan.no_part": N_("no %(part)s '%(value)s' in this plan"),
    "plan.kpi_measured": N_("KPI '%(kpi)s' is measured by metric '%(metric)s'"),
    "plan.key_taken": N_("key '%(key)s' is taken in this plan"),
    "plan.active_taken": N_("the account already has an active plan %(plan)s"),
    "plan.end_date": N_("the end date must be after the start date"),
    "plan.target_same": N_("the target must differ from the baseline"),
    "plan.target_above": N_("a 'higher is better' KPI needs a target above its baseline"),
    "plan.target_below": N_("a 'lower is better' KPI needs a target below its baseline"),
    "plan.target_date": N_("the target date must be after the baseline date"),
    "plan.finite": N_("must be a finite number"),
    "plan.measured_by": N_("say who measured it"),
    "plan.no_checkins": N_("a metric-bound KPI takes no check-ins"),
    # definition files (metrics, scorecards, lifecycle, rules): reading them
    "unreadable": N_("cannot read the file: %(error)s"),
    "yaml_syntax": N_("not valid YAML: %(error)s"),
    "not_a_mapping": N_("the file must hold a mapping"),
    "unknown_keys": N_("unknown top-level keys: %(keys)s"),
    # the checks of pydantic, by their type (kizuna.errors.validation_code)
    "pydantic.missing": N_("required value missing"),
    "pydantic.extra_forbidden": N_("unknown key (not part of the definition format)"),
    "pydantic.literal_error": N_("'%(input)s' is not allowed; expected %(expected)s"),
    "pydantic.enum": N_("'%(input)s' is not allowed; expected %(expected)s"),
    "pydantic.string_pattern_mismatch": N_("'%(input)s' does not match the pattern %(pattern)s"),
    "pydantic.string_too_long": N_("is longer than %(max_length)s characters"),
    "pydantic.string_too_short": N_("is shorter than %(min_length)s characters"),
    "pydantic.string_type": N_("must be text"),
    "pydantic.int_type": N_("must be a whole number"),
    "pydantic.int_parsing": N_("'%(input)s' is not a whole number"),
    "pydantic.int_from_float": N_("'%(input)s' is not a whole number"),
    "pydantic.float_type": N_("must be a number"),
    "pydantic.float_parsing": N_("'%(input)s' is not a number"),
    "pydantic.bool_type": N_("must be true or false"),
    "pydantic.bool_parsing": N_("'%(input)s' is not true or false"),
    "pydantic.greater_than": N_("must be greater than %(gt)s"),
    "pydantic.greater_than_equal": N_("must be at least %(ge)s"),
    "pydantic.less_than": N_("must be less than %(lt)s"),
    "pydantic.less_than_equal": N_("must be at most %(le)s"),
    "pydantic.too_short": N_("needs at least %(min_length)s items"),
    "pydantic.too_long": N_("takes at most %(max_length)s items"),
    "pydantic.list_type": N_("must be a list"),
    "pydantic.tuple_type": N_("must be a list"),
    "pydantic.dict_type": N_("must be a mapping"),
    "pydantic.model_type": N_("must be a mapping"),
    "pydantic.model_attributes_type": N_("must be a mapping"),
    "pydantic.union_tag_invalid": N_("'%(tag)s' is not one of %(expected_tags)s"),
    "pydantic.union_tag_not_found": N_("say which kind it is ('%(discriminator)s')"),
    "pydantic.date_from_datetime_parsing": N_("'%(input)s' is not a date (YYYY-MM-DD)"),
    "pydantic.date_parsing": N_("'%(input)s' is not a date (YYYY-MM-DD)"),
    "pydantic.date_type": N_("must be a date (YYYY-MM-DD)"),
    # metric definitions (kizuna.metrics.definitions)
    "metrics.not_a_file": N_("expected a mapping with a 'metrics:' list"),
    "metrics.predicate_empty": N_("give at least one of eq, ne, gt, gte, lt, lte, in"),
    "metrics.events_empty": N_("events must list at least one event name (omit it for all events)"),
    "metrics.property_names": N_("property names must be identifiers: %(names)s"),
    "metrics.kind_needs": N_("kind %(kind)s needs %(fields)s"),
    "metrics.no_window": N_("kind %(kind)s takes no window_days"),
    "metrics.duplicate_name": N_("duplicate metric name '%(name)s' (first at %(first)s)"),
    "metrics.unknown_metric": N_("unknown metric '%(name)s'"),
    "metrics.cycle": N_("metrics refer to each other in a cycle: %(path)s"),
    # scorecards (kizuna.health.scorecard)
    "scorecard.nps_survey": N_("aggregate 'nps' needs survey 'nps'"),
    "scorecard.fit_test": N_("give either 'in' or 'min'/'max'"),
    "scorecard.min_max": N_("'min' must not exceed 'max'"),
    "scorecard.cuts_scores": N_("need one more score than cuts: %(cuts)s cuts, %(scores)s scores"),
    "scorecard.cuts_order": N_("cuts must be strictly increasing"),
    "scorecard.score_range": N_("scores must lie between 0 and 100"),
    "scorecard.worst_best": N_("'worst' and 'best' must differ"),
    "scorecard.measures_repeat": N_("measure names repeat: %(names)s"),
    "scorecard.measures_repeat_groups": N_("measure names repeat across groups: %(names)s"),
    "scorecard.groups_repeat": N_("group names repeat: %(names)s"),
    "scorecard.bands_order": N_("'yellow' must not exceed 'green'"),
    "scorecard.no_files": N_("no scorecard files given"),
    "scorecard.name_taken": N_("scorecard name '%(name)s' is also used in %(path)s"),
    "scorecard.segment_taken": N_(
        "segment '%(segment)s' is also claimed by scorecard '%(other)s' in %(path)s"
    ),
    "scorecard.no_fallback": N_(
        "no fallback scorecard: give one scorecard without applies_to.segments, "
        "so accounts of other segments are scored too"
    ),
    "scorecard.two_fallbacks": N_(
        "more than one fallback scorecard ('%(first)s' and '%(other)s'); "
        "give all but one an applies_to.segments list"
    ),
    # the lifecycle (kizuna.lifecycle.definitions)
    "lifecycle.id_format": N_(
        "id '%(id)s' must be lower-case letters, digits and underscores, starting with a letter"
    ),
    "lifecycle.one_subject": N_(
        "a condition needs exactly one of fact, milestone, metric, health, events, "
        "activity; got %(got)s"
    ),
    "lifecycle.milestone_done": N_("a milestone condition takes only 'done: true|false'"),
    "lifecycle.done_only_milestones": N_("'done' applies to milestone conditions only"),
    "lifecycle.comparison": N_("a condition needs a comparison: eq, ne, lt, lte, gt, gte or in"),
    "lifecycle.all_or_any": N_("a rule has exactly one of 'all' or 'any' (a non-empty list)"),
    "lifecycle.empty_rule": N_("a rule's condition list is empty"),
    "lifecycle.stage_twice": N_("stage id '%(id)s' is used twice"),
    "lifecycle.last_entry": N_(
        "the last stage must have no entry rule: it is the catch-all that gives every "
        "customer exactly one stage"
    ),
    "lifecycle.entry_missing": N_("only the last stage may omit its entry rule"),
    "lifecycle.segment_twice": N_("segment '%(segment)s' has two templates"),
    "lifecycle.milestone_twice": N_("milestone id '%(id)s' is used twice"),
    "lifecycle.one_flag": N_(
        "exactly one milestone must be marked %(flag)s: true (found %(count)s)"
    ),
    "lifecycle.no_catch_all": N_("one template needs segments: ['*'] for any other segment"),
    "lifecycle.unknown_fact": N_("unknown fact '%(fact)s'; known: %(known)s"),
    "lifecycle.unknown_milestone": N_("unknown milestone '%(id)s'"),
    "lifecycle.circular_fact": N_("a milestone cannot depend on the fact '%(fact)s' (circular)"),
    "lifecycle.milestone_cycle": N_("milestones depend on each other in a circle: %(path)s"),
    # the rules (kizuna.actions.definitions, kizuna.actions.conditions)
    "rules.duplicate_rule": N_("duplicate rule id '%(id)s'"),
    "rules.duplicate_playbook": N_("duplicate playbook id '%(id)s'"),
    "rules.unknown_playbook": N_("unknown playbook '%(id)s'; defined: %(known)s"),
    "rules.team_needed": N_("assign to a team needs team: ID"),
    "rules.digital_needs": N_("a digital action needs role, subject and body"),
    "rules.days": N_("%(name)s must be a whole number of days ≥ 1, got %(value)s"),
    "rules.true_false": N_("%(name)s must be true or false, got %(value)s"),
    "rules.one_of": N_("%(name)s must be one of %(expected)s, got %(value)s"),
    "rules.a_name": N_("%(name)s must be a name, got %(value)s"),
    "rules.text_fact": N_("%(op)s compares numbers; this fact is text (use eq, ne, in, not_in)"),
    "rules.needs_list": N_("%(op)s needs a non-empty list, got %(value)s"),
    "rules.needs_numbers": N_("%(op)s needs a list of numbers, got %(value)s"),
    "rules.needs_number": N_("%(op)s needs a number, got %(value)s"),
    "rules.needs_text": N_("%(op)s needs a text value, got %(value)s"),
    "rules.unknown_fact": N_("unknown fact %(fact)s; known facts: %(known)s"),
    "rules.unknown_key": N_("unknown key '%(key)s' for fact '%(fact)s'; allowed: %(allowed)s"),
    "rules.fact_needs": N_("fact '%(fact)s' needs '%(param)s'"),
    "rules.no_comparison": N_("say what to compare with: one of %(ops)s"),
    "rules.not_a_condition": N_("a condition must be a mapping, got %(value)s"),
    "rules.empty_list": N_("%(key)s needs a non-empty list of conditions"),
    "rules.unknown_condition": N_(
        "unknown condition keys %(keys)s; use all, any, not, fact, metric, attention or no_open_cta"
    ),
}

#: The titles of the errors (``KizunaError.title``), listed so that the catalogs have them.
ERROR_TITLES = (
    N_("Internal error"), N_("Configuration error"), N_("Invalid input"), N_("Import rejected"),
    N_("Not found"), N_("Conflict"), N_("Backup or restore failed"), N_("Permission denied"),
    N_("Not authenticated"), N_("Payload too large"), N_("Too many requests"),
    N_("Bad request"), N_("Store not ready"), N_("Missing optional dependency"), N_("Error"),
)  # fmt: skip

#: An error without a code of its own, worded by its HTTP status.
STATUS_TEXT: Mapping[int, str] = {
    400: N_("The request was not understood."),
    401: N_("Log in to see this page."),
    403: N_("You may not do this."),
    404: N_("There is nothing here, or it is not in your book."),
    409: N_("This conflicts with what is stored: reload the page and try again."),
    413: N_("The upload is too large."),
    422: N_("Some values are not valid."),
    429: N_("Too many attempts: wait a few minutes and try again."),
    500: N_("Something went wrong on our side."),
    503: N_("The store is not ready: ask an administrator to run kizuna init."),
}

#: What a row of each table is called in a problem ("no account 'A9' in the store").
TABLE_NOUNS: Mapping[str, str] = {
    "team": N_("team member"),
    "accounts": N_("account"),
    "contacts": N_("contact"),
    "contracts": N_("contract line"),
    "meeting-series": N_("meeting series"),
    "ctas": N_("call to action"),
    "tasks": N_("task"),
    "teams": N_("team"),
    "playbooks": N_("playbook"),
    "secrets": N_("stored secret"),
    "opportunities": N_("opportunity"),
    "plans": N_("success plan"),
}


def problem_text(problem: Problem | str) -> Markup:
    """The problem in the current language (its English message when its code is unknown).

    A plain string is a message of the catalogs (a form's own check) and is translated.
    Like the templates' ``_()``, the result is markup: the catalog's words as they are,
    the values (and a message from the core) escaped.
    """
    if isinstance(problem, str):
        return Markup(gettext(problem)) if problem else Markup("")
    return coded_text(problem.code, problem.params, problem.message)


def coded_text(code: str | None, params: Mapping[str, Any] | None, fallback: str) -> Markup:
    """The words of ``code`` with ``params`` in the current language; ``fallback`` when the
    code has no words or the values do not fit them."""
    code = code or ""
    values: dict[str, Any] = {
        k: format_date(v) if isinstance(v, date) else v for k, v in (params or {}).items()
    }
    if code == "json_object" and "error" in values:
        code = "json_object.error"
    if "table" in values and code.startswith("unknown"):
        table = str(values["table"])
        values["noun"] = gettext(TABLE_NOUNS[table]) if table in TABLE_NOUNS else table
    template = PROBLEM_TEXT.get(code)
    if template is None:  # a message of the catalogs (the web's own checks) is translated
        return Markup.escape(gettext(fallback) if fallback else fallback)
    try:
        return Markup(gettext(template)) % values
    except (KeyError, TypeError, ValueError):  # params not those of the code: the core's words
        return Markup.escape(fallback)


def error_problems(exc: KizunaError) -> list[Problem]:
    """What a refused form shows: the error's problems, else the error itself as one."""
    problems: Sequence[Problem] = getattr(exc, "problems", ())
    if problems:
        return list(problems)
    return [Problem(exc.message, code=exc.code, params=exc.params)]


def error_text(exc: KizunaError, lang: str) -> Markup:
    """An error page's detail in the current language: the error's words from its code,
    else (a message the catalogs do not know) the words of its HTTP status — the English
    message only on an English page."""
    worded = coded_text(exc.code, exc.params, "")
    if worded:
        return worded
    if lang == "en" or exc.status_code not in STATUS_TEXT:
        return Markup.escape(exc.message)
    return Markup(gettext(STATUS_TEXT[exc.status_code]))
