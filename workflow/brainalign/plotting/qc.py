"""Per-run QC figures (rules of workflow/rules/qc.smk): fMRI tSNR, motion and confounds, carpet plot;
MEG/EEG/iEEG power spectra before/after preprocessing, bad channels, segments and removed components.

Each function draws one figure from a :class:`brainalign.qc.fmri.FmriQC` or
:class:`brainalign.qc.meeg.MeegQC` and saves it atomically (format from the suffix).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from brainalign.plotting.figure_io import new_figure, save_figure
from brainalign.qc.fmri import FD_THRESHOLD_MM, FmriQC
from brainalign.qc.meeg import MeegQC


def _note(ax, lines: list[str]) -> None:
    """What could not be shown, written on the axes instead of an empty panel."""
    ax.axis("off")
    ax.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=10, wrap=True, transform=ax.transAxes)


# ---------------------------------------------------------------------------------------- fMRI
def plot_tsnr(qc: FmriQC, path: str | os.PathLike, title: str = "") -> Path:
    """Axial slices of the tSNR map (voxels of the retained volumes) and the tSNR histogram of the
    targets the encoder uses, with their median."""
    fig = new_figure(12.0, 3.6)
    grid = fig.add_gridspec(2, 7, width_ratios=[1, 1, 1, 1, 1, 1, 2.2], hspace=0.05, wspace=0.05)
    values = qc.tsnr_values
    vmax = float(np.percentile(values, 99)) if values.size else 1.0
    if qc.tsnr_map is not None:
        vol = qc.tsnr_map
        zs = np.flatnonzero(vol.max(axis=(0, 1)) > 0)
        zs = zs if zs.size else np.arange(vol.shape[2])
        picks = np.unique(np.linspace(zs[0], zs[-1], 12).round().astype(int))
        image = None
        for k, z in enumerate(picks[:12]):
            ax = fig.add_subplot(grid[k // 6, k % 6])
            image = ax.imshow(vol[:, :, z].T, origin="lower", cmap="viridis", vmin=0, vmax=vmax)
            ax.set_xticks([]), ax.set_yticks([])
            mm = (qc.affine @ np.array([0, 0, z, 1]))[2] if qc.affine is not None else z
            ax.text(0.03, 0.05, f"z={mm:.0f}", color="white", fontsize=7, transform=ax.transAxes)
        if image is not None:
            fig.colorbar(image, ax=fig.axes, location="left", fraction=0.02, pad=0.01, label="tSNR")
    else:
        _note(fig.add_subplot(grid[:, :6]), ["no volume tSNR map", *qc.notes])
    ax = fig.add_subplot(grid[:, 6])
    if values.size:
        med = float(np.median(values))
        ax.hist(values, bins=50, color="0.5")
        ax.axvline(med, color="crimson", lw=1.5, label=f"median {med:.1f}")
        ax.set_xlabel("tSNR (mean / SD over time)"), ax.set_ylabel("targets")
        ax.yaxis.set_label_position("right"), ax.yaxis.tick_right()
        ax.legend(frameon=False, fontsize=8)
    else:
        _note(ax, qc.notes or ["no tSNR"])
    fig.suptitle(title or "temporal SNR", fontsize=11)
    return save_figure(fig, path)


def plot_motion_confounds(qc: FmriQC, path: str | os.PathLike, title: str = "") -> Path:
    """Framewise displacement over the whole run (dropped volumes shaded, the 0.5 mm threshold drawn)
    and every confound regressor regressed (z-scored, one row each)."""
    fig = new_figure(11.0, 6.0)
    n_conf = qc.confounds.shape[1]
    grid = fig.add_gridspec(2, 1, height_ratios=[1, max(1.2, min(3.0, 0.2 * n_conf))], hspace=0.35)
    ax = fig.add_subplot(grid[0])
    if qc.fd is not None:
        t = np.arange(qc.fd.size) * qc.tr
        ax.plot(t, qc.fd, color="k", lw=1)
        ax.axhline(FD_THRESHOLD_MM, color="crimson", ls="--", lw=1, label=f"{FD_THRESHOLD_MM:g} mm")
        _shade_dropped(ax, qc)
        kept = qc.fd[qc.kept]
        ax.set_title(f"framewise displacement (Power et al. 2012, 50 mm head): mean {kept.mean():.3f} mm, "
                     f"max {kept.max():.3f} mm, {(kept > FD_THRESHOLD_MM).sum()} of {kept.size} volumes > "
                     f"{FD_THRESHOLD_MM:g} mm", fontsize=9)
        ax.set_ylabel("FD (mm)"), ax.set_xlabel("time (s)")
        ax.set_xlim(0, max(t[-1], qc.tr))
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    else:
        _note(ax, ["no framewise displacement", *qc.notes])
    ax = fig.add_subplot(grid[1])
    if n_conf:
        values = qc.confounds.to_numpy(dtype=float)
        sd = values.std(axis=0)
        sd[sd == 0] = 1.0
        z = (values - values.mean(axis=0)) / sd
        t0, t1 = qc.kept[0] * qc.tr, (qc.kept[-1] + 1) * qc.tr
        ax.imshow(z.T, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="nearest",
                  extent=(t0, t1, n_conf - 0.5, -0.5))
        ax.set_yticks(range(n_conf))
        ax.set_yticklabels(qc.confounds.columns, fontsize=max(5, 9 - n_conf // 10))
        ax.set_xlabel("time (s)")
        ax.set_title(f"{n_conf} confound regressors regressed out (z-scored for display)", fontsize=9)
    else:
        _note(ax, ["no confound regressed", *qc.notes])
    fig.suptitle(title or "motion and confounds", fontsize=11)
    return save_figure(fig, path)


def _shade_dropped(ax, qc: FmriQC) -> None:
    """Grey out the volumes preprocessing dropped (drop_initial_trs / trim_end_trs)."""
    n = qc.fd.size if qc.fd is not None else qc.kept[-1] + 1
    if qc.kept[0] > 0:
        ax.axvspan(0, qc.kept[0] * qc.tr, color="0.85", label="dropped")
    if qc.kept[-1] < n - 1:
        ax.axvspan((qc.kept[-1] + 1) * qc.tr, n * qc.tr, color="0.85")


def plot_carpet(qc: FmriQC, path: str | os.PathLike, title: str = "") -> Path:
    """Carpet plot (Power 2017): every target's raw BOLD over the retained volumes, detrended and
    z-scored, with the framewise displacement above on the same time axis."""
    fig = new_figure(11.0, 6.0)
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 4], hspace=0.08)
    t0, t1 = qc.kept[0] * qc.tr, (qc.kept[-1] + 1) * qc.tr
    ax_fd = fig.add_subplot(grid[0])
    if qc.fd is not None:
        ax_fd.plot(qc.kept * qc.tr, qc.fd[qc.kept], color="k", lw=1)
        ax_fd.axhline(FD_THRESHOLD_MM, color="crimson", ls="--", lw=1)
        ax_fd.set_ylabel("FD (mm)")
    else:
        ax_fd.plot(qc.kept * qc.tr, qc.carpet.mean(axis=0), color="k", lw=1)
        ax_fd.set_ylabel("mean")
    ax_fd.set_xlim(t0, t1), ax_fd.set_xticks([])
    ax = fig.add_subplot(grid[1])
    ax.imshow(qc.carpet, aspect="auto", cmap="gray", vmin=-2, vmax=2, interpolation="nearest",
              extent=(t0, t1, qc.carpet.shape[0], 0))
    ax.set_xlabel("time (s)"), ax.set_ylabel(f"targets ({qc.carpet.shape[0]} shown)")
    fig.suptitle(title or "carpet plot", fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------- MEG/EEG
def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(power, np.finfo(float).tiny))


def _mark_freqs(ax, qc: MeegQC, top: float) -> None:
    marks = qc.marks
    if marks.get("band") and marks["band"][0] < top:  # the envelope's spectrum lies below the band
        ax.axvspan(*marks["band"], color="gold", alpha=0.25, label=f"high gamma {marks['band'][0]:g}-{marks['band'][1]:g} Hz")
    for key, colour in (("l_freq", "tab:blue"), ("h_freq", "tab:blue")):
        if marks.get(key) is not None and 0 < marks[key] <= top:
            ax.axvline(marks[key], color=colour, ls="--", lw=1, label="band-pass edges" if key == "h_freq" or
                       marks.get("h_freq") is None else None)
    for i, f in enumerate(marks.get("notch") or []):
        if f <= top:
            ax.axvline(f, color="crimson", ls=":", lw=1.2, label="notch" if i == 0 else None)


def plot_psd(qc: MeegQC, path: str | os.PathLike, title: str = "") -> Path:
    """Power spectra of the recording as read and of the preprocessed channels (mean over channels in
    dB, each channel thin), with the band-pass edges, the notched line frequencies and (iEEG) the
    high-gamma band marked."""
    fig = new_figure(11.0, 4.2)
    axes = fig.subplots(1, 2)
    for ax, freqs, power, what in ((axes[0], qc.freqs_before, qc.psd_before, "before (as recorded)"),
                                   (axes[1], qc.freqs_after, qc.psd_after, "after preprocessing")):
        db = _db(power)
        keep = freqs > 0
        for row in db[: 64]:
            ax.plot(freqs[keep], row[keep], color="0.7", lw=0.4)
        ax.plot(freqs[keep], db.mean(axis=0)[keep], color="k", lw=1.5, label=f"mean of {len(db)} channels")
        _mark_freqs(ax, qc, float(freqs[-1]))
        ax.set_xlabel("frequency (Hz)")
        ax.set_xlim(freqs[keep][0], freqs[-1])
        ax.set_title(what, fontsize=10)
        ax.legend(frameon=True, framealpha=0.8, fontsize=7, loc="best")
    unit = {"meg": "T²/Hz", "ieeg": "V²/Hz"}.get(qc.modality, "V²/Hz")
    axes[0].set_ylabel(f"power (dB re 1 {unit})")
    after = "envelope (z-scored)" if qc.modality == "ieeg" else "z-scored"
    axes[1].set_ylabel(f"power (dB, {after} units²/Hz)")
    fig.suptitle(title or "power spectral density", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def artefact_summary(removed: Mapping[str, list], steps: Sequence[str]) -> list[str]:
    """The lines of the artefact panel: ICA components and SSP projectors removed, and the steps.

    ``removed`` is :func:`brainalign.qc.meeg.removed_components` of the store's ``steps``; a method
    that did not run says which setting switches it on (``preprocess.meeg.ica.enabled``, ``ssp``).
    """
    ica = removed.get("ica")
    ssp = {k: v for k, v in removed.items() if k.startswith("ssp")}
    if ica:
        ica_line = f"ICA: components {ica} removed"
    else:
        ica_line = ("ICA: fitted, no component removed" if "ica" in removed
                    else "ICA: not run (preprocess.meeg.ica.enabled: false)")
    ssp_line = ("SSP: " + ", ".join(f"{k[4:].upper()} {v[0]} projector(s)" for k, v in ssp.items()) if ssp
                else "SSP: not run (preprocess.meeg.ssp.eog/ecg: 0 projectors)")
    return [ica_line, ssp_line, "steps: " + " → ".join(steps)]


def plot_bads(qc: MeegQC, path: str | os.PathLike, title: str = "") -> Path:
    """Channel positions with the bad channels marked, the ``BAD`` segments on the recording's time
    line, and the ICA components / SSP projectors removed."""
    fig = new_figure(11.0, 4.5)
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.6], height_ratios=[1, 1.2], wspace=0.25, hspace=0.5)
    ax = fig.add_subplot(grid[:, 0])
    names = list(qc.positions)
    xyz = np.array([qc.positions[n] for n in names], dtype=float).reshape(-1, 3)
    placed = np.isfinite(xyz).all(axis=1) & (np.abs(xyz).sum(axis=1) > 0)
    if placed.sum() >= 3:
        bad = np.array([n in qc.bads for n in names])
        ax.scatter(xyz[placed & ~bad, 0], xyz[placed & ~bad, 1], s=18, color="0.4", label="good")
        ax.scatter(xyz[placed & bad, 0], xyz[placed & bad, 1], s=60, marker="x", color="crimson", label="bad")
        for n, (x, y, _), b, p in zip(names, xyz, bad, placed):
            if p:
                ax.annotate(n, (x, y), fontsize=5 if not b else 7, color="crimson" if b else "0.3",
                            xytext=(2, 2), textcoords="offset points")
        ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        ax.set_title(f"{len(qc.bads)} bad of {len(names)} channels (top view)", fontsize=9)
    else:
        _note(ax, [f"{len(qc.bads)} bad of {len(names)} channels", ", ".join(qc.bads) or "(none)",
                   "(no channel positions)"])
    ax = fig.add_subplot(grid[0, 1])
    for _, seg in qc.segments.iterrows():
        ax.axvspan(seg["onset"], seg["onset"] + max(seg["duration"], qc.duration / 2000), color="crimson", alpha=0.6)
    total = float(qc.segments["duration"].sum()) if len(qc.segments) else 0.0
    if not len(qc.segments):
        ax.text(0.5, 0.5, "no BAD segment (events.tsv or detected)", ha="center", va="center", color="0.4", transform=ax.transAxes)
    ax.set_xlim(0, qc.duration), ax.set_yticks([]), ax.set_xlabel("time (s)")
    ax.set_title(f"{len(qc.segments)} BAD segments, {total:.1f} s of {qc.duration:.1f} s "
                 f"({qc.n_bad_samples} output samples set to NaN)", fontsize=9)
    ax = fig.add_subplot(grid[1, 1])
    lines = artefact_summary(qc.removed, qc.steps)
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8, wrap=True, transform=ax.transAxes)
    fig.suptitle(title or "bad channels, segments, removed components", fontsize=11)
    return save_figure(fig, path)
