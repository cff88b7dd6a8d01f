"""Demo content of the desk: group memberships and leads, canned responses and a handful of
tickets in different states (all through the services)."""

from __future__ import annotations

from imdesk.accounts.services import SYSTEM, actor_for_user_id
from imdesk.core.clock import SystemClock
from imdesk.desk import services, store

MEMBERS = {
    "agent@imdesk.example": ["auth", "messaging", "push", "integration", "account"],
    "agent2@imdesk.example": ["directory", "infrastructure", "security", "messaging", "auth"],
    "senior@imdesk.example": ["auth", "messaging", "push", "integration", "directory", "infrastructure", "security",
                              "account"],
}
LEADS = {"infrastructure": "senior@imdesk.example", "security": "senior@imdesk.example",
         "messaging": "agent@imdesk.example"}

CANNED = [
    ("请提供日志 / Please send logs",
     "请运行 `imdesk bundle collect --since 2h -o bundle.tar.gz` 并把文件附在工单中。\n"
     "Please run `imdesk bundle collect --since 2h -o bundle.tar.gz` and attach the file to this ticket."),
    ("令牌过期 / Token expired (ERR_IM_1001)",
     "请使用 NTP 同步服务器与客户端时钟，并确认客户端在令牌过期前刷新。\n"
     "Please sync server and client clocks with NTP and make sure clients refresh tokens before expiry."),
]

TICKETS = [
    ("ops@huaxin.example", "iOS 用户收不到离线推送 ERR_IM_3001", "从今天 9 点开始，部分 iOS 用户收不到离线推送，日志里有 ERR_IM_3001。"),
    ("ops@huaxin.example", "请问如何配置 LDAP 通讯录同步", "我们想把 AD 里的组织架构同步到 IM，请问有配置建议吗？"),
    ("it@northwind.example", "Messages delayed for many users", "Since the upgrade many users see messages arrive "
     "minutes late; the MQ backlog alert fired (ERR_IM_5101)."),
    ("it@northwind.example", "Invoice for the 2027 licence renewal", "Please send the quote and the invoice."),
]


def load(*, session, ctx) -> None:
    store.seed(session)
    clock = SystemClock()
    for email, groups in MEMBERS.items():
        uid = ctx.users.get(email)
        if uid is None:
            continue
        for g in groups:
            services.do_add_group_member(session, SYSTEM, g, uid)
    for group, email in LEADS.items():
        if email in ctx.users:
            services.do_set_group_lead(session, SYSTEM, group, ctx.users[email])
    for title, body in CANNED:
        services.do_create_canned(session, SYSTEM, title=title, body=body)
    created = []
    for email, title, description in TICKETS:
        uid = ctx.users.get(email)
        if uid is None:
            continue
        actor = actor_for_user_id(session, uid)
        created.append(services.create_ticket(session, actor, clock=clock, title=title, description=description,
                                              channel="web"))
    if created and "agent@imdesk.example" in ctx.users:
        agent = actor_for_user_id(session, ctx.users["agent@imdesk.example"])
        services.do_add_reply(session, agent, created[0].id, CANNED[0][1], wait_for_customer=True, clock=clock)
    session.flush()
