"""HTTP Range requests (RFC 9110 §14) for seekable video: one byte range per request."""

from __future__ import annotations

import re

from imdesk.kb.errors import InvalidRange

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive byte positions for a ``Range`` header, or None for the whole file.

    Multiple ranges are answered with the first one (browsers ask for one). An unsatisfiable or
    malformed range raises :class:`InvalidRange` (HTTP 416).
    """
    if header is None or not header.strip():
        return None
    spec = header.split(",")[0]
    m = _RANGE.match(spec)
    if not m:
        raise InvalidRange(f"malformed Range header {header[:60]!r}", size=size)
    a, b = m.group(1), m.group(2)
    if a == "" and b == "":
        raise InvalidRange(f"malformed Range header {header[:60]!r}", size=size)
    if size <= 0:
        raise InvalidRange("the file is empty", size=size)
    if a == "":
        n = int(b)
        if n == 0:
            raise InvalidRange("suffix range of zero bytes", size=size)
        return max(0, size - n), size - 1
    first = int(a)
    last = int(b) if b else size - 1
    if first >= size or last < first:
        raise InvalidRange(f"range {first}-{b} is outside the file of {size} bytes", size=size)
    return first, min(last, size - 1)
