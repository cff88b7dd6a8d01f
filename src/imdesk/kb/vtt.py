"""WebVTT transcripts and chapters (the subset browsers use): cues with timings and text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imdesk.kb.errors import InvalidTranscript

_TS = r"(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TS}\s+-->\s+{_TS}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    ident: str | None = None


def _secs(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_webvtt(text: str, source: str = "<webvtt>") -> list[Cue]:
    """Cues of a WebVTT file; :class:`InvalidTranscript` names the line of the first problem."""
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].startswith("WEBVTT"):
        raise InvalidTranscript(f"{source}:1: a WebVTT file must start with 'WEBVTT'")
    cues: list[Cue] = []
    i = 1
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith(("NOTE", "STYLE", "REGION")):
            while i < n and lines[i].strip():
                i += 1
            continue
        ident = None
        if "-->" not in line:
            ident = line.strip()
            i += 1
            if i >= n:
                raise InvalidTranscript(f"{source}:{i}: cue {ident!r} has no timing line")
            line = lines[i]
        m = _TIMING.match(line)
        if not m:
            raise InvalidTranscript(f"{source}:{i + 1}: malformed cue timing {line.strip()[:60]!r}")
        start = _secs(*m.group(1, 2, 3, 4))
        end = _secs(*m.group(5, 6, 7, 8))
        if end < start:
            raise InvalidTranscript(f"{source}:{i + 1}: cue ends before it starts")
        i += 1
        body: list[str] = []
        while i < n and lines[i].strip():
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        cues.append(Cue(start=start, end=end, text=" ".join(body).strip(), ident=ident))
    return cues


def format_ts(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
