from __future__ import annotations

import pytest
from tests.factories import make_org, make_user

from imdesk.accounts import queries, services
from imdesk.accounts.errors import DuplicateOrganisation, DuplicateUser, InvalidAccountInput
from imdesk.accounts.services import SYSTEM
from imdesk.core.errors import NotFound, PermissionDenied


def test_only_admin_creates(session):
    agent = make_user(session, "agent")
    with pytest.raises(PermissionDenied):
        services.do_create_org(session, agent, name="Nope")


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@", "x" * 300 + "@example.com"])
def test_bad_emails_are_refused(session, email):
    with pytest.raises(InvalidAccountInput):
        services.do_create_user(session, SYSTEM, email=email, role="agent")


def test_unknown_role_and_customer_without_org(session):
    with pytest.raises(InvalidAccountInput):
        services.do_create_user(session, SYSTEM, email="a@example.com", role="overlord")
    with pytest.raises(InvalidAccountInput):
        services.do_create_user(session, SYSTEM, email="a@example.com", role="customer")


def test_duplicates_conflict_case_insensitively(session):
    make_org(session, "Acme")
    with pytest.raises(DuplicateOrganisation):
        services.do_create_org(session, SYSTEM, name="ACME")
    make_user(session, "agent", email="Dup@Example.com")
    with pytest.raises(DuplicateUser):
        services.do_create_user(session, SYSTEM, email="dup@example.com", role="agent")


def test_customer_sees_only_own_org(session):
    a, b = make_org(session, "A"), make_org(session, "B")
    cust = make_user(session, "customer", org_id=a)
    assert [o.name for o in queries.list_orgs(session, cust)] == ["A"]
    with pytest.raises(NotFound):
        queries.get_org(session, cust, b)
    assert {o.name for o in queries.list_orgs(session, SYSTEM)} >= {"A", "B"}


def test_account_manager_link_and_audit(session):
    make_user(session, "account_manager", email="am@example.com")
    org = services.do_create_org(session, SYSTEM, name="Big", annual_fee=2_000_000, plan="enterprise",
                                 account_manager_email="am@example.com")
    info = queries.get_org(session, SYSTEM, org.id)
    assert info.account_manager_email == "am@example.com"
    from sqlalchemy import text

    actions = [r[0] for r in session.execute(text("SELECT action FROM audit_log WHERE org_id = :o"), {"o": org.id})]
    assert "org.create" in actions
    agent = make_user(session, "agent", email="ag@example.com")
    with pytest.raises(InvalidAccountInput):
        services.do_update_org(session, SYSTEM, org.id, account_manager_email=agent.email)
