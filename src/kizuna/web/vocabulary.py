"""Identifiers the pages show through the ``term`` filter, listed so the catalogs have them.

Roles, statuses, priorities and kinds are stored as identifiers (``end_user``,
``done_late``); :func:`kizuna.web.i18n.format_term` shows each as its catalog
translation, so every one of them needs a catalog entry in both languages.
The shipped segment names (the simulator's) are translated the same way; a
customer's own segments are shown as they are.
"""

from kizuna.web.i18n import N_

TERMS = (
    # success roles
    N_("evaluator"),
    N_("final_evaluator"),
    N_("promoter"),
    N_("end_user"),
    N_("champion"),
    N_("other"),
    # ticket priorities and statuses
    N_("low"),
    N_("normal"),
    N_("high"),
    N_("urgent"),
    N_("open"),
    N_("pending"),
    N_("solved"),
    N_("closed"),
    # contract statuses
    N_("active"),
    N_("ended"),
    N_("cancelled"),
    # timeline kinds
    N_("meeting"),
    N_("call"),
    N_("email"),
    N_("note"),
    N_("ticket"),
    N_("nps"),
    N_("csat"),
    N_("milestone"),
    N_("stage"),
    # milestone statuses and owners
    N_("done"),
    N_("done_late"),
    N_("overdue"),
    N_("vendor"),
    N_("customer"),
    # user roles
    N_("admin"),
    N_("manager"),
    N_("csm"),
    N_("viewer"),
    # the simulator's segments
    N_("enterprise"),
    N_("mid-market"),
    N_("smb"),
)
