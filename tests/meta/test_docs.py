"""Docs stay true: every setting is documented for operators; README shows the two commands."""

from __future__ import annotations

from pathlib import Path

from imdesk.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [f"IMDESK_{name.upper()}" for name in Settings.model_fields if f"IMDESK_{name.upper()}" not in text]
    assert not missing, f"undocumented settings in docs/operations.md: {missing}"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_run = text.find("make run")
    first_test = text.find("make test")
    assert 0 <= first_run < 1500 and 0 <= first_test < 1500


def test_template_strings_have_chinese_translations():
    """Every literal _('...') in a template has a zh_CN entry in some catalogue."""
    import re

    from imdesk.core import i18n

    pattern = re.compile(r"""_\(\s*(['"])((?:\\.|(?!\1).)+)\1""")
    missing = []
    for tpl in sorted((ROOT / "src" / "imdesk").glob("**/templates/**/*.html")):
        for m in pattern.finditer(tpl.read_text(encoding="utf-8")):
            msg = m.group(2).replace("\\'", "'").replace('\\"', '"')
            if not i18n.has_translation("zh_CN", msg):
                missing.append(f"{tpl.relative_to(ROOT)}: {msg}")
    assert not missing, "strings without zh_CN translation:\n" + "\n".join(missing)
