"""Notification texts of the desk (zh + en in one mail) handed to the channels outbox."""

from __future__ import annotations

from html import escape

from sqlalchemy.orm import Session

from imdesk.channels.outbox import enqueue_email
from imdesk.core.clock import Clock


def _send(session: Session, clock: Clock, to: str | None, subject: str, lines_zh: list[str], lines_en: list[str],
          ref: str, link: str | None = None, link_label: str = "") -> None:
    if not to:
        return
    text = "\n".join(lines_zh) + "\n\n" + "\n".join(lines_en)
    if link:
        text += f"\n\n{link_label}: {link}\n"
    html = "".join(f"<p>{escape(x)}</p>" for x in lines_zh) + "<hr>" + "".join(f"<p>{escape(x)}</p>" for x in lines_en)
    if link:
        html += f'<p><a href="{escape(link)}">{escape(link_label)}</a></p>'
    enqueue_email(session, to=to, subject=subject, text=text, html=html, ref=ref, clock=clock)


def solution_proposed(session, clock, *, to, number, title, body, url) -> None:
    _send(session, clock, to, f"[{number}] 解决方案待确认 / Solution proposed: {title}",
          [f"工单 {number}「{title}」有了解决方案：", body, "请在门户中确认或拒绝该方案；7 天内未答复将自动关闭。"],
          [f"Ticket {number} \"{title}\" has a proposed solution:", body,
           "Please accept or reject it in the portal; without an answer it closes after 7 days."],
          ref=f"ticket:{number}:solution", link=url, link_label="查看工单 / Open the ticket")


def rate_request(session, clock, *, to, number, title, url) -> None:
    _send(session, clock, to, f"[{number}] 请评价我们的服务 / How did we do?",
          [f"工单 {number}「{title}」已解决。欢迎为本次服务打分（1–5 分）。"],
          [f"Ticket {number} \"{title}\" is resolved. Please rate our support (1-5)."],
          ref=f"ticket:{number}:rating", link=url, link_label="评分 / Rate")


def account_manager_new_ticket(session, clock, *, to, number, title, org, priority) -> None:
    _send(session, clock, to, f"[{number}] {org}: 新工单 / new ticket ({priority})",
          [f"您负责的客户 {org} 提交了工单 {number}「{title}」，优先级 {priority}。"],
          [f"Your customer {org} opened ticket {number} \"{title}\", priority {priority}."],
          ref=f"ticket:{number}:am")


def sla_event(session, clock, *, to, number, title, what, due) -> None:
    zh = {"warning": "即将超时（已用 80%）", "breach": "已超时"}
    en = {"warning": "is at 80 % of its SLA target", "breach": "breached its SLA target"}
    kind = "warning" if what.endswith("warning") else "breach"
    targets = {"first_response": ("首次响应", "first response"), "next_response": ("再次响应", "next response"),
               "resolution": ("解决", "resolution")}
    target_zh, target_en = targets.get(what.rsplit("_", 1)[0], ("解决", "resolution"))
    _send(session, clock, to, f"[{number}] SLA {kind}: {title}",
          [f"工单 {number}「{title}」{target_zh}{zh[kind]}，截止 {due}。"],
          [f"Ticket {number} \"{title}\" {en[kind]} ({target_en}, due {due})."],
          ref=f"ticket:{number}:sla:{what}")
