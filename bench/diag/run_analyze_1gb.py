"""``diag analyze`` on 1 GB of im_server logs in a .tar.gz: time, peak RSS, and the grep baseline.

    .venv/bin/python bench/diag/run_analyze_1gb.py [--size-mb 1024] [--keep]

Builds (once, cached under $TMPDIR/imdesk-bench) a bundle of two nodes whose logs hold healthy
noise plus a 20-minute database outage, about 1 GB uncompressed (~5 M lines), then measures:

- ``tar xzf BUNDLE -O | grep -c ERROR`` (the shell baseline),
- ``imdesk diag analyze BUNDLE --json`` in a child process: wall time and peak RSS,

and checks that the outage is the first finding. Targets (issue 5): <= 30 s, <= 1 GB RSS, and
within 10x the shell baseline. The machine may be shared: the 1-minute load average is printed
before and after the analysis and kept with the figures. Results go to
``bench/results/diag_analyze_1gb.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "diag"))

from bundlegen import stream_lines  # noqa: E402


def build(size_mb: int, out_dir: Path) -> Path:
    bundle = out_dir / f"im-bundle-{size_mb}mb.tar.gz"
    if bundle.exists():
        return bundle
    out_dir.mkdir(parents=True, exist_ok=True)
    per_node = size_mb * (1 << 20) // 2
    files = []
    for n in (1, 2):
        path = out_dir / f"node{n}.log"
        written = 0
        minutes = 1440
        per_minute = max(10, per_node // 200 // minutes)
        with open(path, "w", encoding="utf-8") as fh:
            buf = []
            for line in stream_lines(minutes, per_minute, seed=n, node=f"im-node-{n}"):
                buf.append(line)
                if len(buf) >= 20_000:
                    text = "\n".join(buf) + "\n"
                    fh.write(text)
                    written += len(text)
                    buf.clear()
            if buf:
                text = "\n".join(buf) + "\n"
                fh.write(text)
                written += len(text)
        files.append((n, path, written))
        print(f"node{n}: {written / 1e6:.0f} MB", flush=True)
    tmp = bundle.with_suffix(".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tf:
        for n, path, _ in files:
            tf.add(path, arcname=f"bundle/im-node-{n}/logs/2026-03-15.log")
            cfg = out_dir / f"im_config_{n}.yaml"
            cfg.write_text(f"server:\n  node_id: im-node-{n}\n  workers: 16\nstorage:\n  database:\n    pool_size: 32\n",
                           encoding="utf-8")
            tf.add(cfg, arcname=f"bundle/im-node-{n}/im_config.yaml")
    os.replace(tmp, bundle)
    for _, path, _ in files:
        path.unlink()
    return bundle


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "imdesk-bench"))
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "diag_analyze_1gb.json"))
    args = ap.parse_args()
    t = time.perf_counter()
    bundle = build(args.size_mb, Path(args.dir))
    print(f"bundle {bundle} ({bundle.stat().st_size / 1e6:.0f} MB compressed), built in {time.perf_counter() - t:.0f}s",
          flush=True)

    t = time.perf_counter()
    shell = subprocess.run(f"tar xzf '{bundle}' -O | grep -c ERROR", shell=True, capture_output=True, text=True,
                           check=False)
    t_grep = time.perf_counter() - t
    print(f"tar xzf -O | grep -c ERROR: {t_grep:.1f}s ({shell.stdout.strip()} lines)", flush=True)

    load_before = os.getloadavg()
    print(f"load average before analyze: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    imdesk = REPO / ".venv" / "bin" / "imdesk"
    cmd = [str(imdesk) if imdesk.exists() else "imdesk", "diag", "analyze", str(bundle), "--json", "--no-progress"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    t_an = time.perf_counter() - t
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_mb = ru1.ru_maxrss / 1024
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    load = os.getloadavg()[0]
    print(f"load average after analyze: {load:.2f}", flush=True)
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
        return 1
    report = json.loads(proc.stdout)
    top = report["findings"][0]["rule_id"] if report["findings"] else None
    st = report["stats"]
    result = {
        "bundle_compressed_mb": round(bundle.stat().st_size / 1e6, 1),
        "uncompressed_mb": round(st["bytes"] / 1e6, 1),
        "lines": st["lines"],
        "analyze_seconds": round(t_an, 2),
        "analyze_cpu_seconds": round(cpu, 2),
        "analyze_peak_rss_mb": round(rss_mb, 1),
        "load_average_1m": round(load, 2),
        "load_average_1m_before": round(load_before[0], 2),
        "tar_grep_seconds": round(t_grep, 2),
        "ratio_to_tar_grep": round(t_an / t_grep, 2),
        "first_finding": top,
        "targets": {"seconds": 30, "rss_mb": 1024, "ratio": 10},
        "rss_note": "peak RSS of all child processes (the analyze process is the largest)",
    }
    result["ok"] = t_an <= 30 and rss_mb <= 1024 and t_an <= 10 * t_grep and top == "IM-5001-DB-UNREACHABLE"
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
