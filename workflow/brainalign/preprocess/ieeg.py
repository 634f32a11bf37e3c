"""iEEG preprocessing: re-reference, high-gamma envelope, electrode coordinates carried along.

High gamma follows the field's filter-bank recipe (e.g. the naplib / Mesgarani-lab and Mischler et
al. pipelines): the signal is band-passed in ``n_bands`` log-spaced sub-bands spanning
``band`` (70–150 Hz by default), each sub-band's analytic amplitude (Hilbert) is divided by its
own mean (so the 1/f spectrum does not let the lowest sub-band dominate), the sub-bands are
averaged, and the envelope is low-passed and resampled (≤ 50 Hz by default), then z-scored.

Re-referencing: ``"bipolar"`` pairs consecutive contacts of one shaft/grid (names ``<prefix><n>``,
e.g. ``LA1``–``LA2``) into ``LA1-LA2``, placed at the contacts' midpoint; ``"average"`` is a
common average over good channels of each type; ``None`` keeps the recorded reference.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import defaultdict
from typing import Sequence

import mne
import numpy as np
import xarray as xr
from scipy.signal import hilbert

from brainalign.errors import ConfigError, InputError
from brainalign.preprocess.common import zscore_time
from brainalign.preprocess.meeg import _pick_names, apply_nonfinite, line_noise_freqs, read_raw_positions, to_dataarray
from brainalign.preprocess.nonfinite import DEFAULT_MAX_FRACTION

log = logging.getLogger(__name__)

_CONTACT = re.compile(r"^(.*?)(\d+)$")


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
    data = raw.get_data()
    idx = {c: i for i, c in enumerate(raw.ch_names)}
    new = np.stack([data[idx[a]] - data[idx[b]] for a, b in pairs])
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
    out = mne.io.RawArray(new, info, first_samp=raw.first_samp, verbose="error")
    out.set_annotations(raw.annotations)
    return out


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


def preprocess_ieeg(
    raw_or_bids_path,
    *,
    reference: str | None = "bipolar",
    band: Sequence[float] = (70.0, 150.0),
    n_bands: int = 8,
    notch: str | float | Sequence[float] | None = "auto",
    resample: float | None = 50.0,
    picks: Sequence[str] | str | None = ("ecog", "seeg", "dbs"),
    bad_channels: str = "drop",
    bad_segments: str = "nan",
    standardize: bool = True,
    channel_groups=None,
    n_jobs: int = 1,
    nonfinite: str = "error",
    nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
    electrodes_space: str | None = "auto",
) -> xr.DataArray:
    """Preprocess one iEEG run into a z-scored high-gamma ``time x channel`` DataArray.

    Parameters
    ----------
    raw_or_bids_path
        ``BIDSPath``, a path, or a Raw (see :func:`brainalign.preprocess.meeg.read_raw`).
    reference
        ``"bipolar"`` (default), ``"average"`` (common average per channel type) or ``None``.
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
        non-finite record (``nonfinite`` ...).

    Raises
    ------
    MissingInputError, InputError
        No electrodes.tsv (``auto``) or none in the requested space, several that ``auto`` cannot
        choose between (naming the files and their spaces), or a chosen table that gives none of the
        channels kept a position.
    """
    if reference not in ("bipolar", "average", None):
        raise ValueError(f"reference={reference!r}: expected 'bipolar', 'average' or None")
    if bad_channels not in ("drop", "keep"):
        raise ConfigError("preprocess.ieeg.bad_channels", f"{bad_channels!r} is not supported for iEEG",
                          expected="'drop' or 'keep'")
    if bad_segments not in ("nan", "keep"):
        raise ConfigError("preprocess.ieeg.bad_segments", f"{bad_segments!r} is not supported",
                          expected="'nan' or 'keep'")
    if electrodes_space is not None and not isinstance(electrodes_space, str):
        raise ConfigError("preprocess.ieeg.electrodes_space", f"{electrodes_space!r}",
                          expected="auto, none or a BIDS space label (e.g. MNI152NLin2009aSym, Other)")
    raw, source, positions = read_raw_positions(raw_or_bids_path, electrodes_space or "none")
    bads = list(raw.info["bads"])
    names = _pick_names(raw, picks)
    if bad_channels == "drop":
        names = [c for c in names if c not in bads]
    if not names:
        raise ValueError(f"{source}: no iEEG channel left (picks={picks!r}, bads={bads})")
    raw.pick(names)
    if positions and positions.get("electrodes_file"):
        _check_positions(raw, positions)
    if bad_channels != "drop":
        raw.info["bads"] = []
    nf_attrs = apply_nonfinite(raw, names, policy=nonfinite, max_fraction=nonfinite_max_fraction,
                               bad_segments=bad_segments, source=source, modality="ieeg", out_sfreq=resample)
    if reference == "bipolar":
        raw = bipolar_reference(raw, source)
    elif reference == "average":
        data = raw.get_data()
        types = np.array(raw.get_channel_types())
        for t in set(types):
            data[types == t] -= data[types == t].mean(axis=0)
        raw._data[:] = data
    freqs = [f for f in line_noise_freqs(raw, notch, None) if band[0] - 5 <= f <= band[1] + 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if freqs:
            raw.notch_filter(freqs, picks="all", n_jobs=n_jobs, verbose="error")
        env = high_gamma_envelope(raw.get_data(), raw.info["sfreq"], tuple(band), n_bands, n_jobs)
        env_raw = mne.io.RawArray(env, raw.info.copy(), first_samp=raw.first_samp, verbose="error")
        env_raw.set_annotations(raw.annotations)
        if resample is not None:
            env_raw.filter(None, 0.4 * resample, picks="all", verbose="error")
            env_raw.resample(resample, method="polyphase", verbose="error")
    data = env_raw.get_data(reject_by_annotation="NaN" if bad_segments == "nan" else None).T
    values = zscore_time(data, source) if standardize else data.astype(np.float32)
    out = to_dataarray(env_raw, values, source=source, montage="electrodes" if np.isfinite(
        [c["loc"][0] for c in env_raw.info["chs"]]).all() else "none", channel_groups=channel_groups,
        extra_attrs={"reference": str(reference), "band": [float(b) for b in band], "n_bands": int(n_bands),
                     "bads": bads, "notch": freqs, **nf_attrs})
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
