"""Desk benchmark: 1,000,000 tickets on SQLite and PostgreSQL.

Measures (results in bench/results/desk_<engine>.json):
  * bulk load of N tickets (executemany on SQLite, COPY on PostgreSQL; not through the ORM)
  * ticket creation with triage (classification, priority, SLA, routing, timeline, outbox), p50/p95
  * the agent queue page (/desk?queue=mine|group|unassigned|breaching) over HTTP against a running
    `imdesk serve`, p50/p95 per queue
  * the monthly SLA report (with next-response clocks for a quarter of the closed tickets) and a
    customer reply / agent reply pair (which start and end a next-response clock), p50/p95
  * the SLA job over all open tickets (run_sla_check until done, with a few thousand tickets crossing
    their 80 % / due instants) and a full recompute of every open ticket's due times
  * 50 concurrent API clients on loopback: `wrk` (when installed) on GET /api/v1/tickets/{id} and an
    httpx-async client mix (POST /api/v1/tickets + GET) — errors counted

Usage: .venv/bin/python bench/desk/run_desk.py [--engine sqlite|postgresql|both] [--tickets 1000000]
PostgreSQL: database imdesk_bench on 127.0.0.1 (user postgres), dropped and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_BENCH = "postgresql+psycopg://postgres@127.0.0.1:5432/imdesk_bench"

TITLES = [
    ("iOS 收不到离线推送 ERR_IM_3001", "push"), ("群聊消息撤回失败", "messaging"), ("LDAP 通讯录同步失败", "directory"),
    ("Redis 连接超时 ERR_IM_5002", "infrastructure"), ("SSO login fails for some users", "auth"),
    ("Invoice for licence renewal", "account"), ("SDK 4.1 调用 REST 接口 401", "integration"),
    ("疑似账号被盗", "security"), ("Messages delayed for many users", "messaging"), ("数据库连接池超时 ERR_IM_5003", "infrastructure"),
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return round(s[k], 2)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None, "max_ms": round(max(ms), 2) if ms else None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -------------------------------------------------------------------------------------------------
def prepare_database(engine_name: str, workdir: Path) -> str:
    from sqlalchemy import create_engine, text

    if engine_name == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS imdesk_bench WITH (FORCE)"))
            c.execute(text("CREATE DATABASE imdesk_bench"))
        admin.dispose()
        url = PG_BENCH
    return url


def seed_people(url: str, n_orgs: int, n_agents: int) -> dict:
    from sqlalchemy.orm import Session

    from imdesk.accounts import services as acc
    from imdesk.accounts.services import SYSTEM
    from imdesk.core.db import make_engine
    from imdesk.desk import services, store
    from imdesk.migrations import upgrade

    engine = make_engine(url)
    upgrade(engine)
    info: dict = {"orgs": [], "customers": [], "agents": [], "tokens": {}}
    with Session(engine) as s:
        store.seed(s)
        am = acc.do_create_user(s, SYSTEM, email="am@bench.example", role="account_manager", password=None)
        for i in range(n_orgs):
            org = acc.do_create_org(s, SYSTEM, name=f"Bench Org {i}", plan="standard" if i % 5 else "premium",
                                    verified=i % 7 == 0, account_manager_email=am.email if i % 10 == 0 else None)
            info["orgs"].append(org.id)
            cust = acc.do_create_user(s, SYSTEM, email=f"c{i}@bench.example", role="customer",
                                      org_name=org.name, password=None)
            info["customers"].append(cust.id)
        groups = ["auth", "messaging", "push", "integration", "directory", "infrastructure", "security", "account"]
        for i in range(n_agents):
            role = "senior_engineer" if i % 5 == 0 else "agent"
            u = acc.do_create_user(s, SYSTEM, email=f"a{i}@bench.example", role=role, password=None)
            info["agents"].append(u.id)
            for g in groups[i % 8: i % 8 + 3] or groups[:3]:
                services.do_add_group_member(s, SYSTEM, g, u.id)
        _tok, plain = acc.do_create_token(s, SYSTEM, "a1@bench.example")
        info["tokens"]["agent"] = plain
        info["agent_email"] = "a1@bench.example"
        for i in range(min(50, n_orgs)):
            _t, p = acc.do_create_token(s, SYSTEM, f"c{i}@bench.example")
            info["tokens"][f"c{i}"] = p
        info["groups"] = {k: v for k, v in store.desk_config(s).groups.items()}
        s.commit()
    engine.dispose()
    return info


COLUMNS = ["number", "org_id", "requester_id", "title", "description", "channel", "status", "priority",
           "suggested_priority", "group_id", "assignee_id", "classification", "group_overridden", "policy_name",
           "first_response_due", "first_response_warn_at", "first_responded_at", "next_response_due",
           "resolution_due", "resolution_warn_at", "paused_since", "sla_flags", "solution_proposed_at",
           "resolved_at", "closed_at", "reopen_count", "is_incident", "incident_id", "merged_into_id",
           "created_at", "updated_at", "next_due_at"]


def generate_rows(n: int, info: dict, now: datetime, open_share: float, crossing: int, seed: int = 7):
    """Yield ticket tuples. ~open_share are open; `crossing` open ones have passed their warning or
    due instant (work for the SLA job); the rest of the open ones are due in the future."""
    rnd = random.Random(seed)
    groups = list(info["groups"].values())
    agents = info["agents"]
    n_open = int(n * open_share)
    open_ids = set(rnd.sample(range(n), n_open))
    crossing_ids = set(rnd.sample(sorted(open_ids), min(crossing, n_open)))
    open_states = ["assigned", "in_progress", "waiting_customer", "solution_proposed", "triaged"]
    for i in range(n):
        title, gkey = TITLES[i % len(TITLES)]
        created = now - timedelta(minutes=rnd.randint(10, 60 * 24 * 365))
        prio = rnd.choices(["P0", "P1", "P2", "P3"], weights=[1, 5, 60, 34])[0]
        fr_due = created + timedelta(minutes={"P0": 15, "P1": 60, "P2": 480, "P3": 1440}[prio])
        res_due = created + timedelta(minutes={"P0": 240, "P1": 1440, "P2": 4320, "P3": 14400}[prio])
        org_idx = rnd.randrange(len(info["orgs"]))
        if i in open_ids:
            status = rnd.choice(open_states)
            if i in crossing_ids:
                created = now - timedelta(minutes=rnd.randint(20, 600))
                fr_due = now - timedelta(minutes=rnd.randint(1, 10))
                res_due = now + timedelta(minutes=rnd.randint(1, 60))
            else:
                created = now - timedelta(minutes=rnd.randint(1, 5))
                fr_due = now + timedelta(hours=rnd.randint(1, 48))
                res_due = fr_due + timedelta(hours=rnd.randint(1, 200))
            responded = None if i in crossing_ids else created + timedelta(minutes=1)
            resolved = closed = None
            paused = now - timedelta(minutes=5) if status == "waiting_customer" else None
            assignee = None if status == "triaged" else agents[i % len(agents)]
        else:
            status = "closed"
            responded = created + timedelta(minutes=rnd.randint(1, 300))
            resolved = created + timedelta(minutes=rnd.randint(60, 6000))
            closed = resolved + timedelta(days=7)
            paused = None
            assignee = agents[i % len(agents)]
        fr_warn = created + (fr_due - created) * 0.8
        res_warn = created + (res_due - created) * 0.8
        if status in ("resolved", "closed") or paused is not None:
            next_due = None
        else:
            next_due = min(d for d in (res_due, fr_due if responded is None else None) if d is not None)
        yield (f"B{i:08d}", info["orgs"][org_idx], info["customers"][org_idx], f"{title} #{i}",
               "bulk-loaded benchmark ticket", "web", status, prio, None, info["groups"].get(gkey, groups[0]),
               assignee, "{}", False, "default", fr_due, fr_warn, responded, None, res_due, res_warn, paused,
               0, None, resolved, closed, 0, False, None, None, created, created, next_due)


NEXT_RESPONSE_MIN = {"P0": 30, "P1": 120, "P2": 480, "P3": 1080}
CYCLE_COLUMNS = ["ticket_id", "started_at", "due_at", "ended_at", "responded"]


def cycle_rows(rows_seen: list[tuple[int, str, str, datetime]], seed: int = 11):
    """Next-response clocks for every 4th closed ticket: the customer wrote 3 h after creation, the
    desk answered 5-1500 minutes later (so roughly a third are breached). Ticket ids are 1..n in
    load order (the table is empty before the load)."""
    rnd = random.Random(seed)
    for tid, status, prio, created in rows_seen:
        if status != "closed" or tid % 4:
            continue
        start = created + timedelta(hours=3)
        yield (tid, start, start + timedelta(minutes=NEXT_RESPONSE_MIN[prio]),
               start + timedelta(minutes=rnd.randint(5, 1500)), True)


def bulk_load(url: str, info: dict, n: int, now: datetime, open_share: float, crossing: int) -> dict:
    t0 = time.perf_counter()
    batch = 20_000
    seen: list[tuple[int, str, str, datetime]] = []

    def rows():
        for i, r in enumerate(generate_rows(n, info, now, open_share, crossing)):
            seen.append((i + 1, r[6], r[7], r[29]))
            yield r

    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split(":///", 1)[1])
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for table, cols, source in (("desk_tickets", COLUMNS, rows), ("desk_response_cycles", CYCLE_COLUMNS,
                                                                      lambda: cycle_rows(seen))):
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            buf = []
            for r in source():
                buf.append(tuple(_sqlite_val(v) for v in r))
                if len(buf) >= batch:
                    conn.executemany(sql, buf)
                    buf.clear()
            if buf:
                conn.executemany(sql, buf)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/imdesk_bench") as conn:
            with conn.cursor() as cur, cur.copy(f"COPY desk_tickets ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for r in rows():
                    cp.write_row(r)
            with conn.cursor() as cur, cur.copy(f"COPY desk_response_cycles ({', '.join(CYCLE_COLUMNS)}) FROM STDIN") as cp:
                for r in cycle_rows(seen):
                    cp.write_row(r)
            conn.commit()
            conn.autocommit = True
            for table in ("desk_tickets", "desk_response_cycles"):
                conn.execute(f"VACUUM ANALYZE {table}")  # the steady state autovacuum reaches (visibility map)
            conn.autocommit = False
            conn.commit()
    return {"rows": n, "response_cycles": sum(1 for t in seen if t[1] == "closed" and t[0] % 4 == 0),
            "seconds": round(time.perf_counter() - t0, 1)}


def _sqlite_val(v):
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return v


# -------------------------------------------------------------------------------------------------
def bench_creation(url: str, info: dict, n: int) -> dict:
    from sqlalchemy.orm import Session

    from imdesk.accounts.services import actor_for_user_id
    from imdesk.core.clock import FixedClock
    from imdesk.core.db import make_engine
    from imdesk.desk import services

    engine = make_engine(url)
    clock = FixedClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # a Tuesday 10:00 in Shanghai
    times = []
    with Session(engine) as s:
        actors = [actor_for_user_id(s, uid) for uid in info["customers"][:20]]
    for i in range(n + 5):
        title, _g = TITLES[i % len(TITLES)]
        with Session(engine) as s:
            t0 = time.perf_counter()
            services.create_ticket(s, actors[i % len(actors)], clock=clock, title=f"{title} (bench {i})",
                                   description="部分用户受影响，日志见附件 some users affected")
            s.commit()
            dt = (time.perf_counter() - t0) * 1000
        if i >= 5:  # warm-up: jieba dictionary, config cache
            times.append(dt)
        clock.advance(timedelta(seconds=7))
    engine.dispose()
    return summary(times)


def bench_report(url: str, now: datetime, runs: int = 5) -> dict:
    """The monthly SLA report (first/next response, resolution per priority and group, breaches,
    CSAT) of the current and the previous month, through report.monthly."""
    from sqlalchemy.orm import Session

    from imdesk.core.db import make_engine
    from imdesk.desk import report

    engine = make_engine(url)
    out = {}
    prev = (now.replace(day=1) - timedelta(days=1))
    for label, month in (("current_month", now.strftime("%Y-%m")), ("previous_month", prev.strftime("%Y-%m"))):
        times = []
        for _ in range(runs):
            with Session(engine) as s:
                t0 = time.perf_counter()
                data = report.monthly(s, month, now=now)
                times.append((time.perf_counter() - t0) * 1000)
        out[label] = {**summary(times), "tickets": sum(p["tickets"] for p in data["per_priority"]),
                      "next_response_measured": sum(p["next_response_measured"] for p in data["per_priority"])}
    engine.dispose()
    return out


def bench_replies(url: str, info: dict, n: int) -> dict:
    """Customer reply (starts a next-response clock) and agent reply (ends it) on fresh tickets."""
    from sqlalchemy.orm import Session

    from imdesk.accounts.services import actor_for_user_id
    from imdesk.core.clock import FixedClock
    from imdesk.core.db import make_engine
    from imdesk.desk import services

    engine = make_engine(url)
    clock = FixedClock(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    with Session(engine) as s:
        customer = actor_for_user_id(s, info["customers"][0])
        agent = actor_for_user_id(s, info["agents"][1])
        ids = []
        for i in range(n):
            t = services.create_ticket(s, customer, clock=clock, title=f"群聊消息撤回失败 (reply bench {i})",
                                       description="部分用户")
            services.do_add_reply(s, agent, t.id, "first response", clock=clock)
            ids.append(t.id)
        s.commit()
    cust_ms, agent_ms = [], []
    for tid in ids:
        for actor, bucket in ((customer, cust_ms), (agent, agent_ms)):
            clock.advance(timedelta(seconds=30))
            with Session(engine) as s:
                t0 = time.perf_counter()
                services.do_add_reply(s, actor, tid, "more details / answer", clock=clock)
                s.commit()
                bucket.append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return {"customer_reply": summary(cust_ms), "agent_reply": summary(agent_ms)}


def bench_sla(url: str) -> dict:
    from sqlalchemy import func, select, update
    from sqlalchemy.orm import Session

    from imdesk.core.clock import SystemClock
    from imdesk.core.db import make_engine
    from imdesk.desk import services
    from imdesk.desk.lifecycle import OPEN_STATUSES
    from imdesk.desk.models import Ticket
    from imdesk.desk.store import desk_config

    engine = make_engine(url)
    out = {}
    open_values = [s.value for s in OPEN_STATUSES]
    with Session(engine) as s:
        out["open_tickets"] = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status.in_(open_values)))
        t0 = time.perf_counter()
        totals = {"warnings": 0, "breaches": 0, "escalated": 0}
        while True:
            run = services.run_sla_check(s, clock=SystemClock(), batch=2000)
            s.commit()
            for k in totals:
                totals[k] += getattr(run, k)
            if run.warnings == 0 and run.breaches == 0:
                break
        out["job_seconds"] = round(time.perf_counter() - t0, 2)
        out["job_result"] = totals
        t0 = time.perf_counter()
        run = services.run_sla_check(s, clock=SystemClock())
        s.commit()
        out["job_idle_seconds"] = round(time.perf_counter() - t0, 3)
        # full recompute: every open ticket's due/warn instants from policy + calendar (pure math)
        cfg = desk_config(s)
        t0 = time.perf_counter()
        rows = s.execute(select(Ticket.id, Ticket.priority, Ticket.created_at, Ticket.policy_name)
                         .where(Ticket.status.in_(open_values))).all()
        updates = []
        from imdesk.desk import sla as sla_mod

        for tid, prio, created, pol in rows:
            policy = cfg.policy_for(None, pol)
            cal = cfg.calendar(policy.calendar)
            fr = policy.target(prio, "first_response")
            res = policy.target(prio, "resolution")
            updates.append({"tid": tid, "fr": sla_mod.due_at(fr, cal, created),
                            "res": sla_mod.due_at(res, cal, created)})
        t_math = time.perf_counter() - t0
        from sqlalchemy import bindparam

        stmt = (update(Ticket.__table__).where(Ticket.__table__.c.id == bindparam("tid"))
                .values(first_response_due=bindparam("fr"), resolution_due=bindparam("res")))
        for i in range(0, len(updates), 5000):
            s.execute(stmt, updates[i:i + 5000])
        s.rollback()  # measure only; keep the generated data as it was
        out["full_recompute"] = {"tickets": len(rows), "math_seconds": round(t_math, 2),
                                 "total_seconds": round(time.perf_counter() - t0, 2)}
    engine.dispose()
    return out


# -------------------------------------------------------------------------------------------------
def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {**os.environ, "IMDESK_DATABASE_URL": url, "IMDESK_DATA_DIR": str(workdir), "IMDESK_ENV": "development",
           "IMDESK_LOG_LEVEL": "WARNING", "IMDESK_RUN_CONSUMER": "false", "IMDESK_CONFIG_FILE": str(workdir / "none.toml")}
    log = open(workdir / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "imdesk.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start: " + (workdir / "server.log").read_text(errors="replace")[-2000:])


def bench_queue_pages(base: str, token: str, n: int) -> dict:
    import httpx

    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        warm = []
        for _ in range(6):  # warm-up (jieba, config cache); failures are recorded, not hidden
            try:
                warm.append(c.get("/desk?queue=mine").status_code)
            except httpx.HTTPError as exc:
                warm.append(f"{type(exc).__name__}")
                time.sleep(1)
        out["warmup_statuses"] = warm
        for queue in ("mine", "group", "unassigned", "breaching"):
            times = []
            for i in range(n + 3):
                t0 = time.perf_counter()
                r = c.get(f"/desk?queue={queue}")
                dt = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"/desk?queue={queue}: {r.status_code} {r.text[:200]}")
                if i >= 3:
                    times.append(dt)
            out[queue] = summary(times)
    return out


def bench_wrk(base: str, token: str, ticket_id: int, seconds: int) -> dict | None:
    wrk = shutil.which("wrk")
    if not wrk:
        return None
    cmd = [wrk, "-t2", "-c50", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}",
           f"{base}/api/v1/tickets/{ticket_id}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = res.stdout
    out = {"tool": "wrk -t2 -c50", "url": "GET /api/v1/tickets/{id}", "raw": text.strip().splitlines()}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            out["requests_per_s"] = float(line.split()[1])
        if line.startswith("Non-2xx or 3xx responses:"):
            out["non_2xx"] = int(line.split()[-1])
        if line.startswith("Socket errors:"):
            out["socket_errors"] = line
        if line.startswith("99%") or line.startswith("50%") or line.startswith("90%"):
            out["latency_" + line.split()[0]] = line.split()[1]
    out.setdefault("non_2xx", 0)
    return out


async def _client_mix(base: str, tokens: list[str], clients: int, seconds: float) -> dict:
    import httpx

    stop = time.monotonic() + seconds
    lat: list[float] = []
    errors: list[str] = []
    counts = {"create": 0, "get": 0, "list": 0}

    async def worker(k: int) -> None:
        tok = tokens[k % len(tokens)]
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {tok}"}, timeout=60) as c:
            my_ids: list[int] = []
            i = 0
            while time.monotonic() < stop:
                i += 1
                t0 = time.perf_counter()
                try:
                    if i % 3 == 1 or not my_ids:
                        title, _g = TITLES[(k + i) % len(TITLES)]
                        r = await c.post("/api/v1/tickets", json={"title": f"{title} load {k}-{i}",
                                                                  "description": "部分用户 some users"})
                        kind = "create"
                        if r.status_code == 201:
                            my_ids.append(r.json()["id"])
                    elif i % 3 == 2:
                        r = await c.get(f"/api/v1/tickets/{my_ids[-1]}")
                        kind = "get"
                    else:
                        r = await c.get("/api/v1/tickets?per_page=20")
                        kind = "list"
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
                counts[kind] += 1
                if r.status_code >= 400:
                    errors.append(f"{kind} {r.status_code} {r.text[:120]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    return {"tool": "httpx.AsyncClient (bench script)", "clients": clients, "seconds": round(wall, 1),
            "requests": len(lat), "requests_per_s": round(len(lat) / wall, 1), "counts": counts,
            "errors": len(errors), "error_samples": errors[:5], "latency": summary(lat)}


# -------------------------------------------------------------------------------------------------
def run(engine_name: str, args) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    workdir = Path(tempfile.mkdtemp(prefix=f"imdesk-bench-{engine_name}-"))
    result: dict = {"engine": engine_name, "tickets": args.tickets, "started": datetime.now(UTC).isoformat(),
                    "machine": {"cpus": os.cpu_count()}}
    try:
        url = prepare_database(engine_name, workdir)
        info = seed_people(url, args.orgs, args.agents)
        now = datetime.now(UTC)
        print(f"[{engine_name}] bulk loading {args.tickets} tickets ...", flush=True)
        result["bulk_load"] = bulk_load(url, info, args.tickets, now, args.open_share, args.crossing)
        print(f"[{engine_name}] bulk load {result['bulk_load']}", flush=True)
        result["create_with_triage"] = bench_creation(url, info, args.creates)
        print(f"[{engine_name}] create {result['create_with_triage']}", flush=True)
        result["monthly_report"] = bench_report(url, now)
        print(f"[{engine_name}] report {result['monthly_report']}", flush=True)
        result["replies"] = bench_replies(url, info, args.replies)
        print(f"[{engine_name}] replies {result['replies']}", flush=True)
        result["sla_job"] = bench_sla(url)
        print(f"[{engine_name}] sla {result['sla_job']}", flush=True)
        proc, base = start_server(url, workdir)
        try:
            result["queue_page"] = bench_queue_pages(base, info["tokens"]["agent"], args.queue_requests)
            print(f"[{engine_name}] queue {result['queue_page']}", flush=True)
            customer_tokens = [v for k, v in info["tokens"].items() if k.startswith("c")]
            import httpx

            first = httpx.post(base + "/api/v1/tickets", json={"title": "wrk target 推送失败"},
                               headers={"Authorization": f"Bearer {customer_tokens[0]}"}, timeout=30).json()
            result["load_wrk"] = bench_wrk(base, customer_tokens[0], first["id"], args.load_seconds)
            result["load_mix"] = asyncio.run(_client_mix(base, customer_tokens, 50, args.load_seconds))
            print(f"[{engine_name}] load {result['load_mix']['requests_per_s']} req/s, "
                  f"errors {result['load_mix']['errors']}; wrk {result['load_wrk'] and result['load_wrk'].get('requests_per_s')}",
                  flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        result["targets"] = {
            "create_p95_lt_50ms": result["create_with_triage"]["p95_ms"] < 50,
            "queue_p95_lt_100ms": all(v["p95_ms"] < 100 for k, v in result["queue_page"].items() if k != "warmup_statuses"),
            "sla_job_lt_10s": result["sla_job"]["job_seconds"] < 10,
            "load_no_errors": result["load_mix"]["errors"] == 0 and (result["load_wrk"] or {}).get("non_2xx", 0) == 0,
        }
    finally:
        result["finished"] = datetime.now(UTC).isoformat()
        if engine_name == "postgresql" and not args.keep:
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text("DROP DATABASE IF EXISTS imdesk_bench WITH (FORCE)"))
            admin.dispose()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--orgs", type=int, default=200)
    ap.add_argument("--agents", type=int, default=24)
    ap.add_argument("--open-share", type=float, default=0.05)
    ap.add_argument("--crossing", type=int, default=3000, help="open tickets past their warn/due instant")
    ap.add_argument("--creates", type=int, default=300)
    ap.add_argument("--queue-requests", type=int, default=60)
    ap.add_argument("--replies", type=int, default=100, help="customer + agent reply pairs timed")
    ap.add_argument("--load-seconds", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the database and work folder")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for e in engines:
        res = run(e, args)
        path = RESULTS / f"desk_{e}.json"
        path.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
