"""Redaction: realistic secrets never survive; placeholders are stable; obfuscation is optional."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdesk.diag.config_check import example_text
from imdesk.diag.redact import Redactor

# Realistic secret formats (all fake): (text containing it, the secret that must vanish)
SECRETS = [
    ("dsn=mysql://im_app:Xk9#pL2!vQ@10.20.30.40:3306/im", "Xk9#pL2!vQ"),
    ("postgres://im:p@ss@word@db.corp.example:5432/im", "p@ss@word"),
    ("url=https://admin:hunter2hunter2@im.corp.example/v1/x", "hunter2hunter2"),
    ("token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MTIzIiwiZXhwIjoxNzAwMDAwMDAwfQ.Zm9vYmFyYmF6cXV4MTIzNDU2",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MTIzIiwiZXhwIjoxNzAwMDAwMDAwfQ.Zm9vYmFyYmF6cXV4MTIzNDU2"),
    ("aws_access_key_id=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("oss client LTAI5tQk3r9XYzAbCdEfGhIj ready", "LTAI5tQk3r9XYzAbCdEfGhIj"),
    ("AccessKeySecret: 9aZbQ3cRt7yUiOp0LkJhGfDsA1s2D3", "9aZbQ3cRt7yUiOp0LkJhGfDsA1s2D3"),
    ("tencent AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE12 ok", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE12"),
    ("Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "dXNlcjpwYXNzd29yZDEyMw=="),
    ('password="correct horse battery"', "correct horse battery"),
    ("db_password: 'S3cr3t!'", "S3cr3t!"),
    ('{"client_secret": "cs_live_abcdef123456", "user": "u1"}', "cs_live_abcdef123456"),
    ("redis auth passwd=R3d1sP@ss;", "R3d1sP@ss"),
    ("github ghp_1234567890abcdefghijABCDEFGHIJ123456 leaked", "ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    ("x-api-key: 0123456789abcdef0123", "0123456789abcdef0123"),
    ("apns auth_key=MIGTAgEAMBMGByqGSM49", "MIGTAgEAMBMGByqGSM49"),
]
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----\n")


@pytest.mark.parametrize("text,secret", SECRETS, ids=[s[1][:12] for s in SECRETS])
def test_secret_formats_are_redacted(text, secret):
    r = Redactor.for_profile()
    line = f"2026-03-15 10:23:45.123 ERROR [storage] ERR_IM_5001 {text} trace_id=7f3a9c\n"
    out = r.redact_text(line)
    assert secret not in out
    assert "[REDACTED-" in out
    assert out.startswith("2026-03-15 10:23:45.123 ERROR [storage] ERR_IM_5001")
    assert "trace_id=7f3a9c" in out


def test_pem_private_key_block():
    r = Redactor.for_profile()
    out = r.redact_text("before\n" + PEM + "after\n")
    assert "MIIEowIBAAKCAQEA" not in out and "before" in out and "after" in out
    assert r.counts["private-key"] == 1


def test_ordinary_log_lines_are_untouched():
    r = Redactor.for_profile()
    lines = (
        "2026-03-15 10:23:45.123 ERROR [push] ERR_IM_3001 apns rejected token provider=apns status=403 "
        "reason=InvalidProviderToken trace_id=7f3a9c\n"
        "2026-03-15 10:23:46.000 ERROR [auth] ERR_IM_1001 token expired user=u1 token_ttl=24h\n"
        "2026-03-15 10:23:47.000 WARN [mq] ERR_IM_5101 mq backlog over threshold backlog=120000 task=7 disk: 80%\n"
    )
    assert r.redact_text(lines) == lines
    assert not r.counts


def test_same_secret_same_placeholder_different_secret_different_placeholder():
    r = Redactor.for_profile()
    a = r.redact_text("password=alpha-secret-1 x password=alpha-secret-1 y password=beta-secret-2")
    found = re.findall(r"\[REDACTED-key-value-([0-9a-f]{8})\]", a)
    assert len(found) == 3 and found[0] == found[1] != found[2]


def test_shared_salt_makes_placeholders_comparable_across_nodes():
    a = Redactor.for_profile(salt="site-salt").redact_text("password=same-on-both")
    b = Redactor.for_profile(salt="site-salt").redact_text("password=same-on-both")
    c = Redactor.for_profile(salt="site-salt").redact_text("password=differs-here")
    d = Redactor.for_profile().redact_text("password=same-on-both")
    assert a == b and a != c and a != d


def test_config_secrets_are_redacted_and_remembered_for_logs():
    r = Redactor.for_profile()
    cfg = (example_text()
           .replace('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"', "jwt_secret: Jw7Secret-Value-With-32-Chars-xyzw")
           .replace('password: ""', "password: r3d1s-pw-42")
           .replace("REPLACE_WITH_DB_PASSWORD", "Db-Pa55-word"))
    out = r.redact_config(cfg)
    for s in ("Jw7Secret-Value-With-32-Chars-xyzw", "r3d1s-pw-42", "Db-Pa55-word"):
        assert s not in out
    assert "token_ttl: 24h" in out and "node_id: im-node-1" in out  # non-secrets stay
    assert "postgres://im_server:[REDACTED-" in out
    log = r.redact_text("2026-03-15 10:00:00.000 WARN [storage] ERR_IM_5002 redis AUTH r3d1s-pw-42 failed\n")
    assert "r3d1s-pw-42" not in log


def test_private_key_files_are_never_collected():
    r = Redactor.for_profile()
    assert r.never_collect("server.key")
    assert r.never_collect("id_ed25519")
    assert r.never_collect("bundle.pem", PEM.encode())
    assert r.never_collect("server.crt", b"-----BEGIN CERTIFICATE-----") is None


def test_obfuscation_is_optional_and_mapping_is_kept():
    line = "2026-03-15 10:23:45.123 INFO [gateway] - client 203.0.113.7 user alice@corp.example phone 13812345678 host im1.corp.example ::ffff fe80::1\n"
    plain = Redactor.for_profile()
    assert plain.redact_text(line) == line
    r = Redactor.for_profile(obfuscate=True)
    out = r.redact_text(line)
    for s in ("203.0.113.7", "alice@corp.example", "13812345678", "im1.corp.example", "fe80::1"):
        assert s not in out
    assert out.startswith("2026-03-15 10:23:45.123 INFO")  # timestamps are not IPv6 addresses
    ip_token = next(t for t, v in r.mapping["ipv4"].items() if v == "203.0.113.7")
    assert ip_token.startswith("ip4-") and ip_token in out
    assert "alice@corp.example" in r.mapping["email"].values()
    assert r.redact_text("again 203.0.113.7") == f"again {ip_token}"
    other = Redactor.for_profile(obfuscate=True, salt=r.salt)
    assert other.redact_text("again 203.0.113.7") == f"again {ip_token}"  # same salt, same token


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="\"'\\,;&}])"),
               min_size=6, max_size=40))
def test_any_password_value_is_redacted(pw):
    r = Redactor.for_profile()
    out = r.redact_text(f"login failed password={pw} user=u1\n")
    assert f"password={pw} " not in out
    assert "[REDACTED-key-value-" in out


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_redaction_never_crashes_on_bytes(data):
    Redactor.for_profile(obfuscate=True).redact_bytes(data)


_LINE_PARTS = st.sampled_from([
    "2026-03-15 10:00:00.000 INFO [api] - request ok route=/v2/messages",
    "2026-03-15 10:00:01.000 ERROR [auth] ERR_IM_1001 token expired user=u1",
    "2026-03-15 10:00:02.000 WARN [storage] - dsn=mysql://im:Pw-{n}@db1:3306/im",
    "2026-03-15 10:00:03.000 INFO [api] - Authorization: Bearer tok{n}abcdefgh1234",
    "2026-03-15 10:00:04.000 INFO [file] - key AKIA{n:016d} password={n}pw",
    "2026-03-15 10:00:05.000 INFO [auth] - jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{n}In0.sig{n}",
    "    at com.im.Foo.bar(Foo.java:{n})",
    "",
])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_LINE_PARTS, st.integers(0, 10**6)), min_size=1, max_size=80), st.booleans())
def test_block_redaction_equals_line_by_line(parts, trailing_newline):
    """The fast block path (needle filter + joined candidate lines) gives exactly what redacting
    each line on its own gives."""
    lines = [tmpl.format(n=n) for tmpl, n in parts]
    block = "\n".join(lines) + ("\n" if trailing_newline else "")
    salt = b"fixed-salt"
    whole = Redactor.for_profile(salt=salt).redact_text(block)
    one = Redactor.for_profile(salt=salt)
    by_line = "\n".join(one.redact_text(line) for line in lines) + ("\n" if trailing_newline else "")
    assert whole == by_line
