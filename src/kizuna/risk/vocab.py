"""What a driver is called, in words a CSM understands, in English and Japanese.

A driver is a feature group's contribution to one account's prediction. Its
label comes from here (never the raw column name): a fixed label for the
contract, health, support and survey features and the shipped metrics, and a
pattern for metrics derived for a customer's own event types. Risk bands are
defined here too, with their labels (a rule lives next to its data).
"""

from __future__ import annotations

import re

#: Bands by calibrated churn probability: high >= 0.35 > medium >= 0.15 > low.
BANDS = (("high", 0.35), ("medium", 0.15), ("low", 0.0))
BAND_LABELS = {
    "high": ("High risk", "高リスク"),
    "medium": ("Medium risk", "中リスク"),
    "low": ("Low risk", "低リスク"),
}

LABELS: dict[str, tuple[str, str]] = {
    "arr": ("Annual contract value (ARR)", "年間契約額(ARR)"),
    "seats": ("Licensed seats", "契約シート数"),
    "products": ("Products under contract", "契約中の製品数"),
    "tenure_days": ("Time as a customer", "顧客としての継続期間"),
    "days_to_renewal": ("Days to the next renewal", "次回更新までの日数"),
    "health_score": ("Health score", "ヘルススコア"),
    "open_urgent_tickets": ("Open high/urgent tickets", "未解決の高優先度チケット"),
    "tickets_opened_90d": ("Support tickets in the last 90 days", "直近90日のサポートチケット数"),
    "days_to_resolve_90d": ("Time to resolve tickets", "チケット解決までの日数"),
    "nps_365d": ("NPS of the last year", "直近1年のNPS"),
    "csat_365d": ("CSAT of the last year", "直近1年のCSAT"),
    "survey_answers_365d": ("Survey answers in the last year", "直近1年のアンケート回答数"),
    "segment": ("Customer segment", "顧客セグメント"),
    "stage": ("Lifecycle stage", "ライフサイクルステージ"),
    "m:events_28d": ("Product events (28 days)", "直近28日の製品利用イベント数"),
    "m:logins_28d": ("Logins (28 days)", "直近28日のログイン数"),
    "m:logins_7d": ("Logins (7 days)", "直近7日のログイン数"),
    "m:active_users_28d": ("Active users (28 days)", "直近28日のアクティブユーザー数"),
    "m:active_users_7d": ("Active users (7 days)", "直近7日のアクティブユーザー数"),
    "m:active_days_28d": ("Days with use (28 days)", "直近28日の利用日数"),
    "m:reports_created_28d": ("Reports created (28 days)", "直近28日のレポート作成数"),
    "m:dashboards_viewed_28d": ("Dashboard views (28 days)", "直近28日のダッシュボード閲覧数"),
    "m:api_calls_28d": ("API calls (28 days)", "直近28日のAPI呼び出し数"),
    "m:session_seconds_28d": ("Time spent in the product", "製品の利用時間"),
    "m:rows_exported_28d": ("Rows exported (28 days)", "直近28日のエクスポート行数"),
    "m:events_per_active_user_28d": ("Depth of use per user", "ユーザーあたりの利用の深さ"),
    "m:seat_utilisation_28d": ("Seat utilisation", "シート利用率"),
    "m:feature_breadth_28d": ("Breadth of features used", "利用機能の幅"),
    "m:days_since_last_login": ("Days since the last login", "最終ログインからの日数"),
    "m:onboarding_first_value_90d": (
        "Onboarding first value reached",
        "オンボーディングの初期価値到達",
    ),
    "m:tenure_days": ("Time as a customer", "顧客としての継続期間"),
    "m:logins_per_active_day_28d": ("Logins per active day", "利用日あたりのログイン数"),
    "m:events_28d_change": ("Change in product use", "製品利用の増減"),
    "m:active_users_28d_change": ("Change in active users", "アクティブユーザー数の増減"),
}
_DERIVED = (
    (
        re.compile(r"^m:(.+)_per_user_28d$"),
        ("'{0}' per active user", "アクティブユーザーあたりの「{0}」"),
    ),
    (re.compile(r"^m:(.+)_28d_change$"), ("Change in '{0}'", "「{0}」の増減")),
    (re.compile(r"^m:days_since_(.+)$"), ("Days since the last '{0}'", "最後の「{0}」からの日数")),
    (re.compile(r"^m:(.+)_28d$"), ("'{0}' (28 days)", "直近28日の「{0}」")),
)
#: How a value compares with the book: (en, ja) for low / high / missing.
LEVELS = {
    "low": ("low", "少ない・低い"),
    "high": ("high", "多い・高い"),
    "missing": ("no data", "データなし"),
    "is": ("", ""),
}
EFFECT = {"raises": ("raises risk", "リスクを高める"), "lowers": ("lowers risk", "リスクを下げる")}


def label(feature: str, lang: str = "en") -> str:
    """The feature's label in ``lang`` (``en`` or ``ja``)."""
    k = 1 if lang == "ja" else 0
    if feature.startswith("avg3:"):
        inner = label(feature.removeprefix("avg3:"), lang)
        return f"{inner} (3-month average)" if k == 0 else f"{inner}（3か月平均）"
    if feature in LABELS:
        return LABELS[feature][k]
    for pattern, texts in _DERIVED:
        match = pattern.match(feature)
        if match:
            return texts[k].format(match.group(1).replace("_", " "))
    return feature.removeprefix("m:").replace("_", " ")


def band_of(probability: float) -> str:
    for band, floor in BANDS:
        if probability >= floor:
            return band
    return "low"


def sentence(driver: dict[str, object], lang: str = "en") -> str:
    """One driver in words, e.g. "Days with use (28 days): low — raises risk"."""
    k = 1 if lang == "ja" else 0
    name = label(str(driver["feature"]), lang)
    level = str(driver.get("level") or "is")
    effect = EFFECT["raises" if float(driver["contribution"]) > 0 else "lowers"][k]  # type: ignore[arg-type]
    if level == "is":
        value = driver.get("category") or ""
        return f"{name}: {value} — {effect}"
    return f"{name}: {LEVELS[level][k]} — {effect}"
