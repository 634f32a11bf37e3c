"""Turn the config's `encoding` section into encode_dataset arguments (one place for every script)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from brainalign.config_checks import check_layers
from brainalign.config_sections import defaults, require, with_defaults
from brainalign.errors import ConfigError

#: Values of ``encoding.subjects`` (alone, or per modality).
SUBJECT_FITS = ("auto", "joint", "separate")
#: Modalities whose subjects have their own targets by default (``auto``): intracranial patients
#: never share electrodes.
OWN_TARGETS = ("ieeg", "ecog", "seeg")
#: Modalities whose targets are positions on a shared grid: always fitted jointly.
SHARED_GRID = ("fmri",)
#: Keys of the ``encoding`` section that split the work into jobs; the jobs' params leave them out.
JOB_KEYS = ("max_job_memory_gb",)
#: Keys of the ``encoding`` section that choose the layers and the jobs, not the solver.
# statistics added to the scores after the encoders (brainalign.encoding.group), not solver settings
SCORE_STATS = ("group_test", "repeat_ceiling")
NOT_SOLVER = ("layers", "layer_stride", *JOB_KEYS, *SCORE_STATS)


def resolve_subject_fits(setting: str | Mapping[str, str] | None, modality: str) -> str:
    """``joint`` or ``separate``: whether a modality's subjects share one target axis.

    Parameters
    ----------
    setting
        ``config["encoding"]["subjects"]``: ``"auto"`` (default; ``separate`` for iEEG, whose
        patients each have their own electrodes, ``joint`` otherwise), ``"joint"``, ``"separate"``,
        or a mapping ``{modality: value}`` (modalities not listed are ``auto``).  fMRI voxels are
        positions on one grid: fMRI is always ``joint`` (a global ``separate`` applies to the
        channel modalities only; ``{fmri: separate}`` is an error).
    modality
        ``fmri``, ``meg``, ``eeg``, ``ieeg`` ...

    Raises
    ------
    ConfigError
        An unknown value, or ``separate`` asked for fMRI by name.
    """
    modality = modality.lower()
    by_modality = isinstance(setting, Mapping)
    value = (setting.get(modality, "auto") if by_modality else setting) or "auto"
    key = f"encoding.subjects.{modality}" if by_modality else "encoding.subjects"
    if value not in SUBJECT_FITS:
        raise ConfigError(key, f"{value!r} is not a choice", expected=f"one of {list(SUBJECT_FITS)}")
    if modality in SHARED_GRID:
        if value == "separate" and by_modality:
            raise ConfigError(key, "fMRI subjects cannot be fitted separately: voxels are positions on one grid shared "
                                   "by all subjects", expected="'joint' or 'auto'")
        return "joint"
    if value == "auto":
        return "separate" if modality in OWN_TARGETS else "joint"
    return value


def encoding_settings(section: Mapping[str, Any], seed: int) -> tuple[dict, list[int] | None, int]:
    """Split the validated `encoding` config section into solver settings and the layer selection.

    Parameters
    ----------
    section
        ``config["encoding"]``, complete (defaults filled by the workflow's validation, or by
        :func:`brainalign.config_sections.with_defaults`): ``alphas`` as a log10 grid
        ``{start, stop, num}``, ``layers``, ``layer_stride`` and the solver options.
    seed
        The workflow seed (``config["seed"]``: circular-shift nulls).

    Returns
    -------
    encoding, layers, stride
        The ``encoding`` dict for :func:`brainalign.encoding.encode_dataset` (alphas as a list),
        the explicit layer list (or None) and the layer stride.

    Raises
    ------
    ConfigError
        A key of the section missing (naming it) or unknown.
    """
    # max_job_memory_gb splits the work into jobs (encoding.shards), not a solver setting: the rules
    # keep it out of the jobs' params (common.smk's ENCODING), so that it changes no job
    encoding = {k: v for k, v in require(section, "encoding", absent=JOB_KEYS).items() if k not in JOB_KEYS}
    grid = encoding.pop("alphas")
    encoding["alphas"] = np.logspace(grid["start"], grid["stop"], grid["num"]).tolist()
    layers = encoding.pop("layers")
    stride = int(encoding.pop("layer_stride"))
    for key in SCORE_STATS:
        encoding.pop(key)
    encoding["seed"] = int(seed)
    return encoding, layers, stride


def solver_keys() -> list[str]:
    """The keys of a complete solver dict (:func:`encoding_settings`'s first value), from the schema."""
    return sorted([k for k in with_defaults("encoding") if k not in NOT_SOLVER] + ["seed"])


def solver_settings(seed: int | None = None, **overrides: Any) -> dict:
    """A complete solver dict for :func:`brainalign.encoding.encode_dataset` outside Snakemake.

    The schema's ``encoding`` defaults (and its top-level ``seed`` unless ``seed`` is given),
    as :func:`encoding_settings` turns the validated section into solver settings, with
    ``overrides`` (solver form: ``alphas`` a list of penalties) replacing keys.

    Raises
    ------
    ConfigError
        An override that is not a solver key.
    """
    solver, _, _ = encoding_settings(with_defaults("encoding"), defaults("seed") if seed is None else seed)
    unknown = sorted(set(overrides) - set(solver))
    if unknown:
        raise ConfigError(f"encoding.{unknown[0]}", "not a solver setting", expected=f"one of {sorted(solver)}")
    return {**solver, **overrides}


def design_settings(modality: str, **overrides: Any) -> dict:
    """A complete ``design.fmri`` (fMRI) or ``design.meeg`` (MEG/EEG/iEEG) section: the schema's
    defaults with ``overrides``; for :func:`brainalign.encoding.encode_dataset` outside Snakemake."""
    return with_defaults(design_section(modality), overrides)


def design_section(modality: str) -> str:
    """The config section holding ``modality``'s design settings."""
    return "design.fmri" if modality.lower() in SHARED_GRID else "design.meeg"


def select_layers(available: Sequence[int], layers: Sequence[int] | None, stride: int,
                  store: str | None = None) -> list[int] | None:
    """Layers to encode: the explicit list, else every ``stride``-th available layer plus the last.

    An explicit list naming a layer that ``available`` lacks (``store``: the features store it came
    from) is a :class:`brainalign.errors.ConfigError` naming ``encoding.layers`` and listing the
    layers present.
    """
    if layers is not None:
        return check_layers(layers, available, "encoding.layers", store)
    if stride <= 1:
        return None
    available = [int(v) for v in available]
    return sorted(set(available[::stride]) | {available[-1]})


def check_shared_grid(runs: Mapping[tuple[str, str], Sequence[str]], fmri: Mapping[str, Any]) -> None:
    """At plan time: fail when the planned fMRI runs certainly cannot share one voxel grid.

    The encoder stacks each subject's stories and fits the subjects jointly on one voxel axis, so
    every run must keep the same voxels.  Two settings make that impossible, known before any run
    is read: an ``'epi'`` mask (``preprocess.fmri.mask``, computed from each run, so every run keeps
    its own voxels) for more than one volume run without an atlas, and responses in each subject's
    own cortical voxel space (LeBel et al.'s ``.hf5``) for more than one subject.  Grids that differ
    for other reasons (resolutions) are found by the encode job before any fit.

    Parameters
    ----------
    runs
        ``{(subject, story): [recording path, ...]}`` of the fMRI runs (``common.smk``'s plan).
    fmri
        ``config["preprocess"]["fmri"]``.

    Raises
    ------
    ConfigError
        Naming the key, the runs and what would share a grid.
    """
    if len(runs) < 2:
        return
    paths = {run: str(files[0]) if files else "" for run, files in runs.items()}
    hf5 = sorted({subject for (subject, _), path in paths.items() if path.endswith(".hf5")})
    if len(hf5) >= 2:
        raise ConfigError("dataset.profile.responses",
                          f"the .hf5 responses of subjects {hf5} are each in the subject's own cortical voxel space, "
                          "but fMRI subjects are fitted jointly on one voxel grid",
                          expected="one subject per run with hf5 responses (dataset.subjects), or BOLD images on a "
                                   "shared grid (responses: bold with an MNI-space mask or atlas)")
    volume = [run for run, path in paths.items() if not path.endswith((".func.gii", ".hf5"))]
    if len(volume) >= 2 and not fmri.get("atlas") and str(fmri.get("mask")) == "epi":
        listing = ", ".join(f"sub-{s}/{t}" for s, t in sorted(volume)[:4]) + (" ..." if len(volume) > 4 else "")
        raise ConfigError("preprocess.fmri.mask",
                          f"'epi' computes a mask from each run, so the {len(volume)} runs ({listing}) would keep "
                          "different voxels; the encoder stacks a subject's stories and fits subjects jointly on "
                          "one voxel grid",
                          expected="'mni152' or a mask image shared by every run (data in one space), or "
                                   "preprocess.fmri.atlas (parcels)",
                          hint="native-space runs of several sessions need registration to a common space first "
                               "(an intersection of the runs' EPI masks would still pair different tissue); with "
                               "LeBel et al. 2023 use dataset.profile.responses: hf5 (the authors' responses, aligned "
                               "across sessions, one voxel set per subject)")
