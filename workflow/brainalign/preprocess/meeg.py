"""MEG/EEG preprocessing: one BIDS run -> z-scored ``time x channel`` DataArray (MNE + mne-bids).

Order of operations (each optional step logged):

1. read with :func:`mne_bids.read_raw_bids` (bad channels from ``channels.tsv``, bad segments and
   events from ``events.tsv``, electrode positions from ``electrodes.tsv``), or take a Raw;
2. pick data channels (``picks``); bad channels dropped (or interpolated, EEG with positions);
3. EEG re-reference (``reference``: ``"average"``, a channel list, or ``None``);
4. optional SSP (EOG/ECG projectors) and ICA (components matching EOG/ECG removed);
5. notch at the line frequency and harmonics (only those the low-pass leaves in the band);
6. band-pass ``l_freq``..``h_freq``, then resample to ``resample`` Hz (≤ 50 Hz by default);
7. samples inside ``BAD*`` annotations become NaN (``bad_segments="nan"``) — they are excluded
   from the z-score statistics and must be excluded by the encoder (documented contract);
8. z-score each channel over the run.

The ``time`` coordinate is the time of each sample from the first sample of the file, the time
base of BIDS ``events.tsv`` onsets.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import mne
import numpy as np
import xarray as xr

from brainalign.config_sections import defaults, require
from brainalign.errors import ConfigError
from brainalign.preprocess.common import read_region_table, zscore_time
from brainalign.preprocess.nonfinite import DEFAULT_MAX_FRACTION, apply_nonfinite_policy, check_policy, mark_bad_samples

log = logging.getLogger(__name__)

DATA_TYPES = ("mag", "grad", "eeg", "seeg", "ecog", "dbs")
#: The schema's ``preprocess.meeg.ica`` / ``.ssp`` blocks (both off): :func:`preprocess_meeg`'s defaults.
DEFAULT_ICA = defaults("preprocess.meeg.ica")
DEFAULT_SSP = defaults("preprocess.meeg.ssp")
_TYPE_ALIASES = {"meg": ("mag", "grad")}


# ------------------------------------------------------------------------------------- reading
def read_raw(raw_or_bids_path, *, preload: bool = True) -> tuple[mne.io.BaseRaw, str]:
    """A Raw from a ``BIDSPath``, a file path (BIDS-named files go through mne-bids), or a Raw.

    Electrode positions are those mne-bids reads (one electrodes.tsv found); see
    :func:`read_raw_positions` to choose among several spaces (iEEG).

    Files are checked before and after reading (:mod:`brainalign.io.integrity`): companions present
    (a ``.vhdr``'s ``DataFile``/``MarkerFile``), the data size the header implies, the JSON sidecars
    mne-bids parses, and the samples read against the sidecar's ``SamplingFrequency`` and
    ``RecordingDuration``, so a truncated file stops with an error naming it instead of being read as
    a shorter recording.

    Returns
    -------
    (raw, source)
        The recording (loaded unless ``preload=False``: then pick channels first and call
        :func:`load_data`, so that only they are read) and the file it came from.

    Raises
    ------
    MissingInputError, InputError
        A damaged or inconsistent recording, naming the file, the field, expected and found.
    """
    raw, source, _ = read_raw_positions(raw_or_bids_path, None, preload=preload)
    return raw, source


def read_raw_positions(raw_or_bids_path, electrodes_space: str | None, *,
                       preload: bool = True) -> tuple[mne.io.BaseRaw, str, dict | None]:
    """:func:`read_raw`, with the channel positions of one chosen electrodes.tsv (iEEG).

    mne-bids reads positions only when it finds exactly one electrodes.tsv; iEEG datasets often ship
    one per space (MNI and the patient's native space: ``space-MNI152NLin2009aSym`` and
    ``space-Other``), and then every channel silently has none.  Here the table is chosen by
    ``electrodes_space`` (:func:`brainalign.io.bids.choose_electrodes`) and read with its
    coordsystem.json by :func:`set_electrode_positions`, for a ``BIDSPath`` or a BIDS-named file.

    Parameters
    ----------
    raw_or_bids_path
        As :func:`read_raw`.
    electrodes_space
        None: positions as mne-bids reads them; ``"auto"``, a space label or ``"none"`` (no
        positions): see :func:`brainalign.io.bids.choose_electrodes`.

    Returns
    -------
    (raw, source, positions)
        ``positions``: the record of :func:`set_electrode_positions` (or ``electrodes_space:
        "none"``), None when the input is not a BIDS recording or ``electrodes_space`` is None.

    Raises
    ------
    MissingInputError, InputError
        As :func:`read_raw`; and no table in the requested space, several that ``auto`` cannot
        choose between, or a table without its coordsystem.json (naming the files found).
    """
    import mne_bids

    from brainalign.io.integrity import check_recording_file, check_recording_length, read_json, recording_reading
    from brainalign.io.tsv import read_bids_tsv

    positions = None
    if isinstance(raw_or_bids_path, mne.io.BaseRaw):
        raw = raw_or_bids_path.copy()
        source = str(raw.filenames[0]) if raw.filenames and raw.filenames[0] else "<Raw>"
    else:
        bids_path = raw_or_bids_path
        if not isinstance(bids_path, mne_bids.BIDSPath):
            path = Path(bids_path)
            if not path.exists():
                raise FileNotFoundError(f"{path}: recording not found")
            bids_path = None
            if path.name.startswith("sub-"):
                try:
                    bids_path = mne_bids.get_bids_path_from_fname(path)
                    root = next((p for p in path.parents if (p / "dataset_description.json").exists()), None)
                    bids_path.update(root=root) if root is not None else None
                    bids_path = bids_path if root is not None else None
                except Exception:  # not a valid BIDS name: read the file as it is
                    bids_path = None
            if bids_path is None:
                check_recording_file(path)
                with warnings.catch_warnings(), recording_reading(path):
                    warnings.simplefilter("ignore", RuntimeWarning)
                    raw = mne.io.read_raw(path, preload=preload, verbose="error")
                return raw, str(path), None
        from brainalign.io.bids import choose_electrodes, meeg_sidecars

        chosen = choose_electrodes(bids_path, electrodes_space) if electrodes_space is not None else None
        # mne-bids parses these itself and fails with a bare JSONDecodeError / ValueError: check them first
        sidecars = meeg_sidecars(bids_path, electrodes_space, strict=True)
        meta = read_json(sidecars["sidecar"], what=f"{bids_path.datatype} sidecar") if sidecars["sidecar"] else None
        for key in ("coordsystem", "events_json"):
            if sidecars[key]:
                read_json(sidecars[key], what=f"{key.replace('_json', '')} JSON")
        for key in ("channels", "events", "electrodes"):
            if sidecars[key]:
                read_bids_tsv(sidecars[key], what=f"{key}.tsv")
        check_recording_file(bids_path.fpath)
        with warnings.catch_warnings():
            # mne-bids warns about every optional sidecar it does not find; nothing to act on.
            warnings.simplefilter("ignore", RuntimeWarning)
            raw = mne_bids.read_raw_bids(bids_path, verbose="error")
        source = str(bids_path.fpath)
        check_recording_length(source, raw.n_times, raw.info["sfreq"], meta, sidecars["sidecar"])
        if electrodes_space is not None:
            positions = (set_electrode_positions(raw, chosen, bids_path.datatype) if chosen is not None
                         else clear_positions(raw))
    if preload:
        load_data(raw, source)
    return raw, source, positions


def load_data(raw: mne.io.BaseRaw, source: str) -> None:
    """Load a Raw's samples (its picked channels only), a read error naming the file."""
    from brainalign.io.integrity import recording_reading

    if not raw.preload:
        with recording_reading(source):
            raw.load_data(verbose="error")


#: BIDS coordinate units -> millimetres.
_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}


def _infer_units(xyz: np.ndarray) -> str:
    """Units of brain electrode coordinates written as ``n/a``: a brain spans about +-0.1 m,
    +-10 cm, +-100 mm (mne-bids' scalp thresholds would read millimetre brains up to 99 mm as cm)."""
    finite = np.abs(xyz[np.isfinite(xyz)])
    top = float(finite.max()) if finite.size else 0.0
    return "m" if top < 0.3 else ("cm" if top < 25.0 else "mm")


def clear_positions(raw: mne.io.BaseRaw) -> dict:
    """No positions for any channel (``electrodes_space: none``); returns the record."""
    for ch in raw.info["chs"]:
        ch["loc"][:3] = np.nan
    return {"electrodes_space": "none", "coord_frame": "none"}


def set_electrode_positions(raw: mne.io.BaseRaw, chosen: dict, datatype: str) -> dict:
    """Set each channel's position from one electrodes.tsv and its coordsystem.json, in place.

    The table's ``x, y, z`` are converted from the coordsystem's units (``n/a``: inferred from their
    magnitude, logged) to metres in ``info['chs'][i]['loc']`` as MNE stores them, with the MNE frame
    of the coordinate system (``mni_tal`` for the MNI templates, fsaverage and Talairach; ``ras``
    for ACPC/ScanRAS; ``unknown`` for ``Other``, a patient's native space), so that nothing treats
    them as the ``head`` frame of a scalp montage.  Channels the table does not list, or lists with
    ``n/a``, get NaN.

    Parameters
    ----------
    raw
        The recording.
    chosen
        ``electrodes``, ``coordsystem``, ``space`` (:func:`brainalign.io.bids.choose_electrodes`).
    datatype
        ``ieeg``, ``eeg`` or ``meg`` (the coordsystem's key prefix).

    Returns
    -------
    dict
        ``electrodes_space`` (the space label), ``coordinate_system`` (the coordsystem's),
        ``coord_frame`` (MNE's frame name), ``electrodes_file``, ``coordsystem_file``,
        ``position_units`` (the units read or inferred), ``n_positions`` (channels given one).

    Raises
    ------
    InputError
        The coordsystem without ``<Datatype>CoordinateSystem``, units that are not m/cm/mm/n/a, or
        non-numeric coordinates (naming the file and the field).
    """
    from mne_bids.config import BIDS_TO_MNE_FRAMES

    from brainalign.errors import InputError
    from brainalign.io.integrity import read_json
    from brainalign.io.tsv import numeric_column, read_bids_tsv

    tsv, coordsystem = chosen["electrodes"], chosen["coordsystem"]
    prefix = {"ieeg": "iEEG", "eeg": "EEG", "meg": "MEG"}[datatype]
    meta = read_json(coordsystem, what="coordsystem JSON")
    system = meta.get(f"{prefix}CoordinateSystem")
    if not system:
        raise InputError(coordsystem, "no coordinate system", field=f"{prefix}CoordinateSystem",
                         expected="a BIDS coordinate system (e.g. MNI152NLin2009aSym, ACPC, Other)")
    units = str(meta.get(f"{prefix}CoordinateUnits") or "n/a")
    table = read_bids_tsv(tsv, what="electrodes.tsv", required=["name", "x", "y", "z"])
    xyz = np.stack([numeric_column(table, c, expected="a coordinate", allow_missing=True) for c in "xyz"], axis=1)
    if units == "n/a":
        units = _infer_units(xyz)
        log.warning("%s: %sCoordinateUnits is n/a; coordinates of up to %.3g read as %s", coordsystem, prefix,
                    float(np.nanmax(np.abs(xyz))) if np.isfinite(xyz).any() else 0.0, units)
    elif units not in _TO_MM:
        raise InputError(coordsystem, f"units {units!r}", field=f"{prefix}CoordinateUnits", expected="m, cm, mm or n/a")
    frame = BIDS_TO_MNE_FRAMES.get(str(system), "unknown")
    frame_id = mne.transforms._str_to_frame[frame]
    metres = xyz * _TO_MM[units] / 1000.0
    rows = {str(n): i for i, n in enumerate(table["name"])}
    n_set = 0
    for ch in raw.info["chs"]:
        i = rows.get(ch["ch_name"])
        ch["loc"][:3] = metres[i] if i is not None else np.nan
        ch["coord_frame"] = frame_id
        n_set += int(i is not None and np.isfinite(metres[i]).all())
    log.info("%s: positions of %d of %d channels from %s (%s, %s, frame %s)", raw.filenames[0] if raw.filenames
             else "<Raw>", n_set, len(raw.ch_names), tsv, system, units, frame)
    return {"electrodes_space": str(chosen["space"]), "coordinate_system": str(system), "coord_frame": frame,
            "electrodes_file": str(tsv), "coordsystem_file": str(coordsystem), "position_units": units,
            "n_positions": n_set}


def pick_names(raw: mne.io.BaseRaw, picks: Sequence[str] | str | None) -> list[str]:
    """Names of the channels ``picks`` selects (channel types such as ``"ecog"`` or names; None: every
    data channel), in the recording's order."""
    types = raw.get_channel_types()
    if picks is None:
        wanted = set(DATA_TYPES)
        names = None
    else:
        picks = [picks] if isinstance(picks, str) else list(picks)
        wanted = set()
        names = []
        for p in picks:
            if p in _TYPE_ALIASES:
                wanted |= set(_TYPE_ALIASES[p])
            elif p in DATA_TYPES or p in ("eog", "ecg", "emg", "misc"):
                wanted.add(p)
            else:
                names.append(p)
        missing = [n for n in names if n not in raw.ch_names]
        if missing:
            raise ValueError(f"picks: channel(s) {missing[:10]} not in the recording")
    chosen = [c for c, t in zip(raw.ch_names, types) if t in wanted or (names and c in names)]
    return chosen


def channel_positions(raw: mne.io.BaseRaw) -> tuple[np.ndarray, str]:
    """Per-channel positions (m) in the head frame (MEG: device frame transformed by dev_head_t).

    Channels without a position get NaN.  Returns ``(positions, frame)``.
    """
    info = raw.info
    pos = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=float)
    types = raw.get_channel_types()
    is_meg = np.array([t in ("mag", "grad") for t in types])
    frame = "head"
    if is_meg.any():
        if info["dev_head_t"] is not None:
            pos[is_meg] = mne.transforms.apply_trans(info["dev_head_t"], pos[is_meg])
        else:
            frame = "meg"
    others = [ch["coord_frame"] for ch, m in zip(info["chs"], is_meg) if not m]
    if others and not is_meg.any():
        frame = mne.transforms._coord_frame_name(int(others[0])) or "unknown"
    unknown = ~np.isfinite(pos).all(1) | (np.abs(pos).sum(1) == 0)
    pos[unknown] = np.nan
    return pos, frame


def _montage_name(raw: mne.io.BaseRaw, montage: str | None, source: str) -> str:
    if montage:
        return montage
    types = set(raw.get_channel_types())
    if types & {"mag", "grad"}:
        try:
            from mne.channels.channels import _get_meg_system
            return str(_get_meg_system(raw.info)[0])
        except Exception:  # private helper; the name is informative only
            return "meg"
    dig = raw.get_montage()
    return "from file" if dig is not None and len(dig.ch_names) else "none"


# -------------------------------------------------------------------------------- artefacts
def artefact_sections(ica: Mapping | None, ssp: Mapping | None) -> tuple[dict | None, dict | None]:
    """The ICA and SSP settings to apply: each complete (``preprocess.meeg.ica`` / ``.ssp``, every key
    required, as the schema fills them), or None when switched off (``ica.enabled: false``; no SSP
    projector asked for) or not given (a library caller's ``None``).

    Raises
    ------
    ConfigError
        A given section missing a key (``preprocess.meeg.ica.method``) or naming an unknown one.
    """
    ica = require(ica, "preprocess.meeg.ica") if ica is not None else None
    ssp = require(ssp, "preprocess.meeg.ssp") if ssp is not None else None
    return (ica if ica and ica["enabled"] else None), (ssp if ssp and (ssp["eog"] or ssp["ecg"]) else None)


def _apply_ssp(raw: mne.io.BaseRaw, ssp: Mapping, source: str) -> list[str]:
    """Add and apply ``ssp["eog"]`` / ``ssp["ecg"]`` projectors per channel type (0: none)."""
    done = []
    types = set(raw.get_channel_types())
    for kind, compute in (("eog", mne.preprocessing.compute_proj_eog), ("ecg", mne.preprocessing.compute_proj_ecg)):
        n = ssp[kind]
        if not n:
            continue
        if kind not in types and kind == "eog":
            log.warning("%s: ssp.eog requested but no EOG channel; skipped", source)
            continue
        kw = {"n_grad": n, "n_mag": n, "n_eeg": n}
        projs, _ = compute(raw, **kw, verbose="error")
        raw.add_proj(projs).apply_proj(verbose="error")
        done.append(f"ssp_{kind}:{len(projs)}")
    return done


def _apply_ica(raw: mne.io.BaseRaw, ica: Mapping, seed: int, source: str) -> list[str]:
    """Fit ICA on a 1 Hz high-passed copy; remove components matching EOG/ECG channels."""
    opts = require(ica, "preprocess.meeg.ica")  # every key from the schema: no second default here
    fit_raw = raw.copy().filter(1.0, None, verbose="error")
    model = mne.preprocessing.ICA(n_components=opts["n_components"], method=opts["method"],
                                  rng=seed, max_iter=opts["max_iter"])
    model.fit(fit_raw, verbose="error")
    exclude: list[int] = []
    types = set(raw.get_channel_types())
    if opts["eog"] and "eog" in types:
        # correlation (not z-score) threshold: z-scores cannot reach 3 with a handful of components
        idx, _ = model.find_bads_eog(fit_raw, threshold=opts["eog_threshold"], measure="correlation",
                                     verbose="error")
        exclude += idx
    if opts["ecg"] and ("ecg" in types or types & {"mag", "grad"}):
        try:
            idx, _ = model.find_bads_ecg(fit_raw, verbose="error")
            exclude += idx
        except Exception as err:  # no ECG channel and no magnetometers to synthesise one
            log.info("%s: no ECG components searched (%s)", source, err)
    model.exclude = sorted(set(exclude))
    model.apply(raw, verbose="error")
    log.info("%s: ICA removed components %s", source, model.exclude)
    return [f"ica:{model.exclude}"]


# ------------------------------------------------------------------------------------ helpers
def line_noise_freqs(raw: mne.io.BaseRaw, notch, h_freq: float | None) -> list[float]:
    """Notch frequencies: ``"auto"`` = the line frequency (``info['line_freq']``, from the BIDS
    sidecar's PowerLineFrequency) and its harmonics below Nyquist and inside the pass band."""
    if notch is None or notch is False:
        return []
    nyq = raw.info["sfreq"] / 2.0
    if notch == "auto":
        base = raw.info.get("line_freq")
        if not base:
            return []
        freqs = list(np.arange(base, nyq, base))
    else:
        freqs = [float(f) for f in np.atleast_1d(notch)]
    # above the low-pass cut-off the band-pass removes line noise anyway (and faster)
    top = nyq if h_freq is None else min(nyq, 1.25 * h_freq)
    return [float(f) for f in freqs if f < top - 1.0]


def apply_nonfinite(raw: mne.io.BaseRaw, names: Sequence[str], *, policy: str, max_fraction: float,
                    bad_segments: str, source: str, modality: str = "meeg", out_sfreq: float | None = None) -> dict:
    """Apply the non-finite policy to channels ``names`` of a loaded Raw, in place, before any filter.

    A NaN or inf sample would spread through every filter (and the average reference) to whole
    channels; ``error`` stops here naming the file, channels and samples, ``interpolate`` fills
    the samples linearly in time, ``mark`` also annotates them ``BAD_nonfinite`` (so they become NaN
    in the output, like every ``BAD`` segment; needs ``bad_segments="nan"``).  Channels with more
    than ``max_fraction`` of their samples non-finite are dropped (see
    :mod:`brainalign.preprocess.nonfinite`).  ``out_sfreq`` (the output rate after resampling) widens
    each marked span by one output sample on either side, so that no output sample computed from a
    non-finite input escapes the mark.

    Returns
    -------
    dict
        The non-finite record for the output's attributes.
    """
    key = f"preprocess.{modality}"
    check_policy(policy, modality, max_fraction, key=key)
    if policy == "mark" and bad_segments != "nan":
        raise ConfigError(f"{key}.nonfinite", "'mark' annotates the samples as BAD, which bad_segments="
                          f"{bad_segments!r} would keep", expected="bad_segments: nan with nonfinite: mark",
                          hint="or use nonfinite: interpolate")
    names = list(names)
    idx = [raw.ch_names.index(c) for c in names]
    # consecutive channels (the usual case: data channels come first) are a view, not a copy of the recording
    rows = slice(idx[0], idx[-1] + 1) if idx and idx == list(range(idx[0], idx[-1] + 1)) else idx
    result = apply_nonfinite_policy(raw._data[rows].T, policy=policy, max_fraction=max_fraction, source=source,
                                    modality=modality, key=key, target_names=names, times=raw.times,
                                    what="channel", sample_name="sample")
    if result.attrs["nonfinite_values"]:
        raw._data[idx] = result.data.T
        if policy == "mark":
            mark_bad_samples(raw, result.bad_samples, pad=1.0 / out_sfreq if out_sfreq else 0.0)
        dropped = [c for c, k in zip(names, result.keep) if not k]
        if dropped:
            raw.drop_channels(dropped)
    return result.attrs


def to_dataarray(raw: mne.io.BaseRaw, data: np.ndarray, *, source: str, montage: str,
                 channel_groups=None, extra_attrs: Mapping | None = None) -> xr.DataArray:
    """Wrap ``time x channel`` values with the contract's coordinates."""
    pos, frame = channel_positions(raw)
    coords = {
        "time": ("time", raw.times.astype(float)),
        "channel": ("channel", np.array(raw.ch_names, dtype=str)),
        "ch_type": ("channel", np.array(raw.get_channel_types(), dtype=str)),
        "pos_x": ("channel", pos[:, 0]), "pos_y": ("channel", pos[:, 1]), "pos_z": ("channel", pos[:, 2]),
    }
    groups = read_region_table(channel_groups)
    if groups:
        coords["region"] = ("channel", np.array([groups.get(c, "") for c in raw.ch_names], dtype=str))
    out = xr.DataArray(data, dims=("time", "channel"), coords=coords, name="data")
    out.time.attrs["units"] = "s"
    for c in ("pos_x", "pos_y", "pos_z"):
        out[c].attrs["units"] = "m"
    out.attrs.update(sfreq=float(raw.info["sfreq"]), montage=montage, coord_frame=frame, source_file=source,
                     **dict(extra_attrs or {}))
    return out


# --------------------------------------------------------------------------------------- main
# ------------------------------------------------------------------------ phases of preprocess_meeg
def _open_run(raw_or_bids_path, *, h_freq: float | None, resample: float | None,
              montage: str | None) -> tuple[mne.io.BaseRaw, str, list[str], list[str]]:
    """Open the run without loading it; returns the Raw, its source, its bad channels and the steps so far.

    ``h_freq`` must lie below the output Nyquist frequency; ``montage`` is set on EEG without positions.
    """
    # read the picked channels only (picking a loaded recording would copy it)
    raw, source = read_raw(raw_or_bids_path, preload=False)
    steps: list[str] = []
    if resample is not None and h_freq is not None and h_freq >= resample / 2:
        raise ValueError(f"{source}: h_freq={h_freq} Hz is not below the Nyquist frequency of resample={resample} Hz")
    bads = list(raw.info["bads"])
    eeg_present = "eeg" in raw.get_channel_types()
    if montage and eeg_present and raw.get_montage() is None:
        raw.set_montage(montage, on_missing="ignore", match_case=False)
        steps.append(f"montage:{montage}")
    return raw, source, bads, steps


def _pick_and_load(raw: mne.io.BaseRaw, picks: Sequence[str] | str | None, bads: Sequence[str], bad_channels: str,
                   *, keep_aux: bool, source: str) -> tuple[list[str], list[str]]:
    """Keep the data channels (less the bad ones with ``bad_channels="drop"``) and load them.

    With ``keep_aux`` (ICA or SSP) the EOG/ECG channels stay for artefact detection; returns the
    data channel names and those auxiliary ones.
    """
    data_names = pick_names(raw, picks)
    aux = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t in ("eog", "ecg")] if keep_aux else []
    if bad_channels == "drop":
        dropped = [c for c in data_names if c in bads]
        data_names = [c for c in data_names if c not in bads]
        if dropped:
            log.info("%s: dropped bad channel(s) %s", source, dropped)
    if not data_names:
        raise ValueError(f"{source}: no data channel left (picks={picks!r}, bads={bads})")
    raw.pick(data_names + [a for a in aux if a not in data_names], verbose="error")
    load_data(raw, source)
    return data_names, aux


def _repair_channels(raw: mne.io.BaseRaw, data_names: Sequence[str], bad_channels: str, steps: list[str], *,
                     policy: str, max_fraction: float, bad_segments: str, source: str,
                     out_sfreq: float | None) -> dict:
    """Apply the non-finite policy, then interpolate or keep the bad channels; returns the non-finite record."""
    # channels about to be interpolated from the others need no finite samples of their own
    checked = [c for c in data_names if not (bad_channels == "interpolate" and c in raw.info["bads"])]
    nf_attrs = apply_nonfinite(raw, checked, policy=policy, max_fraction=max_fraction,
                               bad_segments=bad_segments, source=source, modality="meeg", out_sfreq=out_sfreq)
    if bad_channels == "interpolate" and raw.info["bads"]:
        raw.interpolate_bads(reset_bads=True, verbose="error")
        steps.append("interpolate_bads")
    elif bad_channels == "keep":
        raw.info["bads"] = []
    return nf_attrs


def _reference_and_artefacts(raw: mne.io.BaseRaw, reference: str | Sequence[str] | None, *, ssp: Mapping | None,
                             ica: Mapping | None, seed: int, aux: Sequence[str], source: str) -> list[str]:
    """EEG reference, then SSP and ICA; the auxiliary EOG/ECG channels are dropped afterwards."""
    steps: list[str] = []
    if reference is not None and "eeg" in raw.get_channel_types():
        ref = reference if isinstance(reference, str) else list(reference)
        raw.set_eeg_reference(ref, projection=False, verbose="error")
        steps.append(f"reference:{reference}")
    if ssp:
        steps += _apply_ssp(raw, ssp, source)
    if ica:
        steps += _apply_ica(raw, ica, seed, source)
    if aux:
        raw.pick([c for c in raw.ch_names if c not in aux], verbose="error")
    return steps


def _filter_and_resample(raw: mne.io.BaseRaw, notch, l_freq: float | None, h_freq: float | None,
                         resample: float | None, n_jobs: int) -> list[str]:
    """Notch (line noise), band-pass and resample ``raw`` in place; returns the steps done."""
    steps: list[str] = []
    freqs = line_noise_freqs(raw, notch, h_freq)
    with warnings.catch_warnings():
        # short recordings: MNE warns that the filter is longer than the signal (it pads)
        warnings.simplefilter("ignore", RuntimeWarning)
        if freqs:
            raw.notch_filter(freqs, picks="all", n_jobs=n_jobs, verbose="error")
            steps.append(f"notch:{freqs}")
        if l_freq is not None or h_freq is not None:
            raw.filter(l_freq, h_freq, picks="all", n_jobs=n_jobs, verbose="error")
            steps.append(f"filter:{l_freq}-{h_freq}")
        if resample is not None and abs(raw.info["sfreq"] - resample) > 1e-9:
            raw.resample(resample, method="polyphase", n_jobs=n_jobs, verbose="error")
            steps.append(f"resample:{resample}")
    return steps


def _output_samples(raw: mne.io.BaseRaw, bad_segments: str, standardize: bool, source: str) -> tuple[np.ndarray, int]:
    """``time x channel`` values of ``raw``, NaN inside ``BAD`` annotations (``bad_segments="nan"``), z-scored.

    Returns the values (float32) and the number of samples set to NaN.
    """
    data = raw.get_data(reject_by_annotation="NaN" if bad_segments == "nan" else None).T
    n_bad = int(np.isnan(data).any(axis=1).sum())
    if n_bad:
        log.info("%s: %d of %d samples inside BAD annotations set to NaN", source, n_bad, len(data))
    values = zscore_time(data, source) if standardize else data.astype(np.float32)
    return values, n_bad


def preprocess_meeg(
    raw_or_bids_path,
    *,
    l_freq: float | None = 0.1,
    h_freq: float | None = 20.0,
    notch: str | float | Sequence[float] | None = "auto",
    resample: float | None = 50.0,
    reference: str | Sequence[str] | None = "average",
    picks: Sequence[str] | str | None = ("meg", "eeg"),
    bad_channels: str = "drop",
    bad_segments: str = "nan",
    montage: str | None = None,
    ica: Mapping | None = DEFAULT_ICA,
    ssp: Mapping | None = DEFAULT_SSP,
    standardize: bool = True,
    channel_groups=None,
    seed: int = 0,
    n_jobs: int = 1,
    nonfinite: str = "error",
    nonfinite_max_fraction: float = DEFAULT_MAX_FRACTION,
) -> xr.DataArray:
    """Preprocess one MEG/EEG run into a z-scored ``time x channel`` DataArray.

    Parameters
    ----------
    raw_or_bids_path
        ``mne_bids.BIDSPath``, a path (files named like BIDS inside a BIDS root are read with
        mne-bids, other files with :func:`mne.io.read_raw`), or an ``mne.io.Raw``.
    l_freq, h_freq
        Band-pass edges (Hz); ``None`` disables that edge.
    notch
        ``"auto"`` (line frequency from the BIDS sidecar and harmonics), frequencies, or ``None``.
    resample
        Output sampling rate (Hz), ``None`` keeps the recording's.  Keep ``h_freq`` below half of it.
    reference
        EEG reference: ``"average"``, a list of reference channels, or ``None`` (as recorded).
    picks
        Channel types (``meg``, ``mag``, ``grad``, ``eeg``, ``seeg``, ``ecog``) or names.
    bad_channels
        Channels marked bad (``channels.tsv`` status, ``info['bads']``): ``"drop"`` (default),
        ``"interpolate"`` (spherical splines; needs positions) or ``"keep"``.
    bad_segments
        Samples inside ``BAD*`` annotations: ``"nan"`` (default; excluded from the z-score) or
        ``"keep"``.
    montage
        Standard montage (e.g. ``"standard_1005"``, ``"biosemi64"``) set when the file has no
        electrode positions; ignored for MEG.
    ica, ssp
        Artefact removal: complete ``preprocess.meeg.ica`` / ``.ssp`` sections (outside Snakemake
        ``with_defaults("preprocess.meeg.ica", {"enabled": True})``; default: the schema's, both
        off), or None.  ICA (when ``ica["enabled"]``) removes components correlating with an EOG
        channel above ``eog_threshold`` and ECG ones (MNE's CTPS); SSP adds ``ssp["eog"]`` /
        ``ssp["ecg"]`` projectors per channel type (0: none).
    standardize
        Z-score each channel over the run.
    channel_groups
        Channel -> region table (path, DataFrame or mapping); adds the ``region`` coordinate.
    seed
        Seed of ICA.
    n_jobs
        Parallel jobs of MNE's filters and resampling.
    nonfinite, nonfinite_max_fraction
        NaN/inf samples in the data channels (checked before any filter): ``"error"`` (default),
        ``"interpolate"`` (linear in time) or ``"mark"`` (interpolated, then annotated
        ``BAD_nonfinite``: NaN in the output); channels with more than ``nonfinite_max_fraction`` of
        their samples non-finite are dropped.  See :func:`apply_nonfinite`.

    Returns
    -------
    xarray.DataArray
        ``data`` (float32, ``time x channel``), coords ``time`` (s), ``channel``, ``ch_type``,
        ``pos_x/y/z`` (m, head frame; NaN when unknown), optional ``region``; attrs ``sfreq``,
        ``montage``, ``coord_frame``, ``source_file``, ``bads``, ``n_bad_samples``, ``steps``, the
        non-finite record (``nonfinite``, ``nonfinite_values``, ``nonfinite_targets``, ...).

    Raises
    ------
    InputError
        Non-finite samples with ``nonfinite="error"`` (naming the file, channels and samples).
    ValueError
        No channel left, bad options, ``h_freq`` above the output Nyquist — naming the file.
    """
    if bad_channels not in ("drop", "interpolate", "keep"):
        raise ValueError(f"bad_channels={bad_channels!r}: expected 'drop', 'interpolate' or 'keep'")
    if bad_segments not in ("nan", "keep"):
        raise ValueError(f"bad_segments={bad_segments!r}: expected 'nan' or 'keep'")
    ica, ssp = artefact_sections(ica, ssp)
    raw, source, bads, steps = _open_run(raw_or_bids_path, h_freq=h_freq, resample=resample, montage=montage)
    data_names, aux = _pick_and_load(raw, picks, bads, bad_channels, keep_aux=bool(ica or ssp), source=source)
    nf_attrs = _repair_channels(raw, data_names, bad_channels, steps, policy=nonfinite,
                                max_fraction=nonfinite_max_fraction, bad_segments=bad_segments, source=source,
                                out_sfreq=resample)
    steps += _reference_and_artefacts(raw, reference, ssp=ssp, ica=ica, seed=seed, aux=aux, source=source)
    steps += _filter_and_resample(raw, notch, l_freq, h_freq, resample, n_jobs)
    values, n_bad = _output_samples(raw, bad_segments, standardize, source)
    return to_dataarray(raw, values, source=source, montage=_montage_name(raw, montage, source),
                        channel_groups=channel_groups,
                        extra_attrs={"bads": bads, "n_bad_samples": n_bad, "steps": steps,
                                     "l_freq": l_freq, "h_freq": h_freq, **nf_attrs})


def check_same_sfreq(recordings: Mapping[str, xr.DataArray]) -> float:
    """The common sampling rate of several preprocessed runs.

    Raises
    ------
    ValueError
        Naming each source and its rate when they differ (set ``resample`` to a common rate).
    """
    rates = {name: float(rec.attrs["sfreq"]) for name, rec in recordings.items()}
    if len(set(rates.values())) > 1:
        listing = ", ".join(f"{k}: {v:g} Hz" for k, v in rates.items())
        raise ValueError(f"runs have different sampling rates ({listing}); preprocess with one `resample` rate")
    return next(iter(rates.values()))
