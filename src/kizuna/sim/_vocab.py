"""Word lists the simulator draws names and texts from (fixed order: determinism)."""

from __future__ import annotations

SEGMENTS = ("enterprise", "mid-market", "smb")
REGIONS = ("NA", "EMEA", "APAC")
#: Hour (UTC) when the business day starts in each region: NA ~ US Eastern, EMEA ~ CET, APAC ~ JST.
REGION_DAY_START_UTC = (13, 7, 0)
INDUSTRIES = (
    "software",
    "manufacturing",
    "financial services",
    "healthcare",
    "retail",
    "logistics",
    "media",
    "education",
    "professional services",
    "telecommunications",
)
NAME_FIRST = (
    "Blue",
    "North",
    "Silver",
    "Bright",
    "Green",
    "Summit",
    "Iron",
    "Clear",
    "Red",
    "Golden",
    "Sakura",
    "Fuji",
    "Harbor",
    "Pine",
    "Stone",
    "Swift",
    "Nova",
    "Orbit",
    "Maple",
    "Cedar",
)
NAME_SECOND = (
    "Wave",
    "Peak",
    "Bridge",
    "Field",
    "Works",
    "Labs",
    "Point",
    "Line",
    "Gate",
    "Forge",
    "River",
    "Path",
    "Stack",
    "Leaf",
    "Arc",
    "Bay",
)
NAME_SUFFIX = {
    "software": ("Software", "Technologies", "Systems"),
    "manufacturing": ("Industries", "Manufacturing", "Components"),
    "financial services": ("Capital", "Financial", "Partners"),
    "healthcare": ("Health", "Medical", "Care"),
    "retail": ("Retail", "Stores", "Market"),
    "logistics": ("Logistics", "Freight", "Transport"),
    "media": ("Media", "Studios", "Publishing"),
    "education": ("Learning", "Academy", "Education"),
    "professional services": ("Consulting", "Advisors", "Group"),
    "telecommunications": ("Telecom", "Networks", "Communications"),
}
FIRST_NAMES = (
    "Aiko", "Haruto", "Yui", "Sota", "Emma", "Liam", "Olivia", "Noah", "Sofia", "Lucas",
    "Mia", "Ethan", "Hana", "Ren", "Chloe", "Mateo", "Yuki", "Kenji", "Grace", "Daniel",
    "Priya", "Arjun", "Lea", "Jonas", "Sara", "David", "Mei", "Takumi", "Anna", "Omar",
)  # fmt: skip
LAST_NAMES = (
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Smith", "Johnson", "Garcia",
    "Müller", "Schmidt", "Martin", "Rossi", "Kim", "Lee", "Chen", "Nakamura", "Kobayashi",
    "Brown", "Dubois", "Silva", "Patel", "Novak", "Jensen", "Cohen", "Ito", "Yamamoto",
)  # fmt: skip
ROLE_TITLES = {
    "final_evaluator": ("Chief Operating Officer", "VP Operations", "Chief Revenue Officer"),
    "evaluator": ("Director of Operations", "Head of Sales Operations", "IT Director"),
    "promoter": ("Operations Manager", "Project Lead", "Sales Ops Manager"),
    "champion": ("Team Lead", "Senior Analyst", "Product Owner"),
    "end_user": ("Analyst", "Account Executive", "Coordinator", "Specialist"),
    "other": ("Procurement Manager", "Finance Manager", "IT Administrator"),
}
TICKET_SUBJECTS = (
    "Cannot log in with SSO",
    "Dashboard loads slowly",
    "Export fails for large reports",
    "Integration sync error",
    "Question about user permissions",
    "Alert did not fire",
    "Forecast numbers look wrong",
    "API rate limit reached",
    "How do I invite more users?",
    "Billing question",
)
NPS_COMMENTS = {
    "detractor": (
        "Too hard to get value from it.",
        "Support takes too long to respond.",
        "We barely use it any more.",
        "The integration keeps breaking.",
    ),
    "passive": (
        "Does the job, some rough edges.",
        "Good, but reporting could be better.",
        "Fine for our core use case.",
    ),
    "promoter": (
        "Our team relies on it every day.",
        "Great dashboards and great support.",
        "Saved us hours every week.",
        "Our CSM is fantastic.",
    ),
}
