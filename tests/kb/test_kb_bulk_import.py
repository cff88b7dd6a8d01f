"""The fast first import: new articles written in batches, files parsed and segmented in worker
processes. It must write exactly what the one-file-at-a-time path writes, report the same errors,
and cope with a slug that appears in the database while the import runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from tests.kb.factories import make_article

from imdesk.accounts.services import SYSTEM
from imdesk.cli import main
from imdesk.kb import services
from imdesk.kb.models import Article, ArticleCode, Revision, SearchDoc
from imdesk.kb.search import search


def _corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        lang = "en" if i % 3 == 0 else "zh"
        body = (f"Clients disconnect with ERR_IM_1001 when the token expires, case {i}." if lang == "en"
                else f"第 {i} 号案例：推送证书过期后 iOS 收不到离线推送，请在 server.max_concurrent 调整后重试。")
        codes = "[ERR_IM_3001, err_im_1001]" if i % 4 == 0 else "[]"
        status = "draft" if i % 7 == 0 else "published"
        (folder / f"doc-{i:03d}.md").write_text(
            f"---\ntitle: \"  文章 {i} 推送 token  \"\nlang: {lang}\nmodule: push\nerror_codes: {codes}\n"
            f"tags: [' push ', t{i % 5}]\nstatus: {status}\n---\n## 说明\n\n{body}\n", encoding="utf-8")
    (folder / "bad-category.md").write_text("---\ntitle: x\ncategory: nope\n---\n", encoding="utf-8")
    (folder / "bad-code.md").write_text("---\ntitle: x\nerror_codes: [ERR_" + "X" * 90 + "]\n---\n", encoding="utf-8")
    (folder / "dup.md").write_text("---\ntitle: dup\nslug: doc-001\n---\n", encoding="utf-8")


def _snapshot(session) -> list[tuple]:
    rows = []
    for a in session.scalars(select(Article).order_by(Article.slug)):
        codes = [(c.code, c.code_key, c.position) for c in
                 session.scalars(select(ArticleCode).where(ArticleCode.article_id == a.id).order_by(ArticleCode.position))]
        revs = [(r.number, r.title, r.body, r.status, r.note) for r in
                session.scalars(select(Revision).where(Revision.article_id == a.id))]
        doc = session.scalar(select(SearchDoc).where(SearchDoc.doc_type == "article", SearchDoc.doc_id == a.id))
        rows.append((a.slug, a.title, a.body, a.lang, a.category, a.module, a.tags, a.status,
                     a.published_at is not None, codes, revs,
                     doc and (doc.title, doc.body_text, doc.title_tokens, doc.body_tokens, doc.codes_tokens)))
    return rows


def _clear(session) -> None:
    from sqlalchemy import delete

    session.execute(delete(SearchDoc))
    session.execute(delete(Article))
    session.flush()


def test_batched_and_pooled_import_write_what_the_single_file_path_writes(session, tmp_path, monkeypatch):
    folder = tmp_path / "kb"
    _corpus(folder, 40)
    # the reference: every file through do_save_article, as before batching
    for path in sorted(folder.glob("doc-*.md")):
        doc = services.parse_document(path.read_text(encoding="utf-8"), path.name, default_slug=path.stem)
        services.do_save_article(session, SYSTEM, services._input_from_doc(doc), note=f"import {path.name}",
                                 audit=False)
    session.flush()
    reference = _snapshot(session)
    assert any(r[-1] is None for r in reference) and any(r[9] for r in reference)  # drafts and codes present
    monkeypatch.setattr(services, "IMPORT_BATCH", 7)
    monkeypatch.setattr(services, "POOL_MIN_FILES", 10)
    reports = []
    for workers in (1, 2):
        _clear(session)
        report = services.import_directory(session, SYSTEM, folder, workers=workers)
        session.flush()
        assert _snapshot(session) == reference
        reports.append((report.created, report.updated, report.unchanged, report.errors))
    assert reports[0] == reports[1]
    created, _, _, errors = reports[0]
    assert created == 40 and len(errors) == 3
    assert errors[0].startswith("bad-category.md:") and errors[1].startswith("bad-code.md:")
    assert errors[2].startswith("dup.md:1: slug 'doc-001' is also used by doc-001.md")
    hits = search(session, "ERR_IM_3001").hits
    assert hits and hits[0].slug in {r[0] for r in reference if r[9] and r[-1] is not None}
    again = services.import_directory(session, SYSTEM, folder, workers=2)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 40)


def test_a_slug_created_during_the_import_falls_back_to_one_file_at_a_time(session, tmp_path, monkeypatch):
    folder = tmp_path / "kb"
    _corpus(folder, 12)
    monkeypatch.setattr(services, "IMPORT_BATCH", 5)
    made = []

    def meanwhile(done: int, total: int) -> None:
        if not made:  # another writer creates a slug the import has not reached yet
            made.append(make_article(session, slug="doc-003", title="written meanwhile"))

    report = services.import_directory(session, SYSTEM, folder, progress=meanwhile)
    session.flush()
    assert (report.created, report.updated) == (11, 1) and len(report.errors) == 3
    article = session.scalar(select(Article).where(Article.slug == "doc-003"))
    assert article.title == "文章 3 推送 token"
    assert [r.number for r in session.scalars(select(Revision).where(Revision.article_id == article.id))] == [1, 2]
    assert session.query(Article).count() == 12


def test_cli_refuses_a_bad_jobs_value(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["kb", "import", str(tmp_path), "--jobs", "-1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.strip().splitlines() == ["imdesk: error: --jobs must be between 0 and 64"]


def test_a_worker_that_dies_fails_the_import_instead_of_hanging(session, tmp_path, monkeypatch):
    import os
    from concurrent.futures.process import BrokenProcessPool

    folder = tmp_path / "kb"
    _corpus(folder, 20)
    real = services._prepare

    def dies_on_one_file(path, root, existing):
        if path.name == "doc-005.md":
            os._exit(3)  # e.g. killed by the OOM killer
        return real(path, root, existing)

    monkeypatch.setattr(services, "_prepare", dies_on_one_file)
    monkeypatch.setattr(services, "POOL_MIN_FILES", 1)
    with pytest.raises(BrokenProcessPool):
        services.import_directory(session, SYSTEM, folder, workers=2)
