import gzip
import json
import tarfile
import zipfile

import pytest

from imdesk.cli import main

try:
    from tests.diag.bundlegen import make_bundle, make_tarball
except ImportError:  # pragma: no cover
    from bundlegen import make_bundle, make_tarball


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def sick(tmp_path_factory):
    d = tmp_path_factory.mktemp("b")
    root = make_bundle(d / "bundle", "db_unreachable", minutes=30, per_minute=20, seed=9)
    return make_tarball(root, d / "bundle.tar.gz")


def test_templates_json_contract(tmp_path, capsys):
    f = tmp_path / "x.log"
    f.write_text("2026-03-15 10:00:00.000 INFO [msg] - user u1 logged in from 10.0.0.1\n"
                 "2026-03-15 10:00:01.000 ERROR [api] ERR_IM_9001 boom\n"
                 "  at trace line\n"
                 "2026-03-15 10:00:02.000 INFO [msg] - user u2 logged in from 10.0.0.2\n")
    code, out, _ = run(capsys, "diag", "templates", str(f), "--json")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [r["line"] for r in rows] == [1, 2, 3]
    assert rows[0]["template_id"] == rows[2]["template_id"] != rows[1]["template_id"]
    assert rows[0]["template"] == "user <*> logged in from <*>"


def test_templates_with_a_loghub_format(tmp_path, capsys):
    f = tmp_path / "hdfs.log"
    f.write_text("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38 terminating\n"
                 "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-69 terminating\n"
                 "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated\n")
    code, out, _ = run(capsys, "diag", "templates", str(f), "--log-format", "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                       "--json")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(rows) == 3
    assert rows[0]["template"] == "PacketResponder <*> for block <*> terminating"
    assert rows[0]["template_id"] == rows[1]["template_id"] != rows[2]["template_id"]


def test_analyze_json_contract_and_exit_code(sick, capsys):
    code, out, _ = run(capsys, "diag", "analyze", str(sick), "--json")
    rep = json.loads(out)
    assert code == 1
    assert set(rep) >= {"findings", "templates", "stats"}
    assert rep["findings"][0]["rule_id"] == "IM-5001-DB-UNREACHABLE"
    assert rep["findings"][0]["evidence"][0].startswith(str(sick) + "!")


def test_analyze_text_markdown_html(sick, capsys, tmp_path):
    code, out, _ = run(capsys, "diag", "analyze", str(sick))
    assert code == 1 and "Database unreachable" in out
    code, out, _ = run(capsys, "diag", "analyze", str(sick), "--format", "markdown", "--lang", "zh")
    assert "数据库不可达" in out
    html = tmp_path / "r.html"
    code, out, _ = run(capsys, "diag", "analyze", str(sick), "--format", "html", "-o", str(html))
    assert "<section" in html.read_text()


def test_analyze_healthy_exits_0(tmp_path, capsys):
    root = make_bundle(tmp_path / "h", "healthy", minutes=20, per_minute=20, seed=1)
    code, out, _ = run(capsys, "diag", "analyze", str(root), "--json")
    assert code == 0 and json.loads(out)["stats"]["nodes"] == ["im-node-1", "im-node-2"]


def test_grep_fields_window_and_rotated_gz(sick, capsys):
    code, out, _ = run(capsys, "diag", "grep", str(sick), "--level", "ERROR", "--code", "ERR_IM_5001",
                       "--fields", "date,time,code,node")
    lines = out.splitlines()
    assert code == 0 and lines and all(x.split()[2] == "ERR_IM_5001" for x in lines)
    assert lines[0].split()[0] == "2026-03-15"
    code, out, _ = run(capsys, "diag", "grep", str(sick), "--since", "2026-03-14 00:00", "--until", "2026-03-14 23:59")
    assert code == 0 and out and all(x.startswith("2026-03-14") for x in out.splitlines())  # from the .log.gz
    code, out, _ = run(capsys, "diag", "grep", str(sick), "--module", "nosuch")
    assert code == 1 and out == ""


def test_grep_json(sick, capsys):
    code, out, _ = run(capsys, "diag", "grep", str(sick), "--code", "ERR_IM_5003", "--json")
    row = json.loads(out.splitlines()[0])
    assert row["code"] == "ERR_IM_5003" and row["ts"].endswith("+08:00")


@pytest.mark.parametrize(
    "name,make,message",
    [
        ("garbage.log", lambda p: p.write_bytes(bytes(range(256)) * 64), "binary"),
        ("cut.log.gz", lambda p: p.write_bytes(gzip.compress(b"\n".join(
            b"2026-03-15 10:00:%02d.000 ERROR [storage] ERR_IM_5001 database unreachable n=%d" % (i % 60, i)
            for i in range(5000)))[:3000]), "truncated"),
        ("empty.tar.gz", lambda p: tarfile.open(p, "w:gz").close(), "nothing to analyse"),
        ("empty.zip", lambda p: zipfile.ZipFile(p, "w").close(), "empty archive"),
        ("x.log.bz2", lambda p: p.write_bytes(b"BZh91AY&SY" + b"\1" * 64), "bzip2"),
    ],
)
def test_bad_input_gives_a_clear_message(tmp_path, capsys, name, make, message):
    p = tmp_path / name
    make(p)
    code, out, err = run(capsys, "diag", "analyze", str(p), "--json")
    assert message in err
    if name == "cut.log.gz":  # partial results
        assert code == 1 and json.loads(out)["findings"][0]["code"] == "ERR_IM_5001"
    else:
        assert code == 2


def test_mixed_encodings_and_a_10mb_line(tmp_path, capsys):
    p = tmp_path / "mixed.log"
    p.write_bytes("2026-03-15 10:00:00.000 ERROR [file] ERR_IM_5201 文件存储已满 no space left on device\n".encode("gbk")
                  + b"2026-03-15 10:00:01.000 INFO [msg] - " + b"x" * (10 << 20) + b"\n"
                  + "2026-03-15 10:00:02.000 ERROR [file] ERR_IM_5201 文件存储已满\n".encode())
    code, out, err = run(capsys, "diag", "analyze", str(p), "--json")
    rep = json.loads(out)
    assert code == 1 and rep["findings"][0]["count"] == 2
    assert "longer than" in err
    code, out, _ = run(capsys, "diag", "grep", str(p), "--code", "ERR_IM_5201", "--fields", "message")
    assert out.count("文件存储已满") == 2


@pytest.mark.parametrize(
    "argv,message",
    [
        (["diag", "analyze", "/nonexistent/x"], "no such file"),
        (["diag", "analyze", ".", "--since", "yesterdayish"], "invalid time"),
        (["diag", "analyze", ".", "--profile", "nope"], "unknown profile"),
        (["diag", "analyze", ".", "--format", "pdf"], "unknown --format"),
        (["diag", "grep", ".", "--level", "LOUD"], "unknown level"),
        (["diag", "templates", ".", "--log-format", "<Date> <Time>"], "<Content>"),
        (["diag", "templates", ".", "--baseline", "/nonexistent.json"], "cannot read baseline"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_an_unknown_log_format_says_so(tmp_path, capsys):
    p = tmp_path / "app.log"
    p.write_text("hello there\nsome other text\nnothing like im_server\n")
    code, _, err = run(capsys, "diag", "analyze", str(p), "--json")
    assert code == 2 and "unknown log format" in err and "--log-format" in err
    p.write_text("Out of memory: Killed process 2231 (im_server)\nanother line\n")  # raw messages still count
    code, out, err = run(capsys, "diag", "analyze", str(p), "--json")
    assert code == 1 and json.loads(out)["findings"][0]["rule_id"] == "RAW-OOM-KILLED"


def test_rar_and_7z_are_named(tmp_path, capsys):
    p = tmp_path / "b.rar"
    p.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 64)
    code, _, err = run(capsys, "diag", "analyze", str(p))
    assert code == 2 and "rar is not a supported format" in err


def test_an_empty_time_window_is_a_warning_not_an_error(sick, capsys):
    code, out, err = run(capsys, "diag", "analyze", str(sick), "--since", "2020-01-01", "--until", "2020-01-02", "--json")
    assert code == 0 and json.loads(out)["findings"] == [] and "outside the window" in err


def test_baseline_round_trip_on_the_cli(tmp_path, capsys, sick):
    base = tmp_path / "base.json"
    code, _, _ = run(capsys, "diag", "templates", str(sick), "--save-baseline", str(base))
    assert code == 0 and json.loads(base.read_text())["format"] == "imdesk-templates"
    code, out, _ = run(capsys, "diag", "analyze", str(sick), "--baseline", str(base), "--json")
    assert json.loads(out)["new_templates"] == []
    code, _, err = run(capsys, "diag", "templates", str(sick), "--save-baseline", str(tmp_path / "no" / "dir.json"))
    assert code == 2 and "cannot write baseline" in err


def test_grep_on_a_log_without_milliseconds(tmp_path, capsys):
    p = tmp_path / "a.log"
    p.write_text("".join(f"2026-03-15 10:00:{s:02d} {'ERROR' if s % 10 == 0 else 'INFO'} [api] - n={s}\n" for s in range(60)))
    code, out, _ = run(capsys, "diag", "grep", str(p), "--level", "ERROR", "--fields", "time,n")
    assert code == 0 and out.split("\n")[:2] == ["10:00:00.000 0", "10:00:10.000 10"] and out.count("\n") == 6


def test_analyze_with_a_loghub_format(tmp_path, capsys):
    p = tmp_path / "ssh.log"
    p.write_text("".join(f"Dec 10 06:55:{s:02d} LabSZ sshd[24200]: error: connect to 10.0.0.{s}:22: Connection refused\n"
                         for s in range(30)))
    code, out, err = run(capsys, "diag", "analyze", str(p), "--json",
                         "--log-format", r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>")
    rep = json.loads(out)
    assert "unknown log format" not in err
    assert rep["findings"][0]["rule_id"] == "RAW-CONNECTION-REFUSED" and rep["stats"]["first_record"].endswith("+08:00")
