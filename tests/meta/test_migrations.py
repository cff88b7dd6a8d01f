"""A model change without a migration fails here (like NetBox's `alembic check` in CI)."""

from __future__ import annotations

from imdesk.runtime import pending_model_changes


def test_models_and_migrations_agree():
    diffs = pending_model_changes()
    assert not diffs, "models differ from migrations; add a migration:\n" + "\n".join(diffs)


def test_every_migration_has_a_downgrade_and_domain_branches():
    from alembic.script import ScriptDirectory

    from imdesk.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    assert any(r.revision == "0001_foundation" for r in revisions)
    for rev in revisions:
        assert hasattr(rev.module, "downgrade"), f"{rev.revision} has no downgrade()"
        if rev.down_revision is None and rev.revision != "0001_foundation":
            assert rev.branch_labels, f"{rev.revision} starts a branch without a branch label"
