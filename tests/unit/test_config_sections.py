"""One source for every default: the config schema (brainalign.config_sections, issue 15).

The analyses/figures/brainbench sections have no copy of their defaults outside
workflow/schemas/config.schema.yaml; library functions taking a section fail naming a missing key;
the few plain-function keyword defaults kept in the library equal the schema's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainalign.config_sections import defaults, require, section_schema, with_defaults
from brainalign.config_validation import check_values, validated
from brainalign.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_schema_fragments_are_gone():
    for fragment in ("workflow/brainalign/analyses/config.schema.yaml",
                     "workflow/brainalign/brainbench/config.schema.yaml"):
        assert not (REPO / fragment).exists(), f"{fragment}: the defaults belong in workflow/schemas/config.schema.yaml"


def test_with_defaults_fills_nested_keys_as_the_workflow_validation_does():
    from snakemake.utils import validate

    config = {"analyses": {"forecast": {"distances": [3]}}}
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"), set_default=True)
    assert with_defaults("analyses", {"forecast": {"distances": [3]}}) == config["analyses"]
    assert config["analyses"]["sensitivity"]["meeg_kernel"]["peak"] == defaults("analyses.sensitivity.meeg_kernel.peak")
    assert config["figures"] == with_defaults("figures") == defaults("figures")


@pytest.mark.parametrize("key, drop", [
    ("analyses", ("forecast", "distances")),
    ("analyses", ("sensitivity", "latents", "n_pcs")),
    ("analyses.regions", ("ieeg_radius_mm",)),
    ("figures", ("min_score",)),
    ("brainbench", ("lora", "rank")),
])
def test_a_missing_key_is_an_error_naming_it(key, drop):
    section = with_defaults(key)
    inner = section
    for part in drop[:-1]:
        inner = inner[part]
    del inner[drop[-1]]
    with pytest.raises(ConfigError, match=rf"'{key}\.{'.'.join(drop)}'.*missing") as exc:
        require(section, key)
    assert exc.value.key == f"{key}.{'.'.join(drop)}"


def test_an_unknown_key_or_bad_value_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"'figures\.colour'.*unknown key"):
        require({**with_defaults("figures"), "colour": "red"}, "figures")
    assert require({**with_defaults("figures"), "format": "gif"}, "figures")["format"] == "gif"  # values: not here
    with pytest.raises(ConfigError, match=r"'figures\.format'"):
        check_values({**with_defaults("figures"), "format": "gif"}, "figures")
    with pytest.raises(ConfigError, match=r"'analyses\.forecast\.distances\.0'.*minimum 1"):
        validated({"analyses": {"forecast": {"distances": [0, 2]}}}, "analyses")
    with pytest.raises(KeyError, match="no 'nope'"):
        section_schema("analyses.nope")


def test_library_functions_taking_a_section_name_the_missing_key(tmp_path):
    from brainalign.analyses.regions import find_region_sources
    from brainalign.analyses.sensitivity import check_settings
    from brainalign.brainbench.plan import check_section

    regions = with_defaults("analyses.regions")
    del regions["atlas_threshold"]
    with pytest.raises(ConfigError, match="analyses.regions.atlas_threshold"):
        find_region_sources(tmp_path, regions)
    sens = with_defaults("analyses.sensitivity")
    del sens["snrs"]
    with pytest.raises(ConfigError, match="analyses.sensitivity.snrs"):
        check_settings(sens)
    with pytest.raises(ConfigError, match="brainbench.models"):
        check_section({"testsets": {}}, {})


def test_library_keyword_defaults_equal_the_schema():
    """Plain library functions keep a few keyword defaults; each must equal the schema's."""
    from brainalign.analyses import regions
    from brainalign.encoding.collect import design_params, encoding_params
    from brainalign.encoding.ridge import DEFAULT_ALPHAS

    assert regions.DEFAULT_RADIUS_MM == defaults("analyses.regions.ieeg_radius_mm")
    assert regions.PROB_THRESHOLD == defaults("analyses.regions.atlas_threshold")
    grid = defaults("encoding.alphas")
    np.testing.assert_allclose(DEFAULT_ALPHAS, np.logspace(grid["start"], grid["stop"], grid["num"]))
    # encode_dataset's design/encoding: complete settings built from the schema (fMRI: fir, not hrf);
    # the library itself fills nothing (tests/unit/test_encoding_settings_required.py)
    from brainalign.encoding.settings import design_settings, solver_settings

    assert design_params("fmri", design_settings("fmri")) == defaults("design.fmri")
    assert design_params("fmri", design_settings("fmri"))["method"] == "fir"
    assert design_params("eeg", design_settings("eeg")) == defaults("design.meeg")
    enc = encoding_params(solver_settings(), "fmri")
    for key in ("inner_folds", "outer_folds", "backend", "chunk_size", "n_permutations", "fdr_q", "ceiling",
                "channels_across_runs"):
        assert enc[key] == defaults(f"encoding.{key}"), key
    assert enc["seed"] == defaults("seed")


def test_brainbench_rules_alone_validate_against_the_main_schema(tmp_path):
    """snakemake -s brainbench.smk (no main Snakefile): defaults filled from the main schema's section."""
    (tmp_path / "items.csv").write_text("x\n")
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f'configfile: "config.yaml"\ninclude: "{REPO / "workflow" / "rules" / "brainbench.smk"}"\n')

    def dry_run(section: dict) -> subprocess.CompletedProcess:
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({"models": {"m": {"source": "hf", "id": "x"}},
                                                              "brainbench": section}))
        return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(tmp_path), "-n",
                               "brainbench"], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, HF_HUB_OFFLINE="1"))

    ok = dry_run({"models": ["m"], "testsets": {"t": str(tmp_path / "items.csv")}})
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "brainbench_score" in ok.stdout + ok.stderr
    bad = dry_run({"models": ["m"], "testsets": {"t": str(tmp_path / "items.csv")}, "batch_size": 0})
    assert bad.returncode != 0 and "brainbench.batch_size" in bad.stdout + bad.stderr
    assert validated({"brainbench": {"models": ["m"]}}, "brainbench")["lora"]["rank"] == defaults("brainbench.lora.rank")


def test_section_schema_is_a_copy_and_require_reads_the_schema_itself():
    """require walks one shared sub-schema (no copy per call); a caller changing section_schema's copy
    changes neither later copies nor what require accepts."""
    forecast = with_defaults("analyses.forecast")
    copy_ = section_schema("analyses.forecast")
    copy_["properties"].clear()
    copy_["additionalProperties"] = True
    assert section_schema("analyses.forecast")["properties"]
    with pytest.raises(ConfigError, match=r"analyses\.forecast\.nope.*unknown key"):
        require({**forecast, "nope": 1}, "analyses.forecast")
    missing = dict(forecast)
    missing.pop(next(iter(missing)))
    with pytest.raises(ConfigError, match="missing"):
        require(missing, "analyses.forecast")
