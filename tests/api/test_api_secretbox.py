"""Secrets at rest: sealed under a 0600 key file of the data directory, readable back only
with that key; two processes starting at once end up with one key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from api import keyfile
from api.secretbox import KEY_FILE, SecretBox, SecretKeyError


def test_a_secret_round_trips_and_is_not_stored_in_clear(tmp_path):
    box = SecretBox.from_file(tmp_path / KEY_FILE)
    token = box.seal("whsec_签名-secret")
    assert "whsec" not in token and box.open(token) == "whsec_签名-secret"
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert SecretBox.from_file(tmp_path / KEY_FILE).open(token) == "whsec_签名-secret"


def test_another_key_cannot_open_it(tmp_path):
    token = SecretBox.from_file(tmp_path / "a" / KEY_FILE).seal("s3cret")
    with pytest.raises(SecretKeyError, match="same key file"):
        SecretBox.from_file(tmp_path / "b" / KEY_FILE).open(token)


def test_concurrent_creation_yields_one_key(tmp_path):
    path = tmp_path / KEY_FILE
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: keyfile.load_or_create(path, "secrets key"), range(16)))
    assert len(keys) == 1


def test_a_damaged_key_file_is_a_clear_error(tmp_path):
    (tmp_path / KEY_FILE).write_text("not a key\n")
    with pytest.raises(SecretKeyError, match="is not a secrets key"):
        SecretBox.from_file(tmp_path / KEY_FILE)
