"""Video tutorials: metadata (imported with ``imdesk kb import``), local files served with HTTP
Range, WebVTT transcripts and chapters indexed by the same search, watch progress per user."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from imdesk.accounts.services import Actor, record_audit
from imdesk.core.clock import Clock, SystemClock
from imdesk.core.errors import BadInput, PermissionDenied
from imdesk.kb.errors import FileTooLarge, FrontMatterError, InvalidTranscript, NotAVideo, VideoNotFound
from imdesk.kb.frontmatter import Document, dump_document
from imdesk.kb.models import Video, WatchProgress
from imdesk.kb.render import plain_text
from imdesk.kb.search import remove_doc, upsert_doc
from imdesk.kb.slugs import validate_slug
from imdesk.kb.vtt import Cue, parse_webvtt

VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".m4v": "video/mp4", ".ogv": "video/ogg"}
MAX_VIDEO_BYTES = 4 * 1024**3
MAX_VTT_BYTES = 2_000_000


def sniff_video(head: bytes) -> str | None:
    """The video MIME type from the first bytes (MP4/ISO-BMFF ``ftyp``, WebM/Matroska, Ogg), or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"OggS"):
        return "video/ogg"
    return None


def chapters_from_cues(cues: list[Cue]) -> list[dict]:
    """Chapters: cues with an identifier (``intro``, ``Chapter 2``...) mark a chapter start."""
    return [{"start": c.start, "title": c.ident or c.text[:80]} for c in cues if c.ident]


def store_video_file(src: Path, media_root: Path, slug: str, *, max_bytes: int = MAX_VIDEO_BYTES) -> tuple[str, str, int]:
    """Copy a video into ``media_root`` after checking it really is a video. Returns (name, type, size)."""
    size = src.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(f"{src.name} is larger than {max_bytes // 1024**2} MB")
    with src.open("rb") as fh:
        head = fh.read(16)
    ctype = sniff_video(head)
    ext = src.suffix.lower()
    if ext not in VIDEO_TYPES or ctype is None:
        raise NotAVideo(f"{src.name} is not an MP4, WebM or Ogg video")
    media_root.mkdir(parents=True, exist_ok=True)
    name = f"{validate_slug(slug)}{ext}"
    shutil.copyfile(src, media_root / name)
    return name, ctype, size


def do_import_video(session: Session, actor: Actor, doc: Document, folder: Path, *,
                    media_root: Path | None = None, clock: Clock | None = None) -> Video:
    if not actor.is_staff:
        raise PermissionDenied("only support staff may add videos")
    now = (clock or SystemClock()).now()
    transcript = ""
    chapters: list[dict] = []
    if doc.transcript:
        vtt_path = folder / doc.transcript
        if not vtt_path.is_file():
            raise FrontMatterError(f"{doc.source}:1: transcript {doc.transcript!r} not found", file=doc.source, line=1)
        if vtt_path.stat().st_size > MAX_VTT_BYTES:
            raise FileTooLarge(f"{doc.transcript} is larger than {MAX_VTT_BYTES // 1000} kB")
        try:
            cues = parse_webvtt(vtt_path.read_text(encoding="utf-8"), doc.transcript)
        except UnicodeDecodeError:
            raise InvalidTranscript(f"{doc.transcript}:1: not UTF-8 text") from None
        transcript = "\n".join(c.text for c in cues)
        chapters = chapters_from_cues(cues)
    video = session.scalar(select(Video).where(Video.slug == doc.slug))
    if video is None:
        video = Video(slug=doc.slug, title=doc.title, created_at=now, updated_at=now)
        session.add(video)
    video.title = doc.title
    video.description = doc.body
    video.lang = doc.lang
    video.duration = doc.duration
    video.topics = doc.topics or doc.tags
    video.series = doc.series
    video.series_order = doc.series_order
    video.transcript = transcript
    video.chapters = chapters
    video.updated_at = now
    if doc.video and media_root is not None:
        src = folder / doc.video
        if not src.is_file():
            raise FrontMatterError(f"{doc.source}:1: video file {doc.video!r} not found", file=doc.source, line=1)
        video.stored_name, video.content_type, video.size = store_video_file(src, media_root, doc.slug)
    elif doc.video and not video.stored_name:
        ext = Path(doc.video).suffix.lower()
        if ext not in VIDEO_TYPES:
            raise NotAVideo(f"{doc.video} is not an MP4, WebM or Ogg video")
        video.content_type = VIDEO_TYPES[ext]
    session.flush()
    index_video(session, video)
    record_audit(session, actor, "kb.video.imported", "kb_video", video.id, {"slug": video.slug}, clock=clock)
    return video


def index_video(session: Session, video: Video) -> None:
    upsert_doc(session, doc_type="video", doc_id=video.id, slug=video.slug, title=video.title,
               body_text=plain_text(video.description) + "\n" + video.transcript, lang=video.lang,
               category=None, module=None, extra_index_text=" ".join([*(video.topics or []), video.series or ""]))


def reindex(session: Session) -> int:
    n = 0
    for v in session.scalars(select(Video)):
        index_video(session, v)
        n += 1
    return n


def export_videos(session: Session, root: Path) -> int:
    n = 0
    for v in session.scalars(select(Video).order_by(Video.slug)):
        doc = Document(slug=v.slug, title=v.title, body=v.description, type="video", lang=v.lang,
                       video=v.stored_name or f"{v.slug}.mp4", duration=v.duration, series=v.series,
                       series_order=v.series_order, topics=list(v.topics or []))
        (root / f"{v.slug}.md").write_text(dump_document(doc), encoding="utf-8")
        n += 1
    return n


def get_video(session: Session, slug: str) -> Video:
    video = session.scalar(select(Video).where(Video.slug == slug))
    if video is None:
        raise VideoNotFound(f"no video {slug!r}")
    return video


def video_path(video: Video, media_root: Path) -> Path:
    if not video.stored_name:
        raise VideoNotFound(f"video {video.slug!r} has no file")
    p = (media_root / video.stored_name).resolve()
    if media_root.resolve() not in p.parents or not p.is_file():
        raise VideoNotFound(f"video file of {video.slug!r} is missing")
    return p


def do_save_progress(session: Session, actor: Actor, slug: str, position: int, *, clock: Clock | None = None) -> WatchProgress:
    if actor.user_id is None:
        raise BadInput("progress needs a user", code="kb_invalid_progress")
    video = get_video(session, validate_slug(slug))
    if position < 0 or position > 24 * 3600:
        raise BadInput("position must be between 0 and 86400 seconds", code="kb_invalid_progress")
    wp = session.scalar(select(WatchProgress).where(WatchProgress.video_id == video.id,
                                                    WatchProgress.user_id == actor.user_id))
    now = (clock or SystemClock()).now()
    if wp is None:
        wp = WatchProgress(video_id=video.id, user_id=actor.user_id, position=0, updated_at=now)
        session.add(wp)
        video.views += 1
    wp.position = int(position)
    wp.completed = bool(video.duration and position >= 0.95 * video.duration)
    wp.updated_at = now
    return wp


def progress_of(session: Session, actor: Actor | None, video: Video) -> WatchProgress | None:
    if actor is None or actor.user_id is None:
        return None
    return session.scalar(select(WatchProgress).where(WatchProgress.video_id == video.id,
                                                      WatchProgress.user_id == actor.user_id))


def remove_video_from_index(session: Session, video: Video) -> None:
    remove_doc(session, "video", video.id)
