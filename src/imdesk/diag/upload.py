"""Client side of ``imdesk bundle upload``: attach a bundle to a ticket in resumable chunks.

Protocol (tus-like, JSON under ``/api/v1``, every request with ``Authorization: Bearer <token>``,
errors as RFC 9457 problem+json):

    POST  {url}/api/v1/uploads        {"filename", "size", "sha256", "ticket": N}
                                      -> 201 {"id", "offset"}
    PATCH {url}/api/v1/uploads/{id}   Upload-Offset: <n>
                                      Content-Type: application/offset+octet-stream
                                      body: the next chunk
                                      -> 204, Upload-Offset: <new offset>
    HEAD  {url}/api/v1/uploads/{id}   -> Upload-Offset: <resume point>

The client keeps ``<bundle>.upload.json`` (upload id, URL, ticket, sha256) next to the bundle, so
an interrupted upload — a dropped connection, or the command run again later — resumes at the
offset the server reports instead of starting over. The state file is removed when done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from imdesk import __version__
from imdesk.core.errors import BadInput, ImdeskError

CHUNK = 8 * 1024 * 1024
OFFSET_TYPE = "application/offset+octet-stream"


class UploadFailed(ImdeskError):
    status = 502
    code = "upload_failed"
    title = "Upload failed"


@dataclass
class UploadResult:
    id: str
    size: int
    sha256: str
    sent: int
    resumed_from: int
    retries: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _problem(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        detail = body.get("detail") or body.get("title")
        code = body.get("code")
        if detail:
            return f"{resp.status_code} {detail}" + (f" ({code})" if code else "")
    except (ValueError, AttributeError):
        pass
    return f"{resp.status_code} {resp.reason_phrase}"


def _state_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".upload.json")


def upload_bundle(
    bundle: str | os.PathLike[str],
    *,
    url: str,
    token: str,
    ticket: int,
    chunk_size: int = CHUNK,
    retries: int = 5,
    backoff: float = 0.5,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[int], None] | None = None,
) -> UploadResult:
    """Upload ``bundle`` to ticket ``ticket``; resumes a previous interrupted upload."""
    path = Path(bundle)
    if not path.is_file():
        raise BadInput(f"{path}: no such bundle file")
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"--url {url!r} must start with http:// or https://")
    if not token:
        raise BadInput("--token is required")
    if ticket <= 0:
        raise BadInput("--ticket must be a positive ticket number")
    if chunk_size < 1:
        raise BadInput("chunk size must be positive")
    try:
        size = path.stat().st_size
        sha = _sha256(path)
    except PermissionError:
        raise BadInput(f"{path}: permission denied") from None
    base = url.rstrip("/") + "/api/v1/uploads"
    headers = {"Authorization": f"Bearer {token}", "User-Agent": f"imdesk/{__version__}"}
    state_file = _state_path(path)
    t0 = time.perf_counter()
    client = httpx.Client(timeout=timeout, headers=headers, transport=transport, follow_redirects=False)
    attempts = 0
    try:
        upload_id, offset = None, 0
        state = _read_state(state_file)
        if state and state.get("url") == base and state.get("ticket") == ticket and state.get("sha256") == sha:
            upload_id = str(state["id"])
            got = _head(client, base, upload_id)
            if got is None:
                upload_id = None  # the server forgot it: start again
            else:
                offset = got
        if upload_id is None:
            resp = _request(client, "POST", base, json={"filename": path.name, "size": size, "sha256": sha,
                                                        "ticket": ticket})
            if resp.status_code != 201:
                raise UploadFailed(f"server refused the upload: {_problem(resp)}")
            try:
                body = resp.json()
                upload_id, offset = str(body["id"]), int(body.get("offset", 0))
            except (ValueError, KeyError, TypeError):
                raise UploadFailed("server answered 201 without an upload id") from None
            state_file.write_text(json.dumps({"id": upload_id, "url": base, "ticket": ticket, "sha256": sha,
                                              "size": size}), encoding="utf-8")
        resumed_from = offset
        if progress and offset:
            progress(offset)
        with open(path, "rb") as fh:
            while offset < size:
                fh.seek(offset)
                chunk = fh.read(min(chunk_size, size - offset))
                try:
                    resp = client.patch(f"{base}/{upload_id}", content=chunk,
                                        headers={"Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE})
                except httpx.TransportError as exc:
                    attempts += 1
                    if attempts > retries:
                        raise UploadFailed(f"connection lost at byte {offset} of {size} ({exc}); run the same "
                                           f"command again to resume") from None
                    time.sleep(min(backoff * attempts, 10))
                    got = _head(client, base, upload_id)
                    if got is None:
                        raise UploadFailed("the server no longer knows this upload; run the command again") from None
                    if progress and got > offset:
                        progress(got - offset)
                    offset = got
                    continue
                if resp.status_code == 409:  # offset mismatch: ask the server where it is
                    got = _head(client, base, upload_id)
                    if got is None:
                        raise UploadFailed(f"offset conflict and upload unknown: {_problem(resp)}")
                    offset = got
                    continue
                if resp.status_code not in (200, 204):
                    raise UploadFailed(f"server refused a chunk at byte {offset}: {_problem(resp)}")
                new = resp.headers.get("Upload-Offset")
                new_offset = int(new) if new and new.isdigit() else offset + len(chunk)
                if progress:
                    progress(new_offset - offset)
                offset = new_offset
        state_file.unlink(missing_ok=True)
        return UploadResult(id=upload_id, size=size, sha256=sha, sent=size - resumed_from,
                            resumed_from=resumed_from, retries=attempts,
                            seconds=round(time.perf_counter() - t0, 3))
    except httpx.TransportError as exc:
        raise UploadFailed(f"cannot reach {url}: {exc}; run the same command again to resume") from None
    finally:
        client.close()


def _request(client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
    return client.request(method, url, **kw)


def _head(client: httpx.Client, base: str, upload_id: str) -> int | None:
    resp = client.head(f"{base}/{upload_id}")
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        raise UploadFailed(f"cannot read the upload's offset: {_problem(resp)}")
    value = resp.headers.get("Upload-Offset", "")
    if not value.isdigit():
        raise UploadFailed("server answered HEAD without an Upload-Offset header")
    return int(value)


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and "id" in data else None
    except (OSError, ValueError):
        return None
