"""iEEG preprocessing: re-reference, high-gamma envelope, electrode coordinates carried along.

High gamma follows the field's filter-bank recipe (e.g. the naplib / Mesgarani-lab and Mischler et
al. pipelines): the signal is band-passed in ``n_bands`` log-spaced sub-bands spanning
``band`` (70–150 Hz by default), each sub-band's analytic amplitude (Hilbert) is divided by its
own mean (so the 1/f spectrum does not let the lowest sub-band dominate), the sub-bands are
averaged, and the envelope is low-passed and resampled (≤ 50 Hz by default), then z-scored.

Re-referencing: ``"bipolar"`` pairs consecutive contacts of one shaft/grid (names ``<prefix><n>``,
e.g. ``LA1``–``LA2``) into ``LA1-LA2``, placed at the contacts' midpoint; ``"average"`` is a
common average over good channels of each type; ``"group_average"`` is a common average within
each electrode group (grid, strip, depth shaft: :func:`contact_groups`), so that depth contacts,
which see a different field, are not averaged with surface contacts; ``None`` keeps the recorded
reference.

Artefacts (:func:`detect_artifacts`, ``artifacts=True``): before any reference mixes contacts, a
large transient on a few contacts is found on each contact's own high-gamma amplitude, its samples
are bridged by linear interpolation on those contacts (so that neither the reference nor the filters
spread it) and annotated ``BAD_artifact`` (NaN in the output, like every ``BAD`` segment); a contact
flagged over more than ``artifact_max_fraction`` of the run is marked bad instead.

Memory: only the picked channels are read, the references are computed without copying the
recording, and the filter bank, Hilbert transform, low-pass and resampling run on blocks of
channels (:data:`BLOCK_SAMPLES`), so a job peaks at about twice the recording (float64, bipolar:
the recording and its bipolar montage) plus a fixed block, not ten times it
(:mod:`brainalign.preprocess.resources` sizes the job's ``mem_mb`` from this).
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import mne
import numpy as np
import xarray as xr
from scipy.signal import hilbert

from brainalign.errors import ConfigError, InputError
from brainalign.preprocess.common import zscore_time
from brainalign.preprocess.meeg import (apply_nonfinite, line_noise_freqs, load_data, pick_names, read_raw_positions,
                                       to_dataarray)
from brainalign.preprocess.nonfinite import DEFAULT_MAX_FRACTION, index_spans, mark_bad_samples
from brainalign.progress import progress

log = logging.getLogger(__name__)

# Channels go through the filter bank, Hilbert transform, low-pass and resampling in blocks of about
# this many samples (channels x time; at least one channel). About ten float64 arrays of a block's size
# live at once (the band-passed copy, the analytic signal's FFT buffers, the amplitude, the running
# sum), so a block costs ~10 x 8 x BLOCK_SAMPLES bytes (~170 MB) whatever the recording's length.
# Every step is channel-wise, so the blocks give the same numbers as the whole recording at once.
BLOCK_SAMPLES = 2**21

_CONTACT = re.compile(r"^(.*?)(\d+)$")


def _rows(idx: Sequence[int]) -> slice | list[int]:
    """Rows ``idx`` of an array as a slice (a view, no copy) when they are consecutive, else the list."""
    idx = [int(i) for i in idx]
    return slice(idx[0], idx[-1] + 1) if idx and idx == list(range(idx[0], idx[-1] + 1)) else idx


def bipolar_pairs(ch_names: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs ``(anode, cathode)`` of consecutive contacts on the same shaft/grid.

    Contacts are named ``<prefix><number>``; ``LA1, LA2, LA3`` give ``(LA1, LA2), (LA2, LA3)``.
    Gaps in the numbering (a dropped bad contact) break the chain rather than pairing distant
    contacts.  Names without a trailing number are left out.
    """
    shafts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name in ch_names:
        m = _CONTACT.match(name)
        if m:
            shafts[m.group(1)].append((int(m.group(2)), name))
    pairs = []
    for prefix in shafts:  # keeps the recording's shaft order
        contacts = sorted(shafts[prefix])
        for (n1, a), (n2, b) in zip(contacts, contacts[1:]):
            if n2 == n1 + 1:
                pairs.append((a, b))
    return pairs


def bipolar_reference(raw: mne.io.BaseRaw, source: str = "") -> mne.io.BaseRaw:
    """Bipolar montage of consecutive contacts; each new channel sits at its pair's midpoint."""
    pairs = bipolar_pairs(raw.ch_names)
    if not pairs:
        raise ValueError(f"{source}: no bipolar pair found (contacts must be named <shaft><number>)")
    data = raw._data  # the loaded samples themselves: get_data() would copy the whole recording
    idx = {c: i for i, c in enumerate(raw.ch_names)}
    new = np.empty((len(pairs), data.shape[1]), dtype=data.dtype)
    for k, (a, b) in enumerate(pairs):
        np.subtract(data[idx[a]], data[idx[b]], out=new[k])
    chs = []
    for a, b in pairs:
        ch = dict(raw.info["chs"][idx[a]])
        loc = ch["loc"].copy()
        pa, pb = raw.info["chs"][idx[a]]["loc"][:3], raw.info["chs"][idx[b]]["loc"][:3]
        loc[:3] = (pa + pb) / 2.0
        chs.append((f"{a}-{b}", ch["kind"], loc, ch["coord_frame"]))
    types = raw.get_channel_types()
    info = mne.create_info([c[0] for c in chs], raw.info["sfreq"], [types[idx[a]] for a, _ in pairs], verbose="error")
    with info._unlock():
        for ch, (_, _, loc, frame) in zip(info["chs"], chs):
            ch["loc"][:] = loc
            ch["coord_frame"] = frame
        info["line_freq"] = raw.info["line_freq"]
    info.set_meas_date(raw.info["meas_date"])  # else the recording's dated annotations cannot be set on it
    out = mne.io.RawArray(new, info, first_samp=raw.first_samp, verbose="error")
    out.set_annotations(raw.annotations)
    return out


# ------------------------------------------------------------------------- electrode groups
def contact_prefix(name: str) -> str:
    """The electrode (grid, strip, shaft) a contact belongs to by name: the part before the
    trailing number (``G12`` -> ``G``, ``DPI3`` -> ``DPI``, ``LGA10`` -> ``LGA``); a name without
    a trailing number is its own group."""
    m = _CONTACT.match(name.strip())
    return (m.group(1).strip() or name) if m else name.strip()


def _bids_path_of(raw_or_bids_path):
    """The ``BIDSPath`` of a recording given as a BIDSPath or a BIDS-named file inside a BIDS root;
    None for a Raw or a file outside BIDS (no sidecar tables to read groups from)."""
    import mne_bids

    if isinstance(raw_or_bids_path, mne_bids.BIDSPath):
        return raw_or_bids_path
    if isinstance(raw_or_bids_path, (str, os.PathLike)):
        path = Path(raw_or_bids_path)
        root = next((p for p in path.parents if (p / "dataset_description.json").exists()), None)
        if root is not None and path.name.startswith("sub-"):
            try:
                return mne_bids.get_bids_path_from_fname(path).update(root=root)
            except Exception:  # not a valid BIDS name: no sidecars to read
                return None
    return None


def _group_tables(bids_path, electrodes: str | os.PathLike | None = None) -> list[Path]:
    """The tables that may carry a ``group`` column: ``channels.tsv`` first, then ``electrodes``
    (the table chosen for the positions, which the preprocessing job lists as its input) or, when
    None, every ``electrodes.tsv`` of the subject (and session) in the recording's folder, whatever
    its space (a contact's group does not depend on the coordinate space)."""
    from brainalign.io.bids import meeg_sidecars

    tables: list[Path] = []
    try:
        channels = meeg_sidecars(bids_path)["channels"]
    except Exception:  # an ambiguous sidecar search: read_raw already reported what matters
        channels = None
    if channels:
        tables.append(Path(channels))
    if electrodes is not None:  # "" (no positions read): channels.tsv only
        return tables + ([Path(electrodes)] if str(electrodes) else [])
    stem = f"sub-{bids_path.subject}" + (f"_ses-{bids_path.session}" if bids_path.session else "")
    tables += sorted(Path(bids_path.directory).glob(f"{stem}_*electrodes.tsv"))
    return tables


def contact_groups(names: Sequence[str], raw_or_bids_path=None, source: str | Mapping = "auto",
                   electrodes: str | os.PathLike | None = None) -> tuple[dict[str, str], str]:
    """The electrode group of each contact, for the group-wise common average.

    Parameters
    ----------
    names
        The contacts.
    raw_or_bids_path
        The recording (its ``channels.tsv`` / ``electrodes.tsv`` are read for a ``BIDSPath`` or a
        BIDS-named file).
    source
        ``"auto"``: the ``group`` column of ``channels.tsv``, else of ``electrodes.tsv``, where the
        contact has one, else its name prefix (:func:`contact_prefix`); ``"column"``: the ``group``
        column, required for every contact; ``"names"``: name prefixes only; or a mapping
        ``{group: [contacts]}`` / ``{contact: group}`` (contacts not listed: name prefix).
    electrodes
        The one ``electrodes.tsv`` to read besides ``channels.tsv`` (the table chosen for the
        positions, so the job reads no file it does not list; ``""``: none); None reads every
        space's table.

    Returns
    -------
    (groups, how)
        Contact -> group, and where the groups came from (file names, ``"names"``, ``"mapping"``).

    Raises
    ------
    InputError
        ``source="column"`` and a contact without a group (naming the tables and contacts), or two
        ``electrodes.tsv`` giving one contact different groups.
    """
    from brainalign.io.tsv import read_bids_tsv
    from brainalign.preprocess.common import read_region_table

    names = list(names)
    if isinstance(source, Mapping):
        table = read_region_table(source)
        return {c: table.get(c, contact_prefix(c)) for c in names}, "mapping"
    if source not in ("auto", "column", "names"):
        raise ConfigError("preprocess.ieeg.reference_groups", f"{source!r} is not supported",
                          expected="'auto', 'column', 'names' or a mapping {group: [contacts]}")
    found: dict[str, str] = {}
    origin: dict[str, str] = {}
    used: list[str] = []
    bids_path = _bids_path_of(raw_or_bids_path) if source != "names" else None
    for table_path in _group_tables(bids_path, electrodes) if bids_path is not None else []:
        table = read_bids_tsv(table_path, what=table_path.name.rsplit("_", 1)[-1])
        if "group" not in table.columns or "name" not in table.columns:
            continue
        hits = 0
        for name, group in zip(table["name"].astype(str), table["group"]):
            if group is None or str(group).strip() == "":
                continue
            group = str(group).strip()
            if name in found and found[name] != group and origin[name].endswith("electrodes.tsv") \
                    and table_path.name.endswith("electrodes.tsv"):
                raise InputError(table_path, f"contact {name} is in group {group!r} here but {found[name]!r} in "
                                 f"{origin[name]}", field="group", expected="one group per contact in every space")
            if name not in found:
                found[name], origin[name] = group, table_path.name
                hits += 1
        if hits:
            used.append(table_path.name)
    missing = [c for c in names if c not in found]
    if source == "column" and missing:
        where = ", ".join(used) or (", ".join(p.name for p in _group_tables(bids_path, electrodes)) if bids_path else "")
        raise InputError(where or "the recording", f"{len(missing)} contact(s) have no group: {missing[:10]}",
                         field="group", expected="a 'group' column in channels.tsv or electrodes.tsv naming "
                         "each contact's grid/strip/shaft",
                         hint="or set preprocess.ieeg.reference_groups: auto (name prefixes where missing) or names")
    groups = {c: found.get(c) or contact_prefix(c) for c in names}
    if source != "names" and missing and len(missing) < len(names):
        log.info("%d contact(s) without a group column entry grouped by name prefix: %s", len(missing), missing[:10])
    how = "names" if not used or len(missing) == len(names) else "+".join(used) + ("+names" if missing else "")
    return groups, how


def group_average_reference(raw: mne.io.BaseRaw, groups: Mapping[str, str], *, exclude: Sequence[str] = (),
                            single: str = "drop", source: str = "") -> dict:
    """Common average within each electrode group, in place.

    Each contact has the mean of its group's good contacts (those not in ``exclude``: bad
    channels kept with ``bad_channels="keep"``, contacts marked bad by the artefact check)
    subtracted.  A group with fewer than two good contacts has nothing to average against: its
    contacts are dropped (``single="drop"``) or left as recorded (``"keep"``); both are logged.

    Returns
    -------
    dict
        ``{"groups": {group: number of contacts averaged}, "unreferenced": [...], "dropped": [...]}``.
    """
    if single not in ("drop", "keep"):
        raise ConfigError("preprocess.ieeg.reference_single", f"{single!r} is not supported",
                          expected="'drop' or 'keep'")
    members: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(raw.ch_names):
        members[groups.get(c, contact_prefix(c))].append(i)
    excluded = set(exclude)
    sizes: dict[str, int] = {}
    alone: list[str] = []
    data = raw._data
    for group, idx in members.items():
        good = [i for i in idx if raw.ch_names[i] not in excluded]
        if len(good) < 2:
            alone += [raw.ch_names[i] for i in idx]
            continue
        # row by row: an index array would copy the group (often most of the recording) twice
        mean = data[_rows(good)].mean(axis=0)
        for i in idx:
            data[i] -= mean
        sizes[group] = len(good)
    record = {"groups": sizes, "unreferenced": [], "dropped": []}
    if alone:
        if single == "drop":
            raw.drop_channels(alone)
            record["dropped"] = alone
        else:
            record["unreferenced"] = alone
        log.warning("%s: %d contact(s) in groups with fewer than two good contacts %s (%s)", source, len(alone),
                    "dropped" if single == "drop" else "left unreferenced", alone[:20])
    log.info("%s: group-wise common average over %d group(s): %s", source, len(sizes),
             ", ".join(f"{g} ({n})" for g, n in sizes.items()))
    return record


# ------------------------------------------------------------------------------- artefacts
def artifact_scores(data: np.ndarray, sfreq: float, band: tuple[float, float] = (70.0, 150.0),
                    smooth: float = 0.05, chunk: int = 16) -> np.ndarray:
    """Robust z of each contact's log high-gamma amplitude, ``channel x time`` (float32).

    The amplitude is the Hilbert envelope of the ``band`` band-pass (one band: a cheaper relative of
    the filter bank), smoothed over ``smooth`` seconds; z = (log a - median) / (1.4826 MAD) per
    contact.  The log makes the score robust to physiology: speech can raise a responsive contact's
    high-gamma several-fold for seconds (a linear z flags that), whereas a transient that a common
    average spreads to every contact is orders of magnitude above the contact's baseline.
    Channels are processed ``chunk`` at a time to bound memory.  The first and last half filter
    length (plus the smoothing) score 0: there the band-pass's own edge response (line noise or a
    drift cut off by the end of the recording) would look like a transient.
    """
    from scipy.fft import next_fast_len
    from scipy.ndimage import uniform_filter1d

    lo, hi = band
    n = data.shape[-1]
    out = np.empty(data.shape, dtype=np.float32)
    width = max(1, int(round(smooth * sfreq)))
    edge = min(n // 2, len(mne.filter.create_filter(None, sfreq, lo, hi, verbose="error")) // 2 + width)
    for start in range(0, data.shape[0], chunk):
        sub = mne.filter.filter_data(data[start:start + chunk].astype(np.float64), sfreq, lo, hi, verbose="error")
        amp = np.abs(hilbert(sub, N=next_fast_len(n), axis=-1)[:, :n])
        del sub
        amp = uniform_filter1d(amp, width, axis=-1)
        amp = np.log(np.maximum(amp, np.finfo(float).tiny))
        med = np.median(amp, axis=-1, keepdims=True)
        mad = 1.4826 * np.median(np.abs(amp - med), axis=-1, keepdims=True)
        out[start:start + chunk] = (amp - med) / np.where(mad > 0, mad, np.inf)
    out[:, :edge] = 0.0
    out[:, n - edge:] = 0.0
    return out


def _padded_spans(flags: np.ndarray, pad: int) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` of True in ``flags``, each widened by ``pad`` samples, merged."""
    out: list[tuple[int, int]] = []
    for a, b in index_spans(np.flatnonzero(flags)):
        a, b = max(0, a - pad), min(flags.size, b + 1 + pad)
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def detect_artifacts(raw: mne.io.BaseRaw, *, threshold: float = 8.0, amplitude: float | None = None,
                     pad: float = 0.5, max_fraction: float = 0.05, band: tuple[float, float] = (70.0, 150.0),
                     exclude: Sequence[str] = (), out_sfreq: float | None = None, source: str = "") -> dict:
    """Find, bridge and annotate transient artefacts on single contacts, in place, before referencing.

    A sample of a contact is flagged when the robust z of its log high-gamma amplitude
    (:func:`artifact_scores`) exceeds ``threshold``, or, with ``amplitude`` (V), when the signal
    departs from its median by more than ``amplitude``; each flagged run is widened by ``pad``
    seconds.  A contact flagged over more than ``max_fraction`` of the run is returned as bad
    (the caller drops it or leaves it out of the average).  On the other contacts each flagged span is
    replaced by a straight line between its edges (so that neither the reference nor the filters spread
    the transient) and the union of the spans is annotated ``BAD_artifact``, widened by one output
    sample (``1 / out_sfreq``) like ``BAD_nonfinite``, so that those samples are NaN in the output.

    Returns
    -------
    dict
        ``bad_channels`` (contacts marked bad), ``contacts`` (contact -> number of flagged spans),
        ``segments`` (``[start, end]`` seconds of each annotation, from the first sample),
        ``seconds`` (their total length).
    """
    sfreq = float(raw.info["sfreq"])
    skip = set(exclude)
    idx = [i for i, c in enumerate(raw.ch_names) if c not in skip]
    n = raw.n_times
    pad_n = int(round(pad * sfreq))
    data = raw._data
    bad_channels: list[str] = []
    counts: dict[str, int] = {}
    union = np.zeros(n, dtype=bool)
    # contacts scored at a time (a block of BLOCK_SAMPLES samples): the scores of a whole recording would
    # double its memory, and eight contacts of a 30-minute 2048 Hz run already hold ~2 GB of buffers
    chunk = max(1, BLOCK_SAMPLES // max(n, 1))
    for row, i in enumerate(idx):
        if row % chunk == 0:
            scores = artifact_scores(data[idx[row:row + chunk]], sfreq, band, chunk=chunk)
        flags = scores[row % chunk] > threshold
        if amplitude is not None:
            flags |= np.abs(data[i] - np.median(data[i])) > amplitude
        spans = _padded_spans(flags, pad_n)
        if not spans:
            continue
        name = raw.ch_names[i]
        if sum(b - a for a, b in spans) > max_fraction * n:
            bad_channels.append(name)
            continue
        counts[name] = len(spans)
        for a, b in spans:
            left = data[i, a - 1] if a > 0 else data[i, b] if b < n else 0.0
            right = data[i, b] if b < n else left
            data[i, a:b] = np.linspace(left, right, b - a + 2)[1:-1]
            union[a:b] = True
    segments = [[a / sfreq, (b + 1) / sfreq] for a, b in index_spans(np.flatnonzero(union))]
    if segments:
        mark_bad_samples(raw, union, description="BAD_artifact", pad=1.0 / out_sfreq if out_sfreq else 0.0)
    seconds = float(union.sum() / sfreq)
    if bad_channels:
        log.warning("%s: %d contact(s) flagged as artefactual over more than %.3g of the run, marked bad: %s",
                    source, len(bad_channels), max_fraction, bad_channels[:20])
    if segments:
        log.warning("%s: %d artefact segment(s) (%.2f s in all) on %d contact(s) %s annotated BAD_artifact "
                    "before referencing; first at %s s", source, len(segments), seconds, len(counts),
                    sorted(counts)[:10], ", ".join(f"{a:.2f}-{b:.2f}" for a, b in segments[:5]))
    else:
        log.info("%s: no artefact above robust z %g", source, threshold)
    return {"bad_channels": bad_channels, "contacts": counts, "segments": segments, "seconds": seconds}


def high_gamma_envelope(data: np.ndarray, sfreq: float, band: tuple[float, float] = (70.0, 150.0),
                        n_bands: int = 8, n_jobs: int = 1) -> np.ndarray:
    """Mean normalised Hilbert amplitude over log-spaced sub-bands of ``band``.

    Parameters
    ----------
    data
        ``channel x time`` signal.
    sfreq
        Sampling rate (Hz); ``band[1]`` must lie below Nyquist.

    Returns
    -------
    numpy.ndarray
        ``channel x time`` envelope (each sub-band's amplitude divided by its mean, then averaged).
    """
    lo, hi = band
    if hi >= sfreq / 2:
        raise ValueError(f"high-gamma band {band} Hz reaches the Nyquist frequency ({sfreq / 2:g} Hz)")
    edges = np.geomspace(lo, hi, n_bands + 1)
    env = np.zeros_like(data, dtype=np.float64)
    for f0, f1 in zip(edges[:-1], edges[1:]):
        sub = mne.filter.filter_data(data, sfreq, f0, f1, n_jobs=n_jobs, verbose="error")
        amp = np.abs(hilbert(sub, axis=-1))
        env += amp / np.maximum(amp.mean(axis=-1, keepdims=True), np.finfo(float).tiny)
    return env / n_bands


def envelope_raw(raw: mne.io.BaseRaw, band: tuple[float, float], n_bands: int, resample: float | None,
                 n_jobs: int = 1, block_samples: int | None = None) -> mne.io.RawArray:
    """High-gamma envelope of every channel of a loaded Raw, low-passed and resampled, block by block.

    Same result as :func:`high_gamma_envelope` on all channels followed by ``filter(None, 0.4 *
    resample)`` and polyphase ``resample`` of the whole envelope (each step is channel-wise), but
    only one block of channels (about ``block_samples`` samples, default :data:`BLOCK_SAMPLES`) is
    ever held at the recording's rate.

    Returns
    -------
    mne.io.RawArray
        The envelope (channels of ``raw``, at ``resample`` Hz or the recording's rate) with the
        recording's annotations.
    """
    n_channels, n_times = len(raw.ch_names), raw.n_times
    step = max(1, int(block_samples or BLOCK_SAMPLES) // max(n_times, 1))
    parts, block = [], None
    for start in progress(range(0, n_channels, step), desc="high-gamma envelope", unit="block",
                          enabled=n_channels > step):
        picks = list(range(start, min(start + step, n_channels)))
        env = high_gamma_envelope(raw._data[start:picks[-1] + 1], raw.info["sfreq"], band, n_bands, n_jobs)
        block = mne.io.RawArray(env, mne.pick_info(raw.info, picks), first_samp=raw.first_samp, verbose="error")
        # before filtering: raw.filter skips across 'edge'/'bad_acq_skip' annotations
        block.set_annotations(raw.annotations)
        if resample is not None:
            block.filter(None, 0.4 * resample, picks="all", verbose="error")
            block.resample(resample, method="polyphase", verbose="error")
        parts.append(block._data)
    info = raw.info.copy()
    with info._unlock():  # what the filter and resampling changed in the blocks' info
        for key in ("sfreq", "lowpass", "highpass"):
            info[key] = block.info[key]
    out = mne.io.RawArray(np.concatenate(parts) if len(parts) > 1 else parts[0], info, first_samp=block.first_samp,
                          verbose="error")
    annotations = block.annotations.copy()
    if annotations.orig_time is None:  # relative onsets: set_annotations adds the first sample's time again
        annotations.onset -= out.first_time
    out.set_annotations(annotations)
    return out


# ------------------------------------------------------------------------ phases of preprocess_ieeg
def _check_options(reference: str | None, bad_channels: str, bad_segments: str, artifacts: bool,
                   electrodes_space: object) -> None:
    """Options of :func:`preprocess_ieeg` checked before reading anything."""
    if reference not in ("bipolar", "average", "group_average", None):
        raise ValueError(f"reference={reference!r}: expected 'bipolar', 'average', 'group_average' or None")
    if artifacts and bad_segments != "nan":
        raise ConfigError("preprocess.ieeg.artifacts", f"artefacts are annotated BAD, which bad_segments="
                          f"{bad_segments!r} would keep", expected="bad_segments: nan with artifacts: true",
                          hint="or set artifacts: false")
    if bad_channels not in ("drop", "keep"):
        raise ConfigError("preprocess.ieeg.bad_channels", f"{bad_channels!r} is not supported for iEEG",
                          expected="'drop' or 'keep'")
    if bad_segments not in ("nan", "keep"):
        raise ConfigError("preprocess.ieeg.bad_segments", f"{bad_segments!r} is not supported",
                          expected="'nan' or 'keep'")
    if electrodes_space is not None and not isinstance(electrodes_space, str):
        raise ConfigError("preprocess.ieeg.electrodes_space", f"{electrodes_space!r}",
                          expected="auto, none or a BIDS space label (e.g. MNI152NLin2009aSym, Other)")


def _pick_contacts(raw: mne.io.BaseRaw, picks: Sequence[str] | str | None, bad_channels: str,
                   positions: dict | None, source: str) -> tuple[list[str], list[str], list[str]]:
    """Keep and load the picked contacts (less the bad ones with ``bad_channels="drop"``).

    Returns the recording's bad channels, the contacts kept and those to leave out of every average
    and of the artefact check (bad channels kept in the output).
    """
    bads = list(raw.info["bads"])
    names = pick_names(raw, picks)
    if bad_channels == "drop":
        names = [c for c in names if c not in bads]
    if not names:
        raise ValueError(f"{source}: no iEEG channel left (picks={picks!r}, bads={bads})")
    raw.pick(names)
    load_data(raw, source)
    # bad channels kept in the output stay out of every average (and out of the artefact check)
    excluded = [c for c in names if c in bads]
    if positions and positions.get("electrodes_file"):
        _check_positions(raw, positions)
    if bad_channels != "drop":
        raw.info["bads"] = []
    return bads, names, excluded


def _remove_artifacts(raw: mne.io.BaseRaw, excluded: list[str], bad_channels: str, *, band: Sequence[float],
                      out_sfreq: float | None, source: str, threshold: float, amplitude: float | None, pad: float,
                      max_fraction: float) -> dict:
    """Bridge and annotate transient artefacts (:func:`detect_artifacts`); returns the artefact record.

    Contacts flagged too often are dropped (``bad_channels="drop"``) and, either way, added to ``excluded``.
    """
    found = detect_artifacts(raw, threshold=threshold, amplitude=amplitude, pad=pad, max_fraction=max_fraction,
                             band=tuple(band), exclude=excluded, out_sfreq=out_sfreq, source=source)
    if found["bad_channels"]:
        if bad_channels == "drop":
            raw.drop_channels(found["bad_channels"])
        excluded += found["bad_channels"]
    if not raw.ch_names:
        raise ValueError(f"{source}: every contact was flagged as artefactual (artifact_threshold={threshold})")
    return {"artifact_segments": found["segments"], "artifact_seconds": found["seconds"],
            "artifact_contacts": json.dumps(found["contacts"]), "artifact_bad_channels": found["bad_channels"]}


def common_average_reference(raw: mne.io.BaseRaw, exclude: Sequence[str] = ()) -> None:
    """Subtract from each channel, in place, the mean of the good channels of its type.

    Channels in ``exclude`` are re-referenced but stay out of the mean; a type without good
    channels is left as recorded.
    """
    data = raw._data  # in place, row by row: a boolean index would copy the rows it selects
    types = np.array(raw.get_channel_types())
    good = ~np.isin(raw.ch_names, list(exclude))
    for t in set(types):
        rows, ref = types == t, good & (types == t)
        if not ref.any():
            continue
        mean = data[_rows(list(np.flatnonzero(ref)))].mean(axis=0)
        for i in np.flatnonzero(rows):
            data[i] -= mean


def _rereference(raw: mne.io.BaseRaw, reference: str | None, excluded: Sequence[str], raw_or_bids_path,
                 reference_groups: str | Mapping, reference_single: str, positions: dict | None, source: str,
                 extra: dict) -> mne.io.BaseRaw:
    """Apply the ``reference`` of :func:`preprocess_ieeg`; the group-wise reference's record goes to ``extra``."""
    if reference == "bipolar":
        raw = bipolar_reference(raw, source)
    elif reference == "average":
        common_average_reference(raw, excluded)
    elif reference == "group_average":
        groups, how = contact_groups(raw.ch_names, raw_or_bids_path, reference_groups,
                                     electrodes=(positions or {}).get("electrodes_file") or "")
        record = group_average_reference(raw, groups, exclude=excluded, single=reference_single, source=source)
        if not raw.ch_names:
            raise ValueError(f"{source}: no contact left after the group-wise reference (every group has fewer "
                             "than two good contacts); set reference_single: keep or another reference")
        extra.update(reference_groups=json.dumps(record["groups"]), reference_groups_source=how,
                     reference_unreferenced=record["unreferenced"], reference_dropped=record["dropped"])
    return raw


def _high_gamma(raw: mne.io.BaseRaw, notch, band: Sequence[float], n_bands: int, resample: float | None,
                n_jobs: int) -> tuple[mne.io.RawArray, list[float]]:
    """Notch the line-noise harmonics near ``band``, then the high-gamma envelope; returns it and the notches."""
    freqs = [f for f in line_noise_freqs(raw, notch, None) if band[0] - 5 <= f <= band[1] + 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if freqs:
            raw.notch_filter(freqs, picks="all", n_jobs=n_jobs, verbose="error")
        env_raw = envelope_raw(raw, tuple(band), n_bands, resample, n_jobs)
    return env_raw, freqs


def preprocess_ieeg(
    raw_or_bids_path,
    *,
    reference: str | None = "bipolar", reference_groups: str | Mapping = "auto", reference_single: str = "drop",
    band: Sequence[float] = (70.0, 150.0), n_bands: int = 8,
    notch: str | float | Sequence[float] | None = "auto",
    resample: float | None = 50.0,
    picks: Sequence[str] | str | None = ("ecog", "seeg", "dbs"),
    bad_channels: str = "drop", bad_segments: str = "nan",
    standardize: bool = True, channel_groups=None, n_jobs: int = 1,
    nonfinite: str = "error", nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
    artifacts: bool = True, artifact_threshold: float = 8.0, artifact_amplitude: float | None = None,
    artifact_pad: float = 0.5, artifact_max_fraction: float = 0.05,
    electrodes_space: str | None = "auto",
) -> xr.DataArray:
    """Preprocess one iEEG run into a z-scored high-gamma ``time x channel`` DataArray.

    Parameters
    ----------
    raw_or_bids_path
        ``BIDSPath``, a path, or a Raw (see :func:`brainalign.preprocess.meeg.read_raw`).
    reference
        ``"bipolar"`` (default), ``"average"`` (common average per channel type),
        ``"group_average"`` (common average within each electrode group, see
        :func:`group_average_reference`) or ``None``.  Averages leave out bad channels (kept with
        ``bad_channels="keep"``) and contacts the artefact check marks bad.
    reference_groups
        Where ``group_average`` takes the groups from (:func:`contact_groups`): ``"auto"``
        (``group`` column of ``channels.tsv``/``electrodes.tsv``, else the name prefix ``G12`` ->
        ``G``), ``"column"`` (the column, required), ``"names"`` (prefixes), or a mapping
        ``{group: [contacts]}``.
    reference_single
        Contacts of a group with fewer than two good contacts: ``"drop"`` (default) or ``"keep"``
        (left as recorded).
    band, n_bands
        High-gamma range (Hz) and number of log-spaced sub-bands of the filter bank.
    notch
        ``"auto"`` (line frequency and harmonics inside ``band``), frequencies, or ``None``.
    resample
        Output rate of the envelope (Hz); it is low-passed at 0.4 × this rate first.
    picks, bad_segments, standardize, channel_groups, n_jobs, nonfinite, nonfinite_max_fraction
        As in :func:`brainalign.preprocess.meeg.preprocess_meeg` (non-finite samples are checked on
        the raw contacts, before re-referencing spreads them).
    bad_channels
        ``"drop"`` (default) or ``"keep"`` the channels marked bad (no interpolation for iEEG:
        contacts have no spherical-spline neighbours).
    artifacts, artifact_threshold, artifact_amplitude, artifact_pad, artifact_max_fraction
        Transient artefacts found on each contact before referencing (:func:`detect_artifacts`):
        robust z of the log high-gamma amplitude above ``artifact_threshold`` (or the signal beyond
        ``artifact_amplitude`` V from its median), widened by ``artifact_pad`` s, bridged on the
        contact and annotated ``BAD_artifact`` (NaN in the output with ``bad_segments="nan"``); a
        contact flagged over more than ``artifact_max_fraction`` of the run is marked bad instead.
    electrodes_space
        Which electrodes.tsv gives the positions of a BIDS recording (datasets often ship one per
        space): ``"auto"`` (default) the MNI-space table (``space-MNI*``) when there is one, else
        the only one; a BIDS space label (``"MNI152NLin2009aSym"``, ``"Other"`` ...) that table;
        ``"none"`` (or None) no positions.  A Raw keeps its own positions.

    Returns
    -------
    xarray.DataArray
        ``data`` (float32, ``time x channel``) with ``ch_type``, ``pos_x/y/z`` (mm, in the space of
        the chosen electrodes.tsv: MNI coordinates for an MNI table; NaN where a channel has none;
        a bipolar channel at its contacts' midpoint), optional ``region``; attrs ``sfreq``,
        ``montage``, ``coord_frame`` (MNE's name: ``mni_tal`` for MNI, ``unknown`` for a native
        ``Other`` space), ``electrodes_space``, ``coordinate_system``, ``electrodes_file``,
        ``coordsystem_file``, ``position_units`` (of the file), ``reference``, ``band``, the
        non-finite record (``nonfinite`` ...), the reference record (``reference_groups``: JSON
        ``{group: contacts averaged}``, ``reference_groups_source``, ``reference_unreferenced``,
        ``reference_dropped``) and the artefact record (``artifact_segments``: ``[start, end]`` s,
        ``artifact_seconds``, ``artifact_contacts``: JSON ``{contact: segments}``, ``artifact_bad_channels``).

    Raises
    ------
    MissingInputError, InputError
        No electrodes.tsv (``auto``) or none in the requested space, several that ``auto`` cannot
        choose between (naming the files and their spaces), or a chosen table that gives none of the
        channels kept a position.
    """
    _check_options(reference, bad_channels, bad_segments, artifacts, electrodes_space)
    # read the picked channels only (picking a loaded recording would copy it)
    raw, source, positions = read_raw_positions(raw_or_bids_path, electrodes_space or "none", preload=False)
    bads, names, excluded = _pick_contacts(raw, picks, bad_channels, positions, source)
    nf_attrs = apply_nonfinite(raw, names, policy=nonfinite, max_fraction=nonfinite_max_fraction,
                               bad_segments=bad_segments, source=source, modality="ieeg", out_sfreq=resample)
    extra = _remove_artifacts(raw, excluded, bad_channels, band=band, out_sfreq=resample, source=source,
                              threshold=artifact_threshold, amplitude=artifact_amplitude, pad=artifact_pad,
                              max_fraction=artifact_max_fraction) if artifacts else {}
    raw = _rereference(raw, reference, excluded, raw_or_bids_path, reference_groups, reference_single,
                       positions, source, extra)
    env_raw, freqs = _high_gamma(raw, notch, band, n_bands, resample, n_jobs)
    data = env_raw.get_data(reject_by_annotation="NaN" if bad_segments == "nan" else None).T
    values = zscore_time(data, source) if standardize else data.astype(np.float32)
    out = to_dataarray(env_raw, values, source=source, montage="electrodes" if np.isfinite(
        [c["loc"][0] for c in env_raw.info["chs"]]).all() else "none", channel_groups=channel_groups,
        extra_attrs={"reference": str(reference), "band": [float(b) for b in band], "n_bands": int(n_bands),
                     "bads": bads, "notch": freqs, "artifacts": bool(artifacts), **nf_attrs, **extra})
    return _positions_in_mm(out, positions)


def _check_positions(raw: mne.io.BaseRaw, positions: dict) -> None:
    """The chosen electrodes.tsv must place at least one of the channels kept (else names do not
    match, or every row is n/a); channels it leaves without a position are logged."""
    pos = np.array([ch["loc"][:3] for ch in raw.info["chs"]], dtype=float)
    missing = [c for c, p in zip(raw.ch_names, pos) if not np.isfinite(p).all()]
    tsv = positions["electrodes_file"]
    if len(missing) == len(raw.ch_names):
        raise InputError(tsv, f"none of the {len(raw.ch_names)} channels kept (e.g. {raw.ch_names[:5]}) has a "
                         "position in it", field="name, x, y, z",
                         expected="rows naming the recording's channels with numeric x, y, z",
                         hint="choose another table with preprocess.ieeg.electrodes_space (or none)")
    if missing:
        log.warning("%s: %d of %d channels kept have no position (n/a or not listed): %s", tsv, len(missing),
                    len(raw.ch_names), missing[:10])


def _positions_in_mm(out: xr.DataArray, positions: dict | None) -> xr.DataArray:
    """``pos_x/y/z`` in mm (the unit of MNI and native-space electrode tables, and of atlases and glass
    brains), with the chosen table's space recorded; MNE keeps metres internally."""
    out = out.assign_coords({c: out[c] * 1000.0 for c in ("pos_x", "pos_y", "pos_z")})
    for c in ("pos_x", "pos_y", "pos_z"):
        out[c].attrs["units"] = "mm"
    record = dict(positions or {"electrodes_space": "", "coordinate_system": ""})
    record.pop("n_positions", None)
    out.attrs.update(record)
    out.attrs["n_channels_with_position"] = int(np.isfinite(out["pos_x"].values).sum())
    return out
