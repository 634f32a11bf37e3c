"""Damaged shard results (encode_shard -> encode_gather): an error naming the file, never a raw traceback."""

from __future__ import annotations

import pickle

import pytest
from reliability_helpers import assert_input_error

from brainalign.encoding.shards import read_shard
from brainalign.errors import InputError


def test_truncated_shard_file(tmp_path):
    """A shard result cut short (a job killed while another copied it, a full disk): named, with the fix."""
    path = tmp_path / "shard-003.pkl"
    path.write_bytes(pickle.dumps({"r": list(range(100))})[:20])
    with pytest.raises(InputError) as excinfo:
        read_shard(path)
    assert_input_error(excinfo, "shard-003.pkl", "cannot be read as a shard result", "encode_shard job")


def test_file_of_another_kind(tmp_path):
    """A pickle that is not a shard result of this layout (another brainalign version): named."""
    path = tmp_path / "shard-000.pkl"
    path.write_bytes(pickle.dumps({"format": 0}))
    with pytest.raises(InputError) as excinfo:
        read_shard(path)
    assert_input_error(excinfo, "shard-000.pkl", "not a shard result of format", "re-run its encode_shard job")
