"""Knowledge-base test data, made through the kb services."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from imdesk.accounts.services import SYSTEM, Actor
from imdesk.kb import services

_seq = itertools.count(1)


def make_article(session: Session, *, slug: str | None = None, title: str = "推送收不到", body: str = "正文",
                 lang: str = "zh", category: str = "scenario", module: str | None = None,
                 error_codes: list[str] | None = None, tags: list[str] | None = None, status: str = "published",
                 actor: Actor = SYSTEM, clock=None):
    article, _ = services.do_save_article(
        session, actor,
        services.ArticleInput(slug=slug or f"article-{next(_seq)}", title=title, body=body, lang=lang,
                              category=category, module=module, error_codes=error_codes or [], tags=tags or [],
                              status=status),
        clock=clock,
    )
    session.flush()
    return article


CORPUS = [
    dict(slug="push-cert-expired", title="推送证书过期，iOS 收不到离线推送", module="push", error_codes=["ERR_IM_3001"],
         body="APNs 推送证书（certificate）过期后，苹果推送服务拒绝请求，日志出现 ERR_IM_3001。请在管理后台上传新证书。"),
    dict(slug="token-expired-en", title="Users are logged out: token expired", lang="en", module="auth",
         error_codes=["ERR_IM_1001"],
         body="Clients disconnect with ERR_IM_1001 when the UserSig token expires. Sync NTP and refresh tokens."),
    dict(slug="max-concurrent", title="连接被拒绝：超过最大连接数上限", module="gateway", error_codes=["ERR_IM_1101"],
         body="高峰期连接数超过 server.max_concurrent 时，新连接被拒绝。提高该值并同时提高 LimitNOFILE。"),
    dict(slug="db-pool-timeout", title="Database pool timeout under load", lang="en", module="storage",
         error_codes=["ERR_IM_5003"],
         body="When storage.database.pool_size is smaller than server.workers, requests wait for a connection."),
    dict(slug="message-too-large", title="消息发送失败：消息体过大", module="msg", error_codes=["ERR_IM_2001"],
         body="消息超过 message.max_size_kb 限制时发送失败，请改为发送文件或调大限制。"),
    dict(slug="split-brain", title="集群脑裂的恢复步骤", module="cluster", error_codes=["ERR_IM_6002"],
         body="网络分区后出现两个主节点。请按照恢复手册操作：先隔离少数派节点。"),
]


def make_corpus(session: Session) -> None:
    for item in CORPUS:
        make_article(session, **item)
