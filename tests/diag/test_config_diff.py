"""config diff: key by key, defaults filled in, secrets by fingerprint only."""

from __future__ import annotations

import json

import pytest

from imdesk.core.errors import BadInput
from imdesk.diag.config_check import example_text
from imdesk.diag.config_diff import diff_files, render_text

EXAMPLE = example_text()


@pytest.fixture
def example(tmp_path):
    p = tmp_path / "example.yaml"
    p.write_text(EXAMPLE, encoding="utf-8")
    return p


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_example_against_itself_is_identical(example):
    result = diff_files(example)
    assert result.differences == [] and result.exit_code() == 0


def test_other_node_differences_and_cluster_breaking_keys(tmp_path, example):
    node_b = write(tmp_path, "b.yaml", EXAMPLE
                   .replace("node_id: im-node-1", "node_id: im-node-2")
                   .replace('jwt_secret: "REPLACE-with-output-of-openssl-rand-hex-32"',
                            'jwt_secret: "s3cr3t-value-only-on-node-b-0123456789abcdef"')
                   .replace("consumer_group: im_server", "consumer_group: im_server_b")
                   .replace("    pool_size: 20\n", ""))
    result = diff_files(node_b, example)
    by_key = {e.key: e for e in result.differences}
    assert set(by_key) == {"server.node_id", "auth.jwt_secret", "mq.consumer_group"}
    assert by_key["auth.jwt_secret"].cluster_breaking and by_key["mq.consumer_group"].cluster_breaking
    assert not by_key["server.node_id"].cluster_breaking
    # pool_size removed: default 20 equals the other side's explicit 20 -> not a difference
    assert "storage.database.pool_size" not in by_key
    text = render_text(result) + json.dumps(result.to_dict())
    assert "s3cr3t" not in text and "REPLACE-with" not in text
    assert by_key["auth.jwt_secret"].left.startswith("fp:")
    assert result.exit_code() == 1


def test_same_secret_same_fingerprint(tmp_path, example):
    copy = write(tmp_path, "copy.yaml", EXAMPLE.replace("level: INFO", "level: WARN"))
    result = diff_files(copy, example)
    assert [e.key for e in result.differences] == ["log.level"]
    secret = [e for e in result.entries if e.key == "auth.jwt_secret"][0]
    assert secret.status == "same" and secret.left == secret.right


def test_unknown_keys_listed(tmp_path, example):
    typo = write(tmp_path, "typo.yaml", EXAMPLE.replace("max_concurrent: 50000", "max_concurent: 9000"))
    result = diff_files(typo, example)
    assert result.unknown_left == ["server.max_concurent"]


def test_missing_file(tmp_path):
    with pytest.raises(BadInput):
        diff_files(tmp_path / "nope.yaml")
