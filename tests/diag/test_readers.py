import gzip
import io
import os
import tarfile
import zipfile

import pytest

from imdesk.diag.readers import Limits, Walker, decode_line

LINE = b"2026-03-15 10:00:00.000 INFO [msg] - hello uid=1\n"


def read_all(path, limits=None):
    out = {}
    with Walker(limits or Limits()) as w:
        for e in w.walk(path):
            out[e.name.split("!")[-1] if "!" in e.name else os.path.basename(e.name)] = (
                e.kind, e.node, [ln for _, ln in e.lines()])
        return out, [str(p) for p in w.problems]


def add_bytes(tf, name, data, **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    tf.addfile(info, io.BytesIO(data))


def test_folder_with_nodes_gz_and_config(tmp_path):
    (tmp_path / "b" / "node1" / "logs").mkdir(parents=True)
    (tmp_path / "b" / "node1" / "logs" / "2026-03-15.log").write_bytes(LINE * 3)
    with gzip.open(tmp_path / "b" / "node1" / "logs" / "2026-03-14.log.gz", "wb") as fh:
        fh.write(LINE)
    (tmp_path / "b" / "node1" / "im_config.yaml").write_text("server: {node_id: n1}\n")
    (tmp_path / "b" / "node1" / "notes.bin").write_bytes(b"\0\1\2")  # not a log name: ignored
    out, problems = read_all(tmp_path / "b")
    assert out["2026-03-15.log"] == ("log", "node1", [LINE.rstrip()] * 3)
    assert out["2026-03-14.log.gz"][2] == [LINE.rstrip()]
    assert out["im_config.yaml"][0] == "config"
    assert "notes.bin" not in out and problems == []


def test_symlinks_are_never_followed(tmp_path):
    (tmp_path / "logs").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    os.symlink(secret, tmp_path / "logs" / "evil.log")
    os.symlink(tmp_path, tmp_path / "logs" / "loop")
    out, problems = read_all(tmp_path / "logs")
    assert out == {}
    assert sum("symbolic link" in p for p in problems) == 2


def test_tar_gz_with_nested_gz_and_links_and_traversal(tmp_path):
    p = tmp_path / "bundle.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        add_bytes(tf, "bundle/n1/logs/a.log", LINE)
        add_bytes(tf, "bundle/n1/logs/b.log.gz", gzip.compress(LINE * 2))
        add_bytes(tf, "../../etc/evil.log", LINE)
        add_bytes(tf, "/abs/evil.log", LINE)
        add_bytes(tf, "bundle/n1/logs/link.log", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    out, problems = read_all(p)
    assert out["bundle/n1/logs/a.log"][1:] == ("n1", [LINE.rstrip()])
    assert out["bundle/n1/logs/b.log.gz"][2] == [LINE.rstrip()] * 2
    assert not any("evil" in k or "link" in k for k in out)
    assert sum("path traversal" in x for x in problems) == 2
    assert any("link.log" in x and "link" in x for x in problems)


def test_zip_and_zip_inside_tar(tmp_path):
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("n2/logs/x.log", LINE * 4)
        zf.writestr("../evil.log", LINE)
    (tmp_path / "b.zip").write_bytes(zbuf.getvalue())
    out, problems = read_all(tmp_path / "b.zip")
    assert out["n2/logs/x.log"][2] == [LINE.rstrip()] * 4
    assert any("path traversal" in x for x in problems)
    t = tmp_path / "outer.tgz"
    with tarfile.open(t, "w:gz") as tf:
        add_bytes(tf, "outer/inner.zip", zbuf.getvalue())
    out, _ = read_all(t)
    assert out["n2/logs/x.log"][2] == [LINE.rstrip()] * 4


def test_caps_entries_total_size_and_ratio(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(5):
        (d / f"{i}.log").write_bytes(LINE)
    out, problems = read_all(d, Limits(max_entries=3))
    assert len(out) == 3 and any("more than 3 entries" in p for p in problems)

    out, problems = read_all(d, Limits(max_total_bytes=len(LINE) * 2))
    assert any("total uncompressed size" in p for p in problems)

    bomb = tmp_path / "bomb.log.gz"
    bomb.write_bytes(gzip.compress(b"A" * 2_000_000))
    out, problems = read_all(bomb, Limits(max_ratio=50, ratio_floor=100_000))
    assert any("bomb.log.gz" in p and "compression ratio" in p for p in problems)

    zb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.log", b"A" * 2_000_000)
        zf.writestr("ok.log", LINE)
    out, problems = read_all(zb, Limits(max_ratio=50, ratio_floor=100_000))
    assert "ok.log" in out and "big.log" not in out
    assert any("big.log" in p and "zip bomb" in p for p in problems)


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress(LINE * 20000)
    p = tmp_path / "cut.log.gz"
    p.write_bytes(data[: len(data) // 2])
    out, problems = read_all(p)
    lines = out["cut.log.gz"][2]
    assert 0 < len(lines) < 20000
    assert any("truncated" in x for x in problems)


def test_binary_garbage_empty_archive_and_unsupported_compression(tmp_path):
    g = tmp_path / "garbage.log"
    g.write_bytes(bytes(range(256)) * 100)
    out, problems = read_all(g)
    assert out == {} and any("binary" in p for p in problems)
    e = tmp_path / "empty.zip"
    with zipfile.ZipFile(e, "w"):
        pass
    out, problems = read_all(e)
    assert out == {} and any("empty archive" in p for p in problems)
    b = tmp_path / "x.log.bz2"
    b.write_bytes(b"BZh91AY&SY" + b"\0" * 50)
    out, problems = read_all(b)
    assert any("bzip2" in p for p in problems)


def test_a_10mb_line_is_cut_not_loaded(tmp_path):
    p = tmp_path / "long.log"
    p.write_bytes(LINE + b"x" * (10 << 20) + b"\n" + LINE)
    with Walker(Limits(max_line_bytes=1 << 20)) as w:
        gen = w.walk(p)
        entry = next(gen)
        lines = list(entry.lines())
        assert [n for n, _ in lines] == [1, 2, 3]
        assert len(lines[1][1]) == 1 << 20 and lines[2][1] == LINE.rstrip()
        assert any("longer than" in str(x) for x in w.problems)
    with Walker(Limits(max_line_bytes=1 << 20)) as w:
        gen = w.walk(p)
        entry = next(gen)
        blocks = [ln for b in entry.blocks(size=1 << 16) for ln in b]
        assert len(blocks) == 3 and max(map(len, blocks)) == 1 << 20


def test_mixed_gbk_and_utf8_lines_decode_each_right():
    assert decode_line("数据库连接失败".encode()) == "数据库连接失败"
    assert decode_line("数据库连接失败".encode("gbk")) == "数据库连接失败"
    assert "\ufffd" in decode_line(b"\xff\xfe\xfa bad")


def test_missing_path_is_a_problem_not_an_exception(tmp_path):
    out, problems = read_all(tmp_path / "nope")
    assert out == {} and "no such file" in problems[0]


@pytest.mark.parametrize("prefetch", [True, False])
def test_blocks_equal_lines(tmp_path, prefetch):
    p = tmp_path / "a.log"
    p.write_bytes(b"".join(b"line %d\r\n" % i for i in range(50000)))
    with Walker() as w:
        gen = w.walk(p)
        entry = next(gen)
        got = [ln.rstrip(b"\r") for b in entry.blocks(size=4096, prefetch=prefetch) for ln in b]
    assert got == [b"line %d" % i for i in range(50000)]


def test_corrupted_archives_never_raise(tmp_path):
    """Seeded fuzzing: flipped bytes and cuts in tar.gz, zip, gz and plain logs."""
    import random

    from imdesk.diag.analyze import analyze

    data = b"2026-03-15 10:00:00.000 ERROR [storage] ERR_IM_5001 database unreachable\n" * 100
    t = io.BytesIO()
    with tarfile.open(fileobj=t, mode="w:gz") as tf:
        add_bytes(tf, "b/n1/logs/a.log", data)
        add_bytes(tf, "b/n1/logs/b.log.gz", gzip.compress(data))
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("c.log", data)
            zf.writestr("im_config.yaml", "server: {workers: 4}\n")
        add_bytes(tf, "b/n1/c.zip", z.getvalue())
    bases = [t.getvalue(), z.getvalue(), gzip.compress(data), data]
    rng = random.Random(5)
    for i in range(120):
        b = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 12)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        if rng.random() < 0.3:
            b = b[: rng.randrange(len(b))]
        p = tmp_path / f"f{i}{rng.choice(['.tgz', '.zip', '.log.gz', '.log'])}"
        p.write_bytes(bytes(b))
        report = analyze([str(p)])
        assert isinstance(report["problems"], list)


def test_nested_zips_leave_no_temporary_files(tmp_path):
    import glob
    import tempfile

    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "imdesk-diag-*")))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("x.log", LINE)
    t = tmp_path / "o.tgz"
    with tarfile.open(t, "w:gz") as tf:
        for i in range(3):
            add_bytes(tf, f"o/n{i}/inner.zip", z.getvalue())
    out, problems = read_all(t)
    assert len(out) == 1 and not problems  # three x.log, one key in the dict
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "imdesk-diag-*"))) == before
