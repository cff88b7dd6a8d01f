"""version check follows SPEC §5 from the profile's versions.yaml."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imdesk.core.errors import BadInput
from imdesk.diag.version import check_versions, parse_server_output, parse_version


@pytest.mark.parametrize(
    "sdk,server,status,api",
    [
        ("java:4.2.0", "4.2.1", "compatible", "v2"),
        ("android:4.3.5", "4.2.0", "compatible", "v2"),      # one minor ahead is fine
        ("android:4.4.0", "4.2.1", "warning", "v2"),          # two minors ahead
        ("ios:3.8.0", "4.2.1", "warning", "v1"),              # v1 deprecated on 4.x
        ("web:3.2.0", "3.9.0", "compatible", "v1"),
        ("web:3.2.0", "5.0.0", "incompatible", "v1"),         # SDK 3 against server 5
        ("flutter:4.0.0", "3.4.2", "incompatible", "v2"),     # SDK 4 against server 3
        ("flutter:4.9.0", "5.0.0", "compatible", "v2"),       # other majors: no minor rule
    ],
)
def test_policy(sdk, server, status, api):
    verdict = check_versions(sdk, server)
    assert verdict.status == status
    assert verdict.api == api
    assert verdict.reason and verdict.advice and verdict.reason_zh and verdict.advice_zh
    assert verdict.exit_code() == (0 if status == "compatible" else 1)


def test_incompatible_advice_names_the_right_sdk_major():
    assert "major 4" in check_versions("web:3.2.0", "5.0.0").advice
    assert "major 3" in check_versions("ios:4.1.0", "3.2.0").advice


def test_unknown_server_major_is_a_warning():
    assert check_versions("java:4.0.0", "9.0.0").status == "warning"


@pytest.mark.parametrize("sdk,server", [("java", "4.2"), ("cobol:1.0", "4.2"), ("java:x.y", "4.2"), ("java:4.2", "")])
def test_bad_input(sdk, server):
    with pytest.raises(BadInput):
        check_versions(sdk, server)


def test_server_output():
    assert str(parse_server_output("im_server 4.2.1 (api v1,v2)")) == "4.2.1"
    assert parse_server_output("garbage") is None


@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99))
def test_parse_version_roundtrip(a, b, c):
    v = parse_version(f"{a}.{b}.{c}")
    assert (v.major, v.minor, v.patch) == (a, b, c)


@given(st.text(max_size=15))
def test_parse_version_never_crashes_unexpectedly(s):
    with contextlib.suppress(BadInput):
        parse_version(s)
