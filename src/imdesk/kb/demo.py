"""Demo content of the knowledge base: the articles the active profile ships (``profiles/<name>/kb``),
imported through the same service as ``imdesk kb import``, plus a few community questions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from imdesk.accounts.services import SYSTEM, actor_for_user_id
from imdesk.profiles import load_profile


def load_profile_articles(session: Session, profile: str | None = None) -> Any:
    from imdesk.kb import services

    root = load_profile(profile).root / "kb"
    if not root.is_dir():
        return None
    return services.import_directory(session, SYSTEM, root)


def load(*, session: Session, ctx: Any) -> None:
    from imdesk.kb import community

    load_profile_articles(session)
    customer_id = ctx.users.get("ops@huaxin.example")
    agent_id = ctx.users.get("agent2@imdesk.example")
    if customer_id is None or agent_id is None:
        return
    customer = actor_for_user_id(session, customer_id)
    agent = actor_for_user_id(session, agent_id)
    q = community.do_ask(session, customer, title="iOS 离线推送突然收不到了，日志里有 ERR_IM_3001",
                         body="昨天开始苹果手机收不到离线推送，安卓正常。服务器版本 4.2.1。", tags=["push", "ios"])
    a = community.do_answer(session, agent, q.id,
                            "ERR_IM_3001 表示推送服务商鉴权失败，通常是 APNs 证书或 .p8 密钥过期。"
                            "请在管理后台更新 APNs 凭证后重试，详见知识库文章《iOS 收不到离线推送》。")
    community.do_mark_official(session, agent, q.id, a.id)
    community.do_ask(session, customer, title="群里发大文件失败怎么办？",
                     body="发送 20MB 的文档时提示消息过大。", tags=["msg", "file"])
