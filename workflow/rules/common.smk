# Shared set-up: config validation, the names every rule expands over, path helpers.
# Pure bookkeeping: no science here.

from functools import lru_cache
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError
from snakemake.utils import validate

from brainalign.checkout import use_checkout

# brainalign is an installed package (editable in the .venv; each conda env's post-deploy script
# installs it from BRAINALIGN_ROOT, exported here): it must be this checkout's.
use_checkout(Path(workflow.current_basedir).parents[1])


from brainalign.config_validation import reject_null_sections

reject_null_sections(config)  # `ica: null` and the like: an error saying the form to write, before validate
validate(config, schema="../schemas/config.schema.yaml")

# BRAINALIGN_CONFIG_DUMP=<file> snakemake -n ...: the configuration every rule sees (config files
# merged, schema defaults filled in) is written there before any dataset is planned, to check what a
# profile leaves to the defaults (tests/unit/test_profiles.py compares it with defaults + profile).
from brainalign.configdoc import dump_effective_config

dump_effective_config(config)

wildcard_constraints:
    model=r"[A-Za-z0-9-]+(_random)?",
    story=r"[A-Za-z0-9]+",
    subject=r"[A-Za-z0-9]+",
    modality=r"fmri|meg|eeg|ieeg",
    meeg=r"meg|eeg|ieeg",

SEED = config["seed"]
DATASET = config["dataset"]["name"]
KIND = config["dataset"]["kind"]
MODALITIES = list(config["dataset"]["modalities"])
RESULTS = f"results/{DATASET}"
LIBRARY = Path(workflow.basedir) / "workflow" / "brainalign"


def _config_error(key, message):
    raise WorkflowError(f"config key '{key}': {message}")


if KIND == "demo":
    STORIES = list(config["demo"]["stories"])
    SUBJECTS = [f"{i + 1:02d}" for i in range(config["demo"]["n_subjects"])]
    BIDS_ROOT = f"{RESULTS}/bids"
    for _story in STORIES:
        if not (LIBRARY / "demo" / "stories" / f"{_story}.txt").exists():
            _config_error("demo.stories", f"no story '{_story}' (expected a file workflow/brainalign/demo/stories/{_story}.txt)")
    if config["demo"]["planting_model"] not in config["models"]:
        _config_error("demo.planting_model", f"'{config['demo']['planting_model']}' is not a key of 'models' ({', '.join(config['models'])})")
else:
    if "bids_root" not in config["dataset"]:
        _config_error("dataset.bids_root", "required when dataset.kind is 'bids'")
    BIDS_ROOT = config["dataset"]["bids_root"]
    if not Path(BIDS_ROOT).is_dir():  # else every run would be reported missing, not the root
        _config_error("dataset.bids_root", f"{BIDS_ROOT!r} " + ("is a file" if Path(BIDS_ROOT).exists() else "does not exist")
                      + f" (resolved to {Path(BIDS_ROOT).resolve()}); expected the root directory of a BIDS dataset"
                      " (dataset_description.json, sub-* folders). Point dataset.bids_root at it, or fetch a"
                      " published dataset first: snakemake download_<name> --cores 1 -s workflow/rules/download.smk"
                      " --configfile config/datasets/<name>.yaml")
    STORIES = list(config["dataset"].get("stories") or [])
    if not STORIES:
        _config_error("dataset.stories", "list the stories (BIDS task labels) to analyse")
    SUBJECTS = list(config["dataset"].get("subjects") or [])
    if not SUBJECTS:
        _root = Path(BIDS_ROOT)
        SUBJECTS = sorted(p.name[4:] for p in _root.glob("sub-*") if p.is_dir())
        if not SUBJECTS:
            _config_error("dataset.bids_root", f"no sub-* directories under {_root}")

@lru_cache(maxsize=None)  # per story: the config does not change within a run, the plan asks per job
def stimulus_reads_events(story):
    """Whether a BIDS fMRI run's stimulus onset is read from its events.tsv (dataset.stimulus_onset)."""
    from brainalign.io.bids import stimulus_spec

    spec = stimulus_spec(config["dataset"], story) or {}
    return spec.get("source", "events") == "events"


# (subject, story) runs of each modality: the full grid for the demo; for BIDS data, the runs found
# on disk (one glob per modality, not one per job), with missing ones an error or dropped
# (dataset.missing_run).
def preprocess_config_files(modality):
    """Files the preprocessing options name (preprocess.fmri mask/atlas/atlas_labels, preprocess.meeg or
    .ieeg channel_groups): every job of the modality reads them."""
    section = "fmri" if modality == "fmri" else ("ieeg" if modality == "ieeg" else "meeg")
    options = config["preprocess"].get(section) or {}
    keys = ("mask", "atlas", "atlas_labels") if section == "fmri" else ("channel_groups",)
    builtin = {"mni152", "mni", "epi"}  # masks nilearn provides or computes, not files
    return [str(options[k]) for k in keys if isinstance(options.get(k), str) and str(options[k]).lower() not in builtin]


# RUNS[modality][(subject, story)]: every file that run's preprocessing job reads (find_runs' `files`: the
# recording, its companions and the sidecars its reader opens; + the events of a story cut from a shared run,
# + files the preprocessing options name). CHECK_FILES: what rule check_inputs reads (all of them, every
# run's events, the word timings). RUN_SPECS: the find_runs spec of each modality (check_inputs repeats
# the discovery).
CHECK_FILES = []
if KIND == "demo":
    STORY_RUNS = {}
    STORY_UNITS = {}
    RUNS = {mod: {(s, t): [] for s in SUBJECTS for t in STORIES} for mod in MODALITIES}
    RUN_SPECS = {mod: {"modality": mod} for mod in MODALITIES}
    RUN_INFO = {mod: {} for mod in MODALITIES}
    REPEAT_RUNS = {mod: {} for mod in MODALITIES}  # (subject, story, repeat label) -> files, run
else:
    from brainalign.errors import InputError
    from brainalign.io.bids import hf5_spec, plan_runs

    _profile = config["dataset"]["profile"]
    # Stories that share a run (dataset.story_runs, e.g. Narratives' slumlordreach) are looked up by
    # their run's task, then each becomes its own unit (same files, its own preprocessing job).
    STORY_RUNS = config["dataset"].get("story_runs") or {}
    # Stories heard in several versions (participants.tsv conditions, dataset.conditions.units: e.g.
    # milkyway original/vodka/synonyms): one unit per version, its subjects' runs of the task.
    STORY_UNITS = (config["dataset"].get("conditions") or {}).get("units") or {}
    RUNS, RUN_INFO, RUN_SPECS = {}, {}, {}
    REPEAT_RUNS = {mod: {} for mod in MODALITIES}
    for _mod in MODALITIES:
        _spec = {"modality": _mod, "subjects": SUBJECTS,
                 "derivatives_root": config["dataset"].get("derivatives_root"), "space": _profile.get("space"),
                 "sessions": list(_profile.get("sessions") or [])[:1] or None,
                 "use_derivatives": _profile["use_derivatives"], **hf5_spec(_profile, BIDS_ROOT)}
        if _mod == "ieeg":  # the electrodes.tsv (and coordsystem.json) of this space are the job's inputs
            _spec["electrodes_space"] = config["preprocess"]["ieeg"]["electrodes_space"]
        try:
            _runs = plan_runs(BIDS_ROOT, config["dataset"], spec=_spec, subjects=SUBJECTS, stories=STORIES)
        except InputError as _err:  # repeated runs, mixed conditions ...: the message names key and files
            raise WorkflowError(str(_err)) from None
        RUN_SPECS[_mod] = _spec
        _extra = preprocess_config_files(_mod)
        # the files each preprocessing job reads: find_runs' `files` (recording, companions, the sidecars
        # its reader opens), the events (stimulus onset, shared-run segments; also read by mne-bids for
        # MEG/EEG) and the files the preprocessing options name
        RUNS[_mod] = {}
        for r in _runs.itertuples():
            _events = [r.events] if isinstance(r.events, str) else []
            # fMRI preprocessing reads the events for the stimulus onset or a shared run's segment only
            # (MEG/EEG: mne-bids reads them, and find_runs' files list them already)
            _reads_events = _mod != "fmri" or r.story in STORY_RUNS or stimulus_reads_events(r.story)
            RUNS[_mod][(r.subject, r.story)] = list(dict.fromkeys([*r.files, *(_events if _reads_events else []),
                                                                   *_extra]))
            CHECK_FILES += [*r.files, *_extra, *_events]
        # which run the plan chose (BIDS task, session, run label, condition): the job reads exactly it
        RUN_INFO[_mod] = {(r.subject, r.story): {"task": r.task, "session": r.session if isinstance(r.session, str) else None,
                                                 "run": r.run if isinstance(r.run, str) else None,
                                                 "condition": r.condition if isinstance(r.condition, str) else None,
                                                 "repeats": r.repeats or ""}
                          for r in _runs.itertuples()}
        # the repetitions dataset.repeated_runs left out: preprocessed for the repeat ceiling (repeats.smk)
        if config["encoding"]["repeat_ceiling"]:
            from brainalign.io.repeats import plan_repeats

            for r in plan_repeats(BIDS_ROOT, config["dataset"], spec=_spec, chosen=_runs).itertuples():
                _events = [r.events] if r.events and (_mod != "fmri" or r.story in STORY_RUNS
                                                      or stimulus_reads_events(r.story)) else []
                REPEAT_RUNS[_mod][(r.subject, r.story, r.repeat)] = {
                    "files": list(dict.fromkeys([*r.files, *_events, *_extra])),
                    "run": {"task": r.task, "session": r.session, "run": r.run,
                            "condition": RUN_INFO[_mod][(r.subject, r.story)]["condition"], "repeats": ""}}


# Whether each modality's subjects share one target axis (encoding.subjects): 'separate' fits each
# subject on its own channels (iEEG patients, by default) and adds the electrode tables; fMRI runs that
# certainly cannot share one voxel grid stop the plan here rather than the encode job after preprocessing.
from brainalign.encoding.settings import check_shared_grid, resolve_subject_fits
from brainalign.errors import ConfigError as _ConfigError

try:
    SUBJECT_FITS = {_mod: resolve_subject_fits(config["encoding"]["subjects"], _mod) for _mod in MODALITIES}
    if "fmri" in MODALITIES and KIND != "demo":
        check_shared_grid(RUNS["fmri"], (config.get("preprocess") or {}).get("fmri") or {})
except _ConfigError as _err:
    raise WorkflowError(str(_err)) from None


def run_info(modality, subject, story, repeat=None):
    """The planned run of a job: task, session, run label, condition (empty for the demo); with
    `repeat`, that left-out repetition (REPEAT_RUNS)."""
    if repeat is not None:
        return REPEAT_RUNS[modality][(subject, story, repeat)]["run"]
    return RUN_INFO[modality].get((subject, story), {})


def repeat_runs_of(modality):
    """(subject, story, repeat) of a modality's left-out repetitions, in a fixed order ([] without)."""
    return sorted(REPEAT_RUNS[modality])


def repeat_ceiling_of(modality):
    """The repeat ceilings of a modality ([] when no subject has a repetition): input of the encode rules."""
    return [f"{RESULTS}/ceilings/{modality}.zarr"] if REPEAT_RUNS[modality] else []


@lru_cache(maxsize=None)  # per story unit: every preprocessing job of the story asks
def _stimulus_spec(story):
    from brainalign.io.bids import stimulus_spec

    return stimulus_spec(config["dataset"], story)


def stimulus_spec_of(story):
    """dataset.stimulus_onset for a story unit (None for the demo, whose runs start with the story)."""
    if KIND == "demo":
        return None
    return dict(_stimulus_spec(story))  # a copy: a job's params are its own

BASE_MODELS = list(config["models"])
CONTROL_OF = {m: f"{m}_random" for m, e in config["models"].items() if e["random_control"]}
MODELS = BASE_MODELS + list(CONTROL_OF.values())

# Fine-tuned models (analyses.finetune, workflow/rules/finetune.smk): '<base>-ft-<objective>' names the
# merged model directory rule finetune writes; the features rule loads it as a local model.
from brainalign.errors import ConfigError as _FtConfigError
from brainalign.finetune.plan import base_model as _ft_base, finetuned_models as _finetuned_models

try:
    FT_BASE = _ft_base(config["analyses"]["finetune"], BASE_MODELS,
                       config["demo"]["planting_model"] if KIND == "demo" else None)
    FINETUNED = _finetuned_models(RESULTS, config["analyses"]["finetune"], BASE_MODELS, FT_BASE)
except _FtConfigError as _err:
    raise WorkflowError(str(_err)) from None

# The analyses and figures settings (validated copies: a named atlas is resolved in the copy only), the
# region files each modality's figures, analyses and electrode tables read, the figure format and the
# analyses' path plan: shared by figures.smk, analyses.smk, encode.smk, sensitivity.smk and qc.smk.
from brainalign.analyses import plan as _an_plan
from brainalign.analyses.regions import region_input_files
from brainalign.config_validation import validated

ANALYSES_CFG = validated(config, "analyses")
FIGURES_CFG = validated(config, "figures")
FIG_EXT = FIGURES_CFG["format"]
_TRAINED_RE = _an_plan.alternation(BASE_MODELS)
_REGION_FILES, ANALYSES_CFG["regions"] = region_input_files(BIDS_ROOT, ANALYSES_CFG["regions"], demo=KIND == "demo")


def region_inputs(modality):
    """Files the region labelling of a modality reads (analyses.regions): rule inputs."""
    return _REGION_FILES[modality]


def design_of(wildcards):
    """The design section of a job's modality: design.fmri, or design.meeg for MEG/EEG/iEEG."""
    return config["design"]["fmri" if wildcards.modality == "fmri" else "meeg"]


def model_entry(name):
    """The config entry of a model name; '<base>_random' is the random-init control of <base>;
    '<base>-ft-<objective>' a fine-tuned model (FINETUNED)."""
    if name in FINETUNED:
        return {"name": name, "entry": {"source": "local", "id": FINETUNED[name]["dir"]}, "random_init": False}
    base, random_init = (name[: -len("_random")], True) if name.endswith("_random") else (name, False)
    if base not in config["models"]:
        raise WorkflowError(f"model '{name}': no such key under 'models' in the config")
    return {"name": base, "entry": dict(config["models"][base]), "random_init": random_init}


def model_files(wildcards):
    """Weight files of a model given by a path, when present (models.<name>.source gguf: the file, or the
    .gguf files of its folder; local: every file of its folder), so that features are recomputed when they
    change. Packages (pypi) and hub snapshots are pinned software (version, revision). A path that does not
    exist is left to the job, whose error names the model key."""
    if wildcards.model in FINETUNED:  # the directory rule finetune writes
        return [FINETUNED[wildcards.model]["dir"]]
    entry = model_entry(wildcards.model)["entry"]
    if entry.get("source") not in ("gguf", "local") or not entry.get("id"):
        return []
    path = Path(str(entry["id"])).expanduser()
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        return []
    if entry["source"] == "gguf":
        named = path / entry["gguf_file"] if entry.get("gguf_file") else None
        return [str(named)] if named and named.is_file() else [str(p) for p in sorted(path.glob("*.gguf"))
                                                                + sorted(path.glob("data/*.gguf"))]
    return [str(p) for p in sorted(path.rglob("*")) if p.is_file()]


def raw_inputs(wildcards):
    """Files a job reads from the dataset: the generated BIDS tree (demo) or every file of the run
    (recording, companions, sidecars; see RUNS), plus the files its preprocessing options name."""
    modality = getattr(wildcards, "meeg", None) or "fmri"
    if KIND == "demo":
        return [BIDS_ROOT, *preprocess_config_files(modality)]
    if not hasattr(wildcards, "subject"):
        return []  # no subject wildcard; the words jobs read words_inputs
    return RUNS[modality][(wildcards.subject, wildcards.story)]


# Memory and run time of each preprocessing job, sized from its own run (channels x samples from the
# sidecar, channels.tsv or header; voxels x volumes from the NIfTI header), as measured by
# benchmarks/preprocess_memory.py: one constant cannot fit both the demo's runs and a 2048 Hz patient.
# A retried job (--retries) asks for `attempt` times as much. Sizes are read once per run; a run whose
# files do not exist yet (the demo plans before generating them) gets the former constant request.
_PREPROCESS_SIZES = {}


def preprocess_size(wildcards):
    """(modality, values read) of a preprocessing job (values None when its files give no size)."""
    from brainalign.preprocess.resources import input_values

    modality = getattr(wildcards, "meeg", None) or "fmri"
    key = (modality, wildcards.subject, wildcards.story)
    if key not in _PREPROCESS_SIZES:
        if KIND == "demo":
            folder = Path(BIDS_ROOT) / f"sub-{wildcards.subject}" / ("func" if modality == "fmri" else modality)
            files = sorted(folder.glob(f"sub-{wildcards.subject}_task-{wildcards.story}_*"))
        else:
            files = RUNS[modality].get((wildcards.subject, wildcards.story), [])
        n_values = input_values(files, modality)
        if n_values is None:
            return modality, None
        _PREPROCESS_SIZES[key] = n_values
    return modality, _PREPROCESS_SIZES[key]


def preprocess_mem_mb(wildcards, attempt):
    """mem_mb of a preprocessing job: brainalign.preprocess.resources.memory_mb of its input, x attempt."""
    from brainalign.preprocess.resources import memory_mb

    modality, n_values = preprocess_size(wildcards)
    options = config["preprocess"].get("fmri" if modality == "fmri" else ("ieeg" if modality == "ieeg" else "meeg")) or {}
    return memory_mb(n_values, modality, options, attempt)


def preprocess_runtime(wildcards, attempt):
    """runtime (minutes) of a preprocessing job, from its input's size, x attempt."""
    from brainalign.preprocess.resources import runtime_minutes

    modality, n_values = preprocess_size(wildcards)
    return runtime_minutes(n_values, modality, attempt)


def story_run_inputs(wildcards):
    """A story cut out of a shared run (dataset.story_runs) also needs its word table (last word)."""
    return [f"{RESULTS}/words/{wildcards.story}.tsv"] if wildcards.story in STORY_RUNS else []


def first_subject_of(story):
    """The first subject (in SUBJECTS order) that has a run of the story in any modality.

    Story-level `words` jobs read this subject's files (BIDS events, a {subject} timing path), and
    with dataset.missing_run: drop, SUBJECTS[0] may lack the story.
    """
    for subject in SUBJECTS:
        if any((subject, story) in RUNS[mod] for mod in MODALITIES):
            return subject
    raise WorkflowError(f"story '{story}': no subject has a run of it (dataset.stories, dataset.missing_run)")


def timing_entry(story):
    """The entry whose timings_path (if any) gives a story's word table: dataset.story_runs, else
    dataset.conditions.units (a version sharing the task's alignment, e.g. prettymouth's)."""
    return STORY_RUNS.get(story) or STORY_UNITS.get(story)


def timing_files_of(story):
    """(subject, word-timing file) pairs that rule `words` reads for a story, the story's own first.

    The first subject with the story gives the story's table; when every subject has their own file
    (the demo's func events.tsv, a dataset.timings.path with {subject}) and one table serves them all
    (not dataset.timings.per_subject), every other subject's file is compared with it (same words,
    same onsets), so these files are inputs of the job: editing one reruns the check.
    """
    if KIND == "demo":
        return [(s, f"{BIDS_ROOT}/sub-{s}/func/sub-{s}_task-{story}_events.tsv") for s in SUBJECTS]
    entry = timing_entry(story) or {}
    pattern = entry.get("timings_path") or (config["dataset"].get("timings") or {}).get("path")
    if not pattern:
        return []
    first = first_subject_of(story)
    subjects = [s for s in SUBJECTS if any((s, story) in RUNS[mod] for mod in MODALITIES)]
    if "{subject}" not in pattern or PER_SUBJECT:
        subjects = [first]  # one shared file, or rule words_subject checks each subject's file
    return [(s, pattern.format(root=BIDS_ROOT, story=story, subject=s)) for s in subjects]


def words_inputs(wildcards):
    """Files a story-level `words` job reads - the demo tree (its events files lie inside the
    directory output of demo_dataset), or every word-timing file of timing_files_of(story)."""
    if KIND == "demo":
        return [BIDS_ROOT]
    return list(dict.fromkeys(path for _, path in timing_files_of(wildcards.story)))


def features_of(model):
    """The feature stores of a model, one per story (every encoder job of the model reads them all)."""
    return [f"{RESULTS}/features/{model}/{story}.zarr" for story in STORIES]


def runs_of(modality):
    """The (subject, story) pairs of a modality, in a fixed order."""
    return sorted(RUNS[modality])


def recordings_of(modality):
    return [f"{RESULTS}/preproc/{modality}/sub-{s}/{t}.zarr" for s, t in runs_of(modality)]


# Word onsets per subject (dataset.timings.per_subject, e.g. MEG-MASC, whose stories are split into
# sound files with gaps): rule words_subject writes one table per run; the demo's subjects all heard
# the stimulus on one clock.
PER_SUBJECT = KIND != "demo" and bool(config["dataset"]["timings"]["per_subject"])


def subject_words_of(modality):
    """Per-subject word tables of a modality's runs, in runs_of order; empty unless per_subject."""
    if not PER_SUBJECT:
        return []
    return [f"{RESULTS}/words/{t}/sub-{s}.tsv" for s, t in runs_of(modality)]


# Word onsets outside a recording (dataset.timings.on_beyond_end), checked by every job that runs the
# encoder (encode, forecast_scores, context_scores); the story's word table is named in its messages.
ON_BEYOND_END = config["dataset"]["timings"]["on_beyond_end"]
WORD_TABLES = {story: f"{RESULTS}/words/{story}.tsv" for story in STORIES}


# Sharded encoding (encoding.max_job_memory_gb; brainalign.encoding.shards): the encode stage runs as
# encode_shard jobs (a block of targets of the subjects sharing them, each job within the budget and
# asking for its estimated peak as mem_mb) and one encode_gather job writing the same scores. The plan
# comes from the sizes the input check records (inputs.tsv), so it is made once that checkpoint has run.
SHARDED = config["encoding"]["max_job_memory_gb"] is not None
# the solver settings: how the work is split into jobs changes neither the scores nor their config hash
ENCODING = {k: v for k, v in config["encoding"].items() if k != "max_job_memory_gb"}
_SHARD_PLANS = {}


def shard_plan(modality):
    """The shard plan of a modality (the same for every model: the design width is a bound)."""
    if modality not in _SHARD_PLANS:
        from brainalign.encoding.shards import plan_from_config
        from brainalign.errors import ConfigError, InputError

        table = checkpoints.check_inputs.get().output[0]
        try:
            _SHARD_PLANS[modality] = plan_from_config(table, modality, runs_of(modality), config)
        except (ConfigError, InputError) as err:
            raise WorkflowError(str(err)) from None
    return _SHARD_PLANS[modality]


def shard_files(model, modality):
    """The partial results encode_gather joins, one per shard of the plan."""
    return [f"{RESULTS}/shards/encode/{model}/{modality}/{s}.pkl" for s in shard_plan(modality).ids]


_SHARD_DICTS = {}


def shard_of(modality, shard):
    """A shard of the plan, as a plain dict (the job's params; made once per shard, each job asks twice)."""
    from dataclasses import asdict

    if (modality, shard) not in _SHARD_DICTS:
        _SHARD_DICTS[modality, shard] = asdict(shard_plan(modality).shard(shard))
    return _SHARD_DICTS[modality, shard]


_SHARD_RUNS = {}


def shard_runs(modality, shard):
    """The (subject, story) runs of a shard's subjects, in runs_of order (kept: each job asks several times)."""
    if (modality, shard) not in _SHARD_RUNS:
        subjects = set(shard_of(modality, shard)["subjects"])
        _SHARD_RUNS[modality, shard] = [run for run in runs_of(modality) if run[0] in subjects]
    return _SHARD_RUNS[modality, shard]


def runs_stories(runs):
    """The stories of some (subject, story) runs, in STORIES order: a shard reads only these stories' features
    (fewer inputs per job, a far smaller DAG for many shards, and a story's new features rerun only its shards)."""
    heard = {t for _, t in runs}
    return [t for t in STORIES if t in heard]


def shard_recordings(modality, shard):
    return [f"{RESULTS}/preproc/{modality}/sub-{s}/{t}.zarr" for s, t in shard_runs(modality, shard)]


def shard_words(modality, shard):
    """Per-subject word tables of a shard's runs; empty unless dataset.timings.per_subject."""
    if not PER_SUBJECT:
        return []
    return [f"{RESULTS}/words/{t}/sub-{s}.tsv" for s, t in shard_runs(modality, shard)]


def subjects_of(modality):
    """A modality's subjects in runs_of order (the order of the scores' subject axis)."""
    return list(dict.fromkeys(s for s, _ in runs_of(modality)))


def scores_path(model, modality):
    return f"{RESULTS}/scores/{model}/{modality}.zarr"


def electrode_tables(model, modality):
    """The electrode table and its group statistics of a modality fitted per subject."""
    return [f"{RESULTS}/scores/{model}/{modality}_electrodes.tsv", f"{RESULTS}/scores/{model}/{modality}_electrode_stats.tsv"]


def all_targets():
    targets = [f"{RESULTS}/scores/{m}/{mod}.csv" for m in MODELS for mod in MODALITIES]
    targets += [p for m in MODELS for mod in MODALITIES if SUBJECT_FITS[mod] == "separate" for p in electrode_tables(m, mod)]
    if KIND == "demo":
        targets.append(f"{RESULTS}/validation.tsv")
    return targets


def check_inputs_files(wildcards=None):
    """Every file the input check (check_inputs) reads - the demo's generated tree, or every run's files
    and events and each story's (with dataset.timings.per_subject, each run's) word-timing file."""
    if KIND == "demo":
        return [BIDS_ROOT]
    timing = []
    for story in STORIES:
        timing += words_inputs(type("Wildcards", (), {"story": story})())
    if PER_SUBJECT:
        pattern = config["dataset"]["timings"]["path"]
        timing += [pattern.format(root=BIDS_ROOT, story=t, subject=s) for mod in MODALITIES for s, t in runs_of(mod)]
    return list(dict.fromkeys(CHECK_FILES + timing))


# Jobs that read the dataset run after the input check (checkpoint check_inputs, workflow/rules/inputs.smk):
# their input functions ask for the checkpoint first, so Snakemake schedules them only once the check has
# passed, and then (the DAG is re-evaluated after a checkpoint) from their own inputs alone: re-running
# the check (a metadata file was edited) re-runs exactly the jobs whose own files changed. A file edge
# to inputs.tsv cannot do this: a plain one would re-run every job whenever the check re-runs, and an
# ancient() one hides the jobs' own changed inputs from Snakemake 9 (snakemake/snakemake#4166: jobs
# below a job that must re-run are not evaluated, and the ancient edge then skips them).
def after_check(inputs):
    """Wrap an input function so that its job runs after (and is planned once) the input check has passed."""

    def wrapped(wildcards):
        files = inputs(wildcards)
        files = [files] if isinstance(files, str) else list(files)
        try:
            checkpoints.check_inputs.get()
        except IncompleteCheckpointException as pending:
            # not checked yet: the job waits for the check (its output, flagged as a checkpoint target) and
            # is planned again from its own inputs once the check has passed; listing those inputs now
            # keeps dry runs readable
            return [*files, pending.targetfile]
        return files

    wrapped.__name__ = getattr(inputs, "__name__", "inputs")
    return wrapped


# Repetitions of a story (dataset.repeated_runs; workflow/rules/repeats.smk, the encode rules' ceilings)
def repeat_raw_inputs(wildcards):
    """Files the preprocessing of one left-out repetition reads (its recording, sidecars, events)."""
    modality = getattr(wildcards, "meeg", None) or "fmri"
    return REPEAT_RUNS[modality][(wildcards.subject, wildcards.story, wildcards.repeat)]["files"]


def repeat_recordings_of(modality):
    """Preprocessed repetitions of a modality, in repeat_runs_of order."""
    return [f"{RESULTS}/preproc_repeats/{modality}/sub-{s}/{t}/{r}.zarr" for s, t, r in repeat_runs_of(modality)]


def repeated_encoded_runs(modality):
    """The encoded (subject, story) runs that have repetitions, in a fixed order."""
    return sorted({(s, t) for s, t, _ in repeat_runs_of(modality)})


# The sharded encode's gather (workflow/rules/encode.smk)
def gather_mem_mb(wildcards, input, attempt):
    """The gather's request from the size of the shard files it reads (brainalign.encoding.shards.gather_mem_mb);
    in a dry run, before the shards exist, Snakemake shows it as <TBD>."""
    from brainalign.encoding.shards import gather_mem_mb as estimate

    return estimate(_shard_bytes(input)) * attempt


def _shard_bytes(input):
    """Total size of the shard files a gather reads (FileNotFoundError before they exist: <TBD>)."""
    return sum(Path(path).stat().st_size for path in input.shards)


# Requests of the rules that read data growing with the dataset (score stores, preprocessed recordings):
# from the uncompressed size of the inputs they read (brainalign.resources.RULE_SIZES); <TBD> in a dry run.
from brainalign.resources import input_mem_mb, input_runtime


# Sharded refits (encoding.max_job_memory_gb; brainalign.analyses.refit_shards): forecast_scores,
# forecast_depth_scores and context_scores run as shard jobs of the encode plan's subject groups and
# target blocks, sized for their own design (a forecast window adds bands), and one gather each.
_REFIT_PLANS = {}


def refit_plan(analysis, modality):
    """The shard plan of a refitting analysis (forecast, forecast_depth, context): the encode plan where the
    design is the encode's (context), else planned again with the analysis' wider design."""
    if (analysis, modality) not in _REFIT_PLANS:
        from brainalign.analyses.refit_shards import refit_design_factor
        from brainalign.encoding.shards import plan_from_config
        from brainalign.errors import ConfigError, InputError

        factor = refit_design_factor(analysis, ANALYSES_CFG["forecast"])
        if factor == 1:
            _REFIT_PLANS[analysis, modality] = shard_plan(modality)
        else:
            table = checkpoints.check_inputs.get().output[0]
            try:
                _REFIT_PLANS[analysis, modality] = plan_from_config(table, modality, runs_of(modality), config,
                                                                    design_factor=factor)
            except (ConfigError, InputError) as err:
                raise WorkflowError(f"the {analysis} shards of {modality} (a design {factor} x the encode's: the "
                                    f"forecast window's features join the present's): {err}") from None
    return _REFIT_PLANS[analysis, modality]


def refit_shard_files(analysis, model, modality, context=None):
    """The partial results a refit gather joins, one per shard of the analysis' plan."""
    folder = modality if context is None else f"{modality}_ctx{context}"
    return [f"{RESULTS}/shards/{analysis}/{model}/{folder}/{s}.pkl" for s in refit_plan(analysis, modality).ids]


def refit_shard_of(analysis, modality, shard):
    """A shard of a refitting analysis' plan, as a plain dict (the job's params)."""
    from dataclasses import asdict

    return asdict(refit_plan(analysis, modality).shard(shard))


def refit_runs(analysis, modality, shard):
    """The (subject, story) runs of a refit shard's subjects, in runs_of order."""
    subjects = set(refit_shard_of(analysis, modality, shard)["subjects"])
    return [run for run in runs_of(modality) if run[0] in subjects]


def refit_recordings(analysis, modality, shard):
    return [f"{RESULTS}/preproc/{modality}/sub-{s}/{t}.zarr" for s, t in refit_runs(analysis, modality, shard)]


def refit_words(analysis, modality, shard):
    """Per-subject word tables of a refit shard's runs; empty unless dataset.timings.per_subject."""
    if not PER_SUBJECT:
        return []
    return [f"{RESULTS}/words/{t}/sub-{s}.tsv" for s, t in refit_runs(analysis, modality, shard)]


# Unsharded encoder jobs (encode, forecast_scores, forecast_depth_scores, context_scores): mem_mb and runtime
# from the sizes the input check records (brainalign.encoding.sizing.job_resources), x attempt. Before the
# check has run (a dry run) the sizes are unknown and Snakemake shows <TBD>, as for any input-sized resource.
_JOB_RESOURCES = {}


def _job_resources(job, modality, input):
    if (job, modality) not in _JOB_RESOURCES:
        import errno

        from brainalign.encoding.sizing import job_resources
        from brainalign.errors import ConfigError, InputError

        try:
            table = checkpoints.check_inputs.get().output[0]
        except IncompleteCheckpointException:
            table = None
        if table is None or not Path(table).exists():
            raise FileNotFoundError(errno.ENOENT, "the input check has not recorded the runs' sizes yet",
                                    input.recordings[0])
        try:
            _JOB_RESOURCES[job, modality] = job_resources(job, table, modality, runs_of(modality),
                                                          {**config, "analyses": ANALYSES_CFG})
        except (ConfigError, InputError) as err:
            raise WorkflowError(str(err)) from None
    return _JOB_RESOURCES[job, modality]


def job_mem_mb(job):
    """The mem_mb of an unsharded encoder job (encode, forecast, forecast_depth, context), x attempt."""
    return lambda wildcards, input, attempt: _job_resources(job, wildcards.modality, input)["mem_mb"] * attempt


def job_runtime(job):
    """The runtime (minutes) of an unsharded encoder job, x attempt."""
    return lambda wildcards, input, attempt: _job_resources(job, wildcards.modality, input)["runtime"] * attempt


# Shard and gather run times (brainalign.encoding.sizing.shard_minutes / gather_minutes), x attempt: a
# shard's share of the single job's work (its subjects, target block and layer block); a gather's from the
# size of the shard files it reads (<TBD> in a dry run, like its mem_mb).
_JOB_WORK = {}


def shard_runtime(job):
    """runtime of a shard job of `job` (encode, forecast, forecast_depth, context), x attempt."""

    def runtime(wildcards, attempt):
        from brainalign.encoding.sizing import job_work, shard_minutes

        key = (job, wildcards.modality)
        if key not in _JOB_WORK:  # the table read once per job and modality, not once per shard
            table = checkpoints.check_inputs.get().output[0]
            _JOB_WORK[key] = job_work(job, table, wildcards.modality, runs_of(wildcards.modality),
                                      {**config, "analyses": ANALYSES_CFG})
        shard = shard_of(wildcards.modality, wildcards.shard) if job == "encode" else \
            refit_shard_of(job, wildcards.modality, wildcards.shard)
        return shard_minutes(_JOB_WORK[key], shard) * attempt

    return runtime


def gather_runtime(wildcards, input, attempt):
    """runtime of a gather from the size of the shard files it reads, x attempt."""
    from brainalign.encoding.sizing import gather_minutes

    return gather_minutes(_shard_bytes(input)) * attempt
