from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from imdesk.channels import outbox, smtp
from imdesk.channels.links import LinkInvalid, sign_rating_link, verify_rating_link
from tests.channels.smtpd import SmtpServer


@pytest.fixture
def smtpd():
    with SmtpServer() as s:
        yield s


def _cfg(port: int) -> smtp.SmtpConfig:
    return smtp.SmtpConfig(host="127.0.0.1", port=port, mail_from="desk@imdesk.test", timeout_s=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backoff_grows_and_caps():
    delays = [outbox.backoff(n).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240]
    assert max(delays) == outbox.MAX_DELAY_S
    assert delays == sorted(delays)


def test_delivers_over_real_smtp(session, clock, smtpd):
    outbox.enqueue_email(session, to="ops@acme.example", subject="[T000001] 解决方案待确认",
                         text="中文正文 body", html="<p>中文</p>", ref="ticket:T000001:solution", clock=clock)
    report = outbox.deliver_due(session, _cfg(smtpd.port), clock=clock)
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)
    assert len(smtpd.messages) == 1
    got = smtpd.messages[0]
    assert got["to"] == ["ops@acme.example"]
    assert got["msg"]["Subject"] == "[T000001] 解决方案待确认"
    assert "中文正文" in got["msg"].get_body(("plain",)).get_content()
    assert outbox.pending_count(session) == 0


def test_server_down_then_up_loses_nothing(session, clock, smtpd):
    outbox.enqueue_email(session, to="a@example.com", subject="s", text="t", clock=clock)
    down = _cfg(_free_port())  # nobody listens there
    r1 = outbox.deliver_due(session, down, clock=clock)
    assert (r1.sent, r1.retried) == (0, 1)
    row = outbox.messages_for(session, "")[0]
    assert row.attempts == 1 and row.status == "pending" and "unavailable" in row.last_error
    # not due yet: nothing is attempted
    assert outbox.deliver_due(session, _cfg(smtpd.port), clock=clock).sent == 0
    clock.advance(outbox.backoff(1) + timedelta(seconds=1))
    smtpd.fail_with = "451 try again later"
    r2 = outbox.deliver_due(session, _cfg(smtpd.port), clock=clock)
    assert r2.retried == 1 and row.attempts == 2
    smtpd.fail_with = None
    clock.advance(outbox.backoff(2) + timedelta(seconds=1))
    r3 = outbox.deliver_due(session, _cfg(smtpd.port), clock=clock)
    assert r3.sent == 1 and row.status == "sent" and len(smtpd.messages) == 1


def test_permanent_failure_goes_dead(session, clock, smtpd):
    smtpd.fail_with = "550 mailbox unavailable"
    outbox.enqueue_email(session, to="a@example.com", subject="s", text="t", clock=clock)
    r = outbox.deliver_due(session, _cfg(smtpd.port), clock=clock)
    assert r.dead == 1


def test_no_host_keeps_mail_queued(session, clock):
    outbox.enqueue_email(session, to="a@example.com", subject="s", text="t", clock=clock)
    r = outbox.deliver_due(session, smtp.SmtpConfig(host=""), clock=clock)
    assert r.retried == 1 and outbox.pending_count(session) == 1


def test_rating_links(clock):
    token = sign_rating_link("k" * 40, ticket_id=5, user_id=9, now=clock.now())
    assert verify_rating_link("k" * 40, token, now=clock.now()) == {"t": 5, "u": 9}
    with pytest.raises(LinkInvalid):
        verify_rating_link("other-key" * 5, token, now=clock.now())
    with pytest.raises(LinkInvalid):
        verify_rating_link("k" * 40, token[:-2] + "xx", now=clock.now())
    with pytest.raises(LinkInvalid, match="expired"):
        verify_rating_link("k" * 40, token, now=clock.now() + timedelta(days=31))
