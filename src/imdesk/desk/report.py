"""The monthly SLA report: first-response, next-response and resolution attainment (met / breached /
rate) per priority and per support group (P0 first response <= 15 min is the headline), the
resolution rate against the 99.5 % target, breaches with reasons and CSAT; HTML (inline SVG charts),
CSV and JSON. Months are calendar months in Asia/Shanghai: a ticket counts in the month it was
created, a next-response clock in the month the customer's message arrived."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from imdesk.core.errors import BadInput
from imdesk.desk.models import Rating, ResponseCycle, SupportGroup, Ticket, TicketEvent

TZ = ZoneInfo("Asia/Shanghai")
RESOLUTION_TARGET = 99.5
PRIORITIES = ("P0", "P1", "P2", "P3")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise BadInput(f"month must look like 2026-11, got {month!r}", field="month")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=TZ)
    end = datetime(y + (mo == 12), 1 if mo == 12 else mo + 1, 1, tzinfo=TZ)
    return start, end


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 2) if d else None


_KEYS = (Ticket.priority, Ticket.group_id)


def _ticket_metrics(session: Session, in_month, now: datetime) -> dict[tuple, dict[str, int]]:
    """First-response and resolution counts of the month's tickets per (priority, group id): one scan."""
    fr_ok = case((and_(Ticket.first_responded_at.is_not(None), Ticket.first_responded_at <= Ticket.first_response_due),
                  1), else_=0)
    fr_measured = case((Ticket.first_responded_at.is_not(None), 1),
                       (Ticket.first_response_due < now, 1), else_=0)
    res_ok = case((and_(Ticket.resolved_at.is_not(None), Ticket.resolved_at <= Ticket.resolution_due), 1), else_=0)
    res_measured = case((Ticket.resolved_at.is_not(None), 1), (Ticket.resolution_due < now, 1), else_=0)
    rows = session.execute(
        select(*_KEYS, func.count(), func.sum(fr_ok), func.sum(fr_measured), func.sum(res_ok), func.sum(res_measured))
        .where(in_month).group_by(*_KEYS)).all()
    return {(prio, gid): {"tickets": int(n), "first_response_met": int(fok or 0),
                          "first_response_measured": int(fm or 0), "resolution_met": int(rok or 0),
                          "resolution_measured": int(rm or 0)}
            for prio, gid, n, fok, fm, rok, rm in rows}


def _next_response_metrics(session: Session, start: datetime, end: datetime,
                           now: datetime) -> dict[tuple, dict[str, int]]:
    """Next-response clocks started in the month, per (priority, group id) of their ticket.

    Met: answered by the due time (or while the clock stood still). Breached: answered after the
    due time, or unanswered past it (still open, or ended by resolving/closing the ticket without a
    reply). A clock that ended without a reply before its due time, or is still running and not
    yet due, is not measured."""
    c = ResponseCycle
    met = case((and_(c.responded.is_(True), or_(c.due_at.is_(None), c.ended_at <= c.due_at)), 1), else_=0)
    breached = case((and_(c.due_at.is_not(None),
                          or_(and_(c.ended_at.is_not(None), c.ended_at > c.due_at),
                              and_(c.ended_at.is_(None), c.due_at < now))), 1), else_=0)
    rows = session.execute(
        select(*_KEYS, func.count(), func.sum(met), func.sum(breached))
        .select_from(c).join(Ticket, Ticket.id == c.ticket_id)
        .where(c.started_at >= start, c.started_at < end, Ticket.merged_into_id.is_(None))
        .group_by(*_KEYS)).all()
    return {(prio, gid): {"next_response_clocks": int(n), "next_response_met": int(m or 0),
                          "next_response_breached": int(b or 0)} for prio, gid, n, m, b in rows}


def _fold(*parts: dict[tuple, dict[str, int]], index: int) -> dict[Any, dict[str, int]]:
    """Sum the (priority, group) counts over one of the two keys (0: priority, 1: group id)."""
    out: dict[Any, dict[str, int]] = {}
    for part in parts:
        for key, counts in part.items():
            acc = out.setdefault(key[index], {})
            for k, v in counts.items():
                acc[k] = acc.get(k, 0) + v
    return out


_ZERO = {"tickets": 0, "first_response_met": 0, "first_response_measured": 0, "resolution_met": 0,
         "resolution_measured": 0, "next_response_clocks": 0, "next_response_met": 0, "next_response_breached": 0}


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Breached counts, measured counts and rates (None when nothing was measured)."""
    row["first_response_breached"] = row["first_response_measured"] - row["first_response_met"]
    row["first_response_pct"] = _pct(row["first_response_met"], row["first_response_measured"])
    row["resolution_breached"] = row["resolution_measured"] - row["resolution_met"]
    row["resolution_pct"] = _pct(row["resolution_met"], row["resolution_measured"])
    row["next_response_measured"] = row["next_response_met"] + row["next_response_breached"]
    row["next_response_pct"] = _pct(row["next_response_met"], row["next_response_measured"])
    return row


def monthly(session: Session, month: str, *, now: datetime | None = None) -> dict[str, Any]:
    start, end = month_bounds(month)
    now = now or datetime.now(TZ)
    in_month = and_(Ticket.created_at >= start, Ticket.created_at < end, Ticket.merged_into_id.is_(None))
    groups = dict(session.execute(select(SupportGroup.id, SupportGroup.key)).all())

    tickets = _ticket_metrics(session, in_month, now)
    clocks = _next_response_metrics(session, start, end, now)
    by_prio = _fold(tickets, clocks, index=0)
    per = {p: _finish({"priority": p, **_ZERO, **by_prio.get(p, {})}) for p in PRIORITIES}
    by_group = _fold(tickets, clocks, index=1)
    per_group = [_finish({"group": groups.get(gid, "") if gid is not None else "", **_ZERO, **by_group[gid]})
                 for gid in sorted(by_group, key=lambda g: (g is None, groups.get(g, "")))]

    res_met = sum(p["resolution_met"] for p in per.values())
    res_meas = sum(p["resolution_measured"] for p in per.values())
    resolution_rate = _pct(res_met, res_meas)
    nr_met = sum(p["next_response_met"] for p in per.values())
    nr_meas = sum(p["next_response_measured"] for p in per.values())

    breach_rows = session.execute(
        select(Ticket.id, Ticket.number, Ticket.priority, Ticket.title, TicketEvent.data, TicketEvent.at,
               Ticket.assignee_id, Ticket.reopen_count, Ticket.group_id)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.kind == "sla_breach", TicketEvent.at >= start, TicketEvent.at < end)
        .order_by(TicketEvent.at).limit(1000)).all()
    breaches = []
    for tid, number, prio, title, data, at, assignee, reopens, gid in breach_rows:
        breaches.append({"number": number, "priority": prio, "title": title,
                         "target": (data or {}).get("target", ""), "at": at.astimezone(TZ).isoformat(),
                         "group": groups.get(gid, ""), "reason": _breach_reason(session, tid, at, assignee, reopens)})

    ratings = session.execute(select(Rating.score, Rating.group_id).where(Rating.at >= start, Rating.at < end)).all()
    by_group: dict[str, list[int]] = {}
    for score, gid in ratings:
        by_group.setdefault(groups.get(gid, "none"), []).append(score)
    csat = {
        "count": len(ratings),
        "average": round(sum(s for s, _ in ratings) / len(ratings), 2) if ratings else None,
        "satisfied_pct": _pct(sum(1 for s, _ in ratings if s >= 4), len(ratings)),
        "by_group": {g: round(sum(v) / len(v), 2) for g, v in sorted(by_group.items())},
    }
    return {
        "month": f"{start.year:04d}-{start.month:02d}",
        "per_priority": list(per.values()),
        "per_group": per_group,
        "headline_p0_first_response_pct": per["P0"]["first_response_pct"],
        "next_response_rate_pct": _pct(nr_met, nr_meas),
        "next_response_met": nr_met,
        "next_response_breached": nr_meas - nr_met,
        "resolution_rate_pct": resolution_rate,
        "resolution_target_pct": RESOLUTION_TARGET,
        "resolution_target_met": resolution_rate is not None and resolution_rate >= RESOLUTION_TARGET,
        "breaches": breaches,
        "csat": csat,
    }


def _breach_reason(session: Session, ticket_id: int, at: datetime, assignee: int | None, reopens: int) -> str:
    """The latest internal note before the breach, else what the timeline shows."""
    note = session.scalar(select(TicketEvent.body).where(TicketEvent.ticket_id == ticket_id,
                                                         TicketEvent.kind == "note", TicketEvent.at <= at)
                          .order_by(TicketEvent.at.desc()).limit(1))
    if note:
        return note[:300]
    unassigned = session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "unassigned"))
    if unassigned and assignee is None:
        return "no agent available (left in the group queue)"
    if reopens:
        return f"reopened {reopens} time(s)"
    return "target passed without a response" if assignee else "unassigned"


_CSV_METRICS = ("first_response_met", "first_response_measured", "first_response_pct", "resolution_met",
                "resolution_measured", "resolution_pct", "next_response_met", "next_response_breached",
                "next_response_measured", "next_response_pct", "first_response_breached", "resolution_breached")


def to_csv(data: dict[str, Any]) -> str:
    """Sections ``priority``, ``summary``, ``group``, ``breach`` and ``csat``, each after its own
    header row (the priority columns of earlier versions keep their places; new ones are appended)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "month", "priority", "tickets", *_CSV_METRICS])
    for p in data["per_priority"]:
        w.writerow(["priority", data["month"], p["priority"], p["tickets"], *(p[k] for k in _CSV_METRICS)])
    w.writerow(["summary", data["month"], "all", "", "", "", data["headline_p0_first_response_pct"], "", "",
                data["resolution_rate_pct"], data["next_response_met"], data["next_response_breached"],
                data["next_response_met"] + data["next_response_breached"], data["next_response_rate_pct"]])
    w.writerow([])
    w.writerow(["section", "month", "group", "tickets", *_CSV_METRICS])
    for g in data["per_group"]:
        w.writerow(["group", data["month"], g["group"] or "none", g["tickets"], *(g[k] for k in _CSV_METRICS)])
    w.writerow([])
    w.writerow(["breach", "month", "number", "priority", "target", "group", "at", "reason", "title"])
    for b in data["breaches"]:
        w.writerow(["breach", data["month"], b["number"], b["priority"], b["target"], b["group"], b["at"],
                    b["reason"], _csv_safe(b["title"])])
    w.writerow([])
    w.writerow(["csat", data["month"], "count", data["csat"]["count"], "average", data["csat"]["average"],
                "satisfied_pct", data["csat"]["satisfied_pct"]])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in user text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def svg_charts(data: dict[str, Any]) -> dict[str, str]:
    """Bar charts (inline SVG, no JavaScript) of first-response, next-response and resolution attainment."""
    def bars(key: str, target: float | None) -> str:
        w, h, bw = 360, 160, 60
        parts = [f'<svg viewBox="0 0 {w} {h + 30}" width="{w}" height="{h + 30}" role="img" '
                 f'aria-label="{escape(key)}" class="chart">']
        if target is not None:
            y = h - h * target / 100
            parts.append(f'<line x1="0" x2="{w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c62828" stroke-dasharray="4"/>')
        for i, p in enumerate(data["per_priority"]):
            v = p[key] or 0
            bh = h * v / 100
            x = 20 + i * (bw + 25)
            parts.append(f'<rect x="{x}" y="{h - bh:.1f}" width="{bw}" height="{bh:.1f}" fill="#1f6feb"/>')
            label = "—" if p[key] is None else f"{p[key]:.1f}%"
            parts.append(f'<text x="{x + bw / 2}" y="{h + 14}" text-anchor="middle" font-size="12">{p["priority"]}</text>')
            parts.append(f'<text x="{x + bw / 2}" y="{max(12, h - bh - 4):.1f}" text-anchor="middle" '
                         f'font-size="11">{label}</text>')
        parts.append("</svg>")
        return "".join(parts)

    return {"first_response": bars("first_response_pct", None),
            "next_response": bars("next_response_pct", None),
            "resolution": bars("resolution_pct", RESOLUTION_TARGET)}
