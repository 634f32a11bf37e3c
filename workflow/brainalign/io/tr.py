"""The repetition time of a BOLD run: NIfTI header, JSON sidecar (with BIDS inheritance) and caller.

Read by preprocessing (:mod:`brainalign.preprocess.fmri`), run planning (:mod:`brainalign.io.bids`)
and the input check (:mod:`brainalign.io.inputs`); it lives in ``io`` so none of them imports another
stage's module for it.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib

from brainalign.io.integrity import bold_sidecar, read_json

#: Two sources of the TR may differ by at most this many seconds (rounding in headers and sidecars).
TR_TOLERANCE = 1e-3


def resolve_tr(img_path: Path | None, header_tr: float | None, tr: float | None = None,
               sidecar: str | os.PathLike | None = None) -> float:
    """The run's repetition time from the NIfTI header, the JSON sidecar and the caller.

    Parameters
    ----------
    img_path
        The BOLD file (its sidecar is found beside it or inherited, unless ``sidecar`` is given).
    header_tr
        The header's TR in seconds (:func:`header_tr`), or None.
    tr
        A TR the caller knows (config), or None.
    sidecar
        The JSON sidecar to read instead of looking for one.

    Returns
    -------
    float
        The TR in seconds, the first source's value when all agree.

    Raises
    ------
    ValueError
        If two sources disagree by more than 1 ms (naming the files and values), or none gives a TR.
    """
    sources: list[tuple[str, float]] = []
    if header_tr is not None and header_tr > 0:
        sources.append((f"{img_path} (NIfTI header pixdim[4])", float(header_tr)))
    side = Path(sidecar) if sidecar is not None else (bold_sidecar(img_path) if img_path is not None else None)
    if side is not None and side.exists():
        meta = read_json(side, what="BOLD sidecar")
        if "RepetitionTime" in meta:
            sources.append((f"{side} (RepetitionTime)", float(meta["RepetitionTime"])))
    if tr is not None:
        sources.append(("the tr argument", float(tr)))
    if not sources:
        raise ValueError(f"{img_path}: no repetition time in the header or a sidecar JSON; pass tr=")
    ref_name, ref = sources[0]
    for name, value in sources[1:]:
        if abs(value - ref) > TR_TOLERANCE:
            raise ValueError(f"{img_path}: TR disagrees: {ref:g} s from {ref_name} vs {value:g} s from {name}; "
                             "fix the header or the sidecar (or pass the right tr=)")
    return ref


def header_tr(img: nib.Nifti1Image) -> float | None:
    """The TR in seconds stored in a NIfTI header (``pixdim[4]``, msec converted), None when unset."""
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not zooms[3] > 0:
        return None
    _, t_unit = img.header.get_xyzt_units()
    return float(zooms[3]) / 1000.0 if t_unit == "msec" else float(zooms[3])
