"""A query without ``electrodes_space`` takes the schema's ``preprocess.ieeg.electrodes_space``, read
from the schema (no second ``"auto"`` in the library)."""

from __future__ import annotations

import pytest
from tests.podcast_ieeg_tree import MNI, write_podcast_run

import brainalign.io.bids as bids
from brainalign.config_sections import defaults


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("podcast")
    write_podcast_run(root)
    return root


def _chosen(runs) -> str:
    return runs.loc[0, "electrodes"].rsplit("/", 1)[-1]


def test_a_left_out_space_is_the_schema_default(root):
    assert defaults("preprocess.ieeg.electrodes_space") == "auto"
    for spec in ({"modality": "ieeg"}, {"modality": "ieeg", "electrodes_space": None}):
        assert _chosen(bids.find_runs(root, spec)) == f"sub-01_space-{MNI}_electrodes.tsv"


def test_the_default_follows_the_schema_not_a_literal(root, monkeypatch):
    """Were the schema's default 'Other', a query leaving the key out would read the native table."""
    real = bids.defaults
    monkeypatch.setattr(bids, "defaults", lambda key: "Other" if key == "preprocess.ieeg.electrodes_space" else real(key))
    runs = bids.find_runs(root, {"modality": "ieeg"})
    assert _chosen(runs) == "sub-01_space-Other_electrodes.tsv"
    assert not [f for f in runs.loc[0, "files"] if f"space-{MNI}_electrodes" in f]
