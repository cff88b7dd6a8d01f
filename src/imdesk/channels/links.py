"""Signed links in e-mails (e.g. "rate this ticket"): tamper-proof and time-limited.

    >>> token = sign_rating_link("secret", ticket_id=7, user_id=3)
    >>> verify_rating_link("secret", token)
    {'t': 7, 'u': 3}

Tokens are itsdangerous timed signatures keyed by Settings.secret_key with a purpose-specific salt;
a bad or expired token raises :class:`LinkInvalid` (a 422 problem, nothing changes).
"""

from __future__ import annotations

import time
from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from imdesk.core.errors import BadInput

RATING_SALT = "imdesk.desk.rating"
RATING_MAX_AGE_S = 30 * 24 * 3600


class LinkInvalid(BadInput):
    code = "channels.link_invalid"
    title = "Link invalid or expired"


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads "now" from an injected clock value (tests, previews)."""

    def __init__(self, *args, now_ts: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._now_ts = now_ts

    def get_timestamp(self) -> int:
        return self._now_ts if self._now_ts is not None else int(time.time())


def _serializer(secret: str, salt: str, now: datetime | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt, signer=_ClockSigner,
                                  signer_kwargs={"now_ts": int(now.timestamp()) if now else None})


def sign_rating_link(secret: str, *, ticket_id: int, user_id: int, now: datetime | None = None) -> str:
    return _serializer(secret, RATING_SALT, now).dumps({"t": int(ticket_id), "u": int(user_id)})


def verify_rating_link(secret: str, token: str, *, max_age_s: int = RATING_MAX_AGE_S,
                       now: datetime | None = None) -> dict:
    s = _serializer(secret, RATING_SALT, now)
    try:
        data = s.loads(token, max_age=max_age_s)
    except SignatureExpired:
        raise LinkInvalid("this rating link has expired; please rate from the portal") from None
    except BadSignature:
        raise LinkInvalid("this rating link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int) or not isinstance(data.get("u"), int):
        raise LinkInvalid("this rating link is not valid")
    return data
