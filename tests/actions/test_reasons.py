"""CTA reasons rendered at read time from the rule and the stored facts, in English (the
same words the run stored) and in Japanese."""

from __future__ import annotations

from kizuna.actions import list_ctas, parse_rules, run_rules
from kizuna.actions.reasons import reasons_in, render_reason
from kizuna.platform import Platform

RULES = parse_rules(
    {"rules": [
        {"id": "renewal_red", "name": "Renewal soon with red health",
         "name_ja": "更新間近でヘルスが赤", "type": "risk",
         "when": {"all": [{"fact": "days_to_renewal", "gte": 0, "lte": 120},
                          {"attention": "red"}]}},
        {"id": "evaluator", "name": "Evaluator untouched", "name_ja": "評価者と接点なし",
         "type": "activity", "when": {"fact": "days_since_touch", "role": "evaluator", "gt": 45}},
        {"id": "any", "name": "Detractor or tickets", "type": "risk",
         "when": {"any": [{"fact": "nps_detractors", "days": 30, "gte": 1},
                          {"fact": "open_tickets", "gte": 5}]}},
        {"id": "seg", "name": "Segment", "type": "activity",
         "when": {"fact": "segment", "in": ["smb", "enterprise"]}},
    ]},
    "test",
)  # fmt: skip


def test_reasons_render_from_stored_facts_in_both_languages(book: Platform) -> None:
    run_rules(book, ruleset=RULES)
    ctas = {(c.rule_id, c.account_id): c for c in list_ctas(book, status="active")}
    # English from the stored facts is exactly what the run stored
    for (rule_id, _), cta in ctas.items():
        rule = RULES.rule(rule_id or "")
        assert rule is not None
        assert render_reason(rule, cta.facts, "en") == cta.reason
    red = ctas[("renewal_red", "A1")]
    assert render_reason(RULES.rules[0], red.facts, "ja") == (
        "更新間近でヘルスが赤: 更新までの日数は93（≥ 0かつ≤ 120）、ヘルスバンドは赤（= 赤）"
    )
    touch = ctas[("evaluator", "A1")]
    assert render_reason(RULES.rules[1], touch.facts, "ja") == (
        "評価者と接点なし: 最後の接点からの日数（役割 評価者）は60（> 45）"
    )
    # any: only the branch that holds is told; no name_ja falls back to the English name
    either = ctas[("any", "A1")]
    assert render_reason(RULES.rules[2], either.facts, "ja") == (
        "Detractor or tickets: NPS批判者の回答（日数 30）は1（≥ 1）"
    )
    assert render_reason(RULES.rules[3], ctas[("seg", "A3")].facts, "ja") == (
        "Segment: セグメントは中小企業（次のいずれか: 中小企業、エンタープライズ）"
    )


def test_a_changed_rule_keeps_the_stored_reason(book: Platform) -> None:
    run_rules(book, ruleset=RULES)
    (cta,) = [c for c in list_ctas(book, account_id="A1") if c.rule_id == "evaluator"]
    stricter = parse_rules(
        {"rules": [{"id": "evaluator", "name": "x", "type": "activity",
                    "when": {"fact": "days_since_touch", "role": "evaluator", "gt": 90}}]},
        "test",
    )  # fmt: skip
    assert render_reason(stricter.rules[0], cta.facts, "ja") is None
    assert reasons_in(stricter.rules[0], cta.facts, cta.reason)["ja"] == cta.reason
    assert reasons_in(None, cta.facts, cta.reason) == {"en": cta.reason}
