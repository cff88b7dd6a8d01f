"""Profile data stays linked: every KB slug a diagnostic rule or an error code points at is an article
the profile ships (a finding's "KB" link must never lead nowhere)."""

from __future__ import annotations

from imdesk.kb.frontmatter import parse_document
from imdesk.profiles import load_profile


def test_rule_kb_links_resolve_to_shipped_articles():
    profile = load_profile("im_server")
    slugs = set()
    for f in profile.path("kb").rglob("*.md"):
        slugs.add(parse_document(f.read_text(encoding="utf-8"), f.name, default_slug=f.stem).slug)
    rules = profile.data("rules")
    items = rules.get("rules", rules) if isinstance(rules, dict) else rules
    referenced: set[str] = set()
    for rule in items if isinstance(items, list) else []:
        kb = rule.get("kb") if isinstance(rule, dict) else None
        if isinstance(kb, str):
            referenced.add(kb)
        elif isinstance(kb, list):
            referenced.update(k for k in kb if isinstance(k, str))
    for entry in profile.data("error_codes").get("codes", []):
        if isinstance(entry.get("kb"), str):
            referenced.add(entry["kb"])
    assert len(referenced) >= 25, "rules.yaml and error_codes.yaml name hardly any KB article"
    missing = sorted(referenced - slugs)
    assert not missing, f"rules point at KB articles the profile does not ship: {missing}"
