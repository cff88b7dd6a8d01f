"""Safe, streaming reading of logs and support bundles.

    >>> with Walker(Limits()) as w:
    ...     for entry in w.walk("bundle.tar.gz"):
    ...         for lineno, raw in entry.lines():     # consume an entry before asking for the next
    ...             ...
    ...     w.problems                                 # one clear message per refused member

Inputs: a file, a folder (one sub-folder per node is common), ``.gz``, ``.zip``, ``.tar``,
``.tar.gz``/``.tgz``, nested (a ``.gz`` or a ``.zip`` inside a bundle). The format is sniffed from
the first bytes, never trusted from the name.

Safe by construction:
- nothing is ever extracted to disk: archive member names are labels only; names that are absolute
  or climb with ``..`` are refused anyway, and so are symlinks, hard links and devices (in
  folders, tars and zips alike) -- a symlink is never followed;
- caps on the number of entries, on the total uncompressed bytes, on the compression ratio of a
  member (zip bombs), on nesting depth and on line length (a 10 MB line is cut, not loaded whole);
- memory stays bounded whatever the size: data flows through in chunks of ``CHUNK`` bytes.

A violation stops only the member concerned: it becomes one :class:`Problem` naming the member,
and the walk goes on with the rest.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

CHUNK = 1 << 20  # 1 MiB

_LOG_NAME = re.compile(
    r"(\.(log|txt|out|err|json|jsonl|ndjson)(\.\d+)?$)|(\.log\.\d+$)|(\d{4}-\d{2}-\d{2}[^/]*\.log)|(^(messages|syslog|dmesg|journal)[^/]*$)",
    re.IGNORECASE,
)
_CONFIG_NAME = re.compile(r"^im_config[^/]*\.ya?ml$", re.IGNORECASE)
_GENERIC_DIRS = {"logs", "log", "var", "im_server", "imserver", "bundle", "support", "etc", "config", "configs", "conf"}


class LimitExceeded(Exception):
    """A cap was hit while reading one member."""


@dataclass(frozen=True)
class Limits:
    """Caps of a walk; every one is configurable (CLI options of ``diag analyze``/``grep``)."""

    max_entries: int = 100_000  # archive members and files looked at, all levels together
    max_total_bytes: int = 64 << 30  # total uncompressed bytes read
    max_ratio: float = 200.0  # uncompressed / compressed size of one member
    ratio_floor: int = 8 << 20  # the ratio is checked only past this many uncompressed bytes
    max_depth: int = 4  # archives inside archives
    max_line_bytes: int = 1 << 20  # a longer line is cut to this length
    max_config_bytes: int = 4 << 20


@dataclass
class Problem:
    member: str
    message: str

    def __str__(self) -> str:
        return f"{self.member}: {self.message}"


@dataclass
class Entry:
    """One log stream or config file found in the input; read it before the walk moves on."""

    name: str  # display name: path/in/bundle.tar.gz!member/inner.log.gz
    node: str  # node label guessed from the folder layout ("" when there is none)
    kind: str  # "log" or "config"
    _stream: BinaryIO = field(repr=False)
    _walker: Walker = field(repr=False)
    bytes_read: int = 0

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Raw decompressed bytes in chunks; a cap or a corrupt stream ends it with a problem."""
        try:
            while True:
                data = self._stream.read(size)
                if not data:
                    return
                self.bytes_read += len(data)
                yield data
        except LimitExceeded as exc:
            self._walker.problem(self.name, str(exc))
        except Exception as exc:  # noqa: BLE001 - corrupt input makes libraries raise many types
            self._walker.problem(self.name, _describe_corrupt(exc))

    def blocks(self, size: int = 4 * CHUNK, *, prefetch: bool = False) -> Iterator[list[bytes]]:
        """Lists of whole lines (no line ends; ``\\r`` kept) of about ``size`` bytes each.

        Over-long lines are cut to ``max_line_bytes`` (one problem per entry). With ``prefetch``
        the decompression runs in a helper thread (zlib releases the GIL), overlapping parsing.
        """
        limit = self._walker.limits.max_line_bytes
        rest = b""
        skipping = False
        reported = False
        source = self.chunks(size)
        if prefetch:
            source = _prefetch(source)
        for chunk in source:
            if skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk = chunk[nl + 1 :]
                skipping = False
            if rest:
                chunk = rest + chunk
                rest = b""
            cut = chunk.rfind(b"\n")
            if cut < 0:
                if len(chunk) > limit:
                    if not reported:
                        self._walker.problem(self.name, f"a line longer than {limit} bytes: cut")
                        reported = True
                    yield [chunk[:limit]]
                    skipping = True
                else:
                    rest = chunk
                continue
            rest = chunk[cut + 1 :]
            lines = chunk[:cut].split(b"\n")
            if len(chunk) > limit and max(map(len, lines)) > limit:
                if not reported:
                    self._walker.problem(self.name, f"a line longer than {limit} bytes: cut")
                    reported = True
                lines = [ln[:limit] for ln in lines]
            if len(rest) > limit:
                if not reported:
                    self._walker.problem(self.name, f"a line longer than {limit} bytes: cut")
                    reported = True
                lines.append(rest[:limit])
                rest = b""
                skipping = True
            yield lines
        if rest:
            yield [rest]

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line_number, bytes)`` without the line end; over-long lines are cut (see :meth:`blocks`)."""
        n = 0
        for block in self.blocks():
            for line in block:
                n += 1
                yield n, line[:-1] if line.endswith(b"\r") else line

    def read_all(self, cap: int) -> bytes | None:
        buf = bytearray()
        for chunk in self.chunks(65536):
            buf += chunk
            if len(buf) > cap:
                self._walker.problem(self.name, f"larger than {cap} bytes: skipped")
                return None
        return bytes(buf)


def _describe_corrupt(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "end-of-stream" in text:
        return "truncated compressed data (the file ends early): read up to the cut"
    return f"corrupt or unreadable data ({text}): read up to the damage"


class _Capped(io.RawIOBase):
    """Counts bytes read from a decompressing stream against the walk's caps."""

    def __init__(self, inner: BinaryIO, walker: Walker, compressed_size: int | None, *, total: bool = False) -> None:
        self.inner = inner
        self.walker = walker
        self.compressed = compressed_size
        self.total = total  # count against max_total_bytes (only the final text streams do)
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size if size and size > 0 else CHUNK)
        if data:
            self.count += len(data)
            lim = self.walker.limits
            if self.total:
                self.walker.total_bytes += len(data)
            if self.total and self.walker.total_bytes > lim.max_total_bytes:
                raise LimitExceeded(
                    f"total uncompressed size over the cap of {lim.max_total_bytes} bytes: rest of the input skipped"
                )
            if self.compressed and self.count > lim.ratio_floor and self.count > lim.max_ratio * self.compressed:
                raise LimitExceeded(
                    f"compression ratio over {lim.max_ratio:g}:1 ({self.count} bytes from {self.compressed}): "
                    "looks like a zip bomb, member skipped"
                )
        return data

    def readinto(self, b) -> int:  # pragma: no cover - io protocol
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _sniff(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:4] == b"Rar!":
        return "rar"
    return "plain"


def looks_binary(head: bytes) -> bool:
    """Binary garbage rather than text: NUL bytes or mostly control characters in the first KiB."""
    if not head:
        return False
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    ctrl = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    return ctrl > len(sample) * 0.1


class _Peek(io.RawIOBase):
    """A stream whose first bytes were read ahead for sniffing."""

    def __init__(self, inner: BinaryIO, head: bytes) -> None:
        self.inner = inner
        self.head = head

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.head:  # a short read: never risk the head on a read of the damaged rest
            if size is None or size < 0 or size >= len(self.head):
                out, self.head = self.head, b""
                return out
            out, self.head = self.head[:size], self.head[size:]
            return out
        return self.inner.read(size if size is not None else -1) or b""

    def readinto(self, b) -> int:  # pragma: no cover
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _safe_member_name(name: str) -> str | None:
    """The member's name as a relative POSIX path, or None when it is absolute or climbs out."""
    n = name.replace("\\", "/")
    if n.startswith("/") or re.match(r"^[A-Za-z]:", n):
        return None
    parts = [p for p in PurePosixPath(n).parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _strip_compress_ext(name: str) -> str:
    low = name.lower()
    for ext in (".gz", ".gzip"):
        if low.endswith(ext):
            return name[: -len(ext)]
    return name


def _node_of(rel: str) -> str:
    """The node a member belongs to: the folder just above the first generic one (``logs``,
    ``etc``...), else the innermost non-generic folder: ``b/node1/logs/x.log`` -> ``node1``."""
    parts = [p for p in rel.split("/")[:-1] if p]
    generic = [p.lower() in _GENERIC_DIRS for p in parts]
    for i in range(1, len(parts)):
        if generic[i] and not generic[i - 1]:
            return parts[i - 1]
    named = [p for p, g in zip(parts, generic, strict=True) if not g]
    return named[-1] if named else ""


def classify(rel: str, *, explicit: bool = False) -> str | None:
    """``log``, ``config``, ``archive`` or None (skipped) from a member's name."""
    base = rel.rsplit("/", 1)[-1]
    bare = _strip_compress_ext(base)
    low = base.lower()
    if _CONFIG_NAME.match(bare):
        return "config"
    if low.endswith((".zip", ".tar", ".tgz", ".tar.gz", ".tar.gzip")):
        return "archive"
    if explicit or _LOG_NAME.search(bare):
        return "log"
    return None


class Walker:
    """One walk over inputs; collects problems and counts entries and bytes across nesting."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.problems: list[Problem] = []
        self.entries = 0
        self.total_bytes = 0
        self.logs_found = 0
        self._stop_all = False
        self._tmp: list[BinaryIO] = []  # spooled nested zips, closed and removed with the walker

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for t in list(self._tmp):
            self._drop_tmp(t)

    def _drop_tmp(self, t: BinaryIO) -> None:
        with contextlib.suppress(OSError):
            t.close()
        with contextlib.suppress(OSError):
            os.unlink(t.name)
        if t in self._tmp:
            self._tmp.remove(t)

    def _head(self, fh, display: str) -> bytes | None:
        """The first 512 bytes of a stream, or None (with the problem recorded) when the stream is
        corrupt or runs into a cap."""
        try:
            return fh.read(512)
        except LimitExceeded as exc:
            self.problem(display, str(exc))
        except Exception as exc:  # noqa: BLE001 - corrupt input
            self.problem(display, _describe_corrupt(exc))
        return None

    def problem(self, member: str, message: str) -> None:
        if "total uncompressed size" in message:
            self._stop_all = True
        self.problems.append(Problem(member, message))

    def _count_entry(self, name: str) -> bool:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            if self.entries == self.limits.max_entries + 1:
                self.problem(name, f"more than {self.limits.max_entries} entries: the rest is skipped")
            return False
        return True

    # -- public ---------------------------------------------------------------------------------
    def walk(self, *paths: str | os.PathLike[str]) -> Iterator[Entry]:
        for path in paths:
            p = Path(path)
            if p.is_symlink():
                self.problem(str(p), "is a symbolic link: not followed")
                continue
            if p.is_dir():
                yield from self._walk_dir(p)
            elif p.is_file():
                yield from self._walk_file(p, explicit=True)
            elif not p.exists():
                self.problem(str(p), "no such file or folder")
            else:
                self.problem(str(p), "not a regular file: skipped")

    # -- folders and files ------------------------------------------------------------------------
    def _walk_dir(self, root: Path) -> Iterator[Entry]:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            d = Path(dirpath)
            for dn in list(dirnames):
                if (d / dn).is_symlink():
                    self.problem(str(d / dn), "is a symbolic link: not followed")
                    dirnames.remove(dn)
            for fn in sorted(filenames):
                if self._stop_all:
                    return
                f = d / fn
                rel = f.relative_to(root).as_posix()
                try:
                    st = f.lstat()
                except OSError as exc:
                    self.problem(str(f), f"unreadable ({exc.strerror})")
                    continue
                if stat.S_ISLNK(st.st_mode):
                    self.problem(str(f), "is a symbolic link: not followed")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                kind = classify(rel)
                if kind is None:
                    continue
                yield from self._walk_file(f, rel=rel, explicit=False)

    def _walk_file(self, f: Path, *, rel: str | None = None, explicit: bool) -> Iterator[Entry]:
        if not self._count_entry(str(f)):
            return
        try:
            fh = open(f, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            self.problem(str(f), f"unreadable ({exc.strerror or exc})")
            return
        with fh:
            size = os.fstat(fh.fileno()).st_size
            rel = rel if rel is not None else f.name
            yield from self._dispatch(fh, display=str(f), rel=rel, compressed_size=size, depth=0,
                                      explicit=explicit, seekable=True)

    # -- format dispatch ------------------------------------------------------------------------
    def _dispatch(
        self,
        fh: BinaryIO,
        *,
        display: str,
        rel: str,
        compressed_size: int | None,
        depth: int,
        explicit: bool,
        seekable: bool,
    ) -> Iterator[Entry]:
        head = self._head(fh, display)
        if head is None:
            return
        kind = _sniff(head)
        if kind in ("zip", "tar", "gzip") and depth >= self.limits.max_depth:
            self.problem(display, f"archives nested deeper than {self.limits.max_depth} levels: skipped")
            return
        if kind == "zip":
            yield from self._walk_zip(fh, head, display, depth, seekable)
            return
        if kind == "tar":
            yield from self._walk_tar(_Peek(fh, head), display, depth)
            return
        if kind == "gzip":
            import gzip

            gz = gzip.GzipFile(fileobj=_Peek(fh, head), mode="rb")
            capped = _Capped(gz, self, compressed_size)
            inner_head = self._head(capped, display)
            if inner_head is None:
                return
            inner_kind = _sniff(inner_head)
            if inner_kind == "tar":
                yield from self._walk_tar(_Peek(capped, inner_head), display, depth)
                return
            if inner_kind in ("zip", "gzip"):
                yield from self._dispatch(_Peek(capped, inner_head), display=display + "!",
                                          rel=_strip_compress_ext(rel), compressed_size=None,
                                          depth=depth + 1, explicit=explicit, seekable=False)
                return
            if not inner_head and not explicit:
                return
            yield from self._emit(_Peek(capped, inner_head), inner_head, display, _strip_compress_ext(rel), explicit)
            return
        if kind in ("bzip2", "xz", "7z", "rar"):
            self.problem(display, f"{kind} is not a supported format: use gzip, zip or tar")
            return
        yield from self._emit(_Peek(fh, head), head, display, rel, explicit)

    def _emit(self, stream: BinaryIO, head: bytes, display: str, rel: str, explicit: bool) -> Iterator[Entry]:
        kind = classify(rel, explicit=explicit)
        if kind == "archive":  # named like an archive but is not one
            kind = "log" if explicit else None
        if kind is None:
            return
        if looks_binary(head):
            self.problem(display, "binary data, not a text log: skipped")
            return
        if kind == "log":
            self.logs_found += 1
        counted = _Capped(stream, self, None, total=True)
        yield Entry(name=display, node=_node_of(rel), kind=kind, _stream=counted, _walker=self)

    # -- archives -------------------------------------------------------------------------------
    def _walk_tar(self, fh: BinaryIO, display: str, depth: int) -> Iterator[Entry]:
        try:
            tf = tarfile.open(fileobj=fh, mode="r|")
        except LimitExceeded as exc:
            self.problem(display, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - corrupt input
            self.problem(display, f"not a readable tar archive ({exc})")
            return
        try:
            members = iter(tf)
            while True:
                if self._stop_all:
                    return
                try:
                    m = next(members)
                except StopIteration:
                    break
                except LimitExceeded as exc:
                    self.problem(display, str(exc))
                    return
                except Exception as exc:  # noqa: BLE001 - corrupt input
                    self.problem(display, _describe_corrupt(exc))
                    return
                label = f"{display}!{m.name}"
                if m.isdir():
                    continue
                if not self._count_entry(label):
                    return
                safe = _safe_member_name(m.name)
                if safe is None:
                    self.problem(label, "member path is absolute or leaves the archive (path traversal): skipped")
                    continue
                if m.issym() or m.islnk():
                    self.problem(label, "is a link: not followed")
                    continue
                if not m.isfile():
                    self.problem(label, "not a regular file (device, fifo): skipped")
                    continue
                if classify(safe) is None:
                    continue
                inner = tf.extractfile(m)
                if inner is None:
                    continue
                yield from self._member(inner, label, safe, m.size, depth, seekable=False)
        finally:
            with contextlib.suppress(Exception):  # a broken tail must not hide results
                tf.close()

    def _walk_zip(self, fh: BinaryIO, head: bytes, display: str, depth: int, seekable: bool) -> Iterator[Entry]:
        if seekable:
            fh.seek(0)
            yield from self._walk_zip_file(fh, display, depth)
            return
        spooled = self._spool(_Peek(fh, head), display)
        if spooled is None:
            return
        try:
            yield from self._walk_zip_file(spooled, display, depth)
        finally:  # one nested zip at a time on disk
            self._drop_tmp(spooled)

    def _walk_zip_file(self, fh: BinaryIO, display: str, depth: int) -> Iterator[Entry]:
        try:
            zf = zipfile.ZipFile(fh)
        except Exception as exc:  # noqa: BLE001 - corrupt input
            self.problem(display, f"not a readable zip archive ({exc})")
            return
        with zf:
            infos = zf.infolist()
            if not infos:
                self.problem(display, "empty archive")
            for info in infos:
                if self._stop_all:
                    return
                label = f"{display}!{info.filename}"
                if info.is_dir():
                    continue
                if not self._count_entry(label):
                    return
                safe = _safe_member_name(info.filename)
                if safe is None:
                    self.problem(label, "member path is absolute or leaves the archive (path traversal): skipped")
                    continue
                mode = (info.external_attr >> 16) & 0xFFFF
                if stat.S_ISLNK(mode):
                    self.problem(label, "is a link: not followed")
                    continue
                if classify(safe) is None:
                    continue
                if info.compress_size and info.file_size > self.limits.ratio_floor and (
                    info.file_size > self.limits.max_ratio * info.compress_size
                ):
                    self.problem(
                        label,
                        f"compression ratio over {self.limits.max_ratio:g}:1 "
                        f"({info.file_size} bytes from {info.compress_size}): looks like a zip bomb, member skipped",
                    )
                    continue
                try:
                    inner = zf.open(info)
                except Exception as exc:  # noqa: BLE001 - corrupt, encrypted or unsupported member
                    self.problem(label, f"cannot open member ({exc})")
                    continue
                with inner:
                    yield from self._member(inner, label, safe, info.compress_size or None, depth, seekable=False)

    def _member(self, inner: BinaryIO, label: str, rel: str, csize: int | None, depth: int, seekable: bool):
        capped = _Capped(inner, self, csize)
        yield from self._dispatch(capped, display=label, rel=rel, compressed_size=csize, depth=depth + 1,
                                  explicit=False, seekable=seekable)

    def _spool(self, fh: BinaryIO, display: str) -> BinaryIO | None:
        """A nested zip needs random access: copy it (within the caps) to a temporary file."""
        tmp = tempfile.NamedTemporaryFile(prefix="imdesk-diag-", suffix=".zip", delete=False)  # noqa: SIM115
        self._tmp.append(tmp)
        try:
            while True:
                data = fh.read(CHUNK)
                if not data:
                    break
                tmp.write(data)
        except LimitExceeded as exc:
            self.problem(display, str(exc))
            self._drop_tmp(tmp)
            return None
        except Exception as exc:  # noqa: BLE001 - corrupt input
            self.problem(display, _describe_corrupt(exc))
            self._drop_tmp(tmp)
            return None
        tmp.flush()
        tmp.seek(0)
        return tmp  # type: ignore[return-value]


def _prefetch(source: Iterator[bytes], depth: int = 4) -> Iterator[bytes]:
    """Run ``source`` in a helper thread, at most ``depth`` chunks ahead (bounded memory)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)
        finally:
            q.put(done)

    t = threading.Thread(target=pump, name="imdesk-diag-read", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.1)
        t.join()


def decode_line(raw: bytes) -> str:
    """UTF-8 when it is, GB18030 (a superset of GBK) when that decodes, else UTF-8 with U+FFFD.

    Decided per line, so a file that mixes GBK and UTF-8 lines reads right on both.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")
