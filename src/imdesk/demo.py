"""Demo data for ``make run`` and ``imdesk demo load``: two customer organisations, agents, a
senior engineer, an account manager and an admin, then each domain's own demo content through its
hook ``imdesk.<domain>.demo.load(*, session, ctx)``. Everything goes through the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from imdesk.accounts import queries as account_queries
from imdesk.accounts import services as account_services
from imdesk.accounts.services import SYSTEM
from imdesk.core.discovery import domain_parts

DEMO_PASSWORD = "imdesk-demo"

DEMO_USERS = [
    # email, role, org, name, locale
    ("admin@imdesk.example", "admin", None, "管理员 Admin", "en"),
    ("manager@imdesk.example", "account_manager", None, "王经理 Wang (AM)", "zh_CN"),
    ("agent@imdesk.example", "agent", None, "李工 Li (agent)", "en"),
    ("agent2@imdesk.example", "agent", None, "张工 Zhang (agent)", "zh_CN"),
    ("senior@imdesk.example", "senior_engineer", None, "陈专家 Chen (senior)", "zh_CN"),
    ("ops@huaxin.example", "customer", "华信科技", "刘运维 Liu", "zh_CN"),
    ("it@northwind.example", "customer", "Northwind Trading", "Sam Lee", "en"),
]


@dataclass
class DemoContext:
    """What the foundation created, handed to each domain's demo hook."""

    password: str = DEMO_PASSWORD
    users: dict[str, int] = field(default_factory=dict)  # email -> user id
    orgs: dict[str, int] = field(default_factory=dict)  # name -> org id
    extra: dict[str, Any] = field(default_factory=dict)


def load(session: Session, *, if_empty: bool = False) -> DemoContext | None:
    """Create the demo data; with ``if_empty`` do nothing when any user exists already."""
    if if_empty and account_queries.count_users(session) > 0:
        return None
    ctx = DemoContext()
    manager = account_services.do_create_user(session, SYSTEM, email="manager@imdesk.example", role="account_manager",
                                              password=DEMO_PASSWORD, name="王经理 Wang (AM)", locale="zh_CN")
    ctx.users[manager.email] = manager.id
    huaxin = account_services.do_create_org(session, SYSTEM, name="华信科技", annual_fee=1_200_000, plan="enterprise",
                                            verified=True, verification_pin="246810",
                                            account_manager_email="manager@imdesk.example")
    northwind = account_services.do_create_org(session, SYSTEM, name="Northwind Trading", annual_fee=80_000,
                                               plan="standard", verified=False)
    ctx.orgs = {huaxin.name: huaxin.id, northwind.name: northwind.id}
    for email, role, org, name, locale in DEMO_USERS:
        if email in ctx.users:
            continue
        user = account_services.do_create_user(session, SYSTEM, email=email, role=role, org_name=org,
                                               password=DEMO_PASSWORD, name=name, locale=locale)
        ctx.users[email] = user.id
    session.flush()
    for module in domain_parts("demo"):
        module.load(session=session, ctx=ctx)
    return ctx
