"""Is a recording complete and consistent with its metadata?  Checked from headers, before compute.

Readers accept damaged files quietly: a ``.eeg`` cut in half is read as a recording half as long
(MNE computes the sample count from the file size), an EDF whose records were cut off is read with a
warning, a truncated FIF loses its last buffers, and a truncated ``.nii.gz`` fails with a raw
``EOFError`` deep inside nilearn.  The checks here compare what a file holds with what its own header
and its BIDS sidecar say, cheaply (header bytes, file sizes, the gzip trailer), and stop with an
:class:`~brainalign.errors.InputError` that names the file, the field, what was expected and what
was found.  The preprocessing readers call them at their few entry points
(:func:`brainalign.preprocess.fmri.preprocess_fmri`, :func:`brainalign.preprocess.meeg.read_raw`,
:func:`brainalign.io.bids.recording_duration`), and so does the input check (``rule check_inputs``,
:mod:`brainalign.io.inputs`).

Functions
---------
read_json(path, what)                  a JSON sidecar as a dict; bad JSON names the file, line and column
bold_sidecar(path)                     the JSON a BOLD file's TR comes from (sibling, else inherited task-<x>_bold.json)
load_nifti(path)                       a NIfTI image whose data size matches its header (gzip ISIZE trailer)
nifti_reading(path)                    context: EOF / corrupt gzip while reading voxels -> InputError
check_nifti_size(path, img)            the size check alone (raises when the data are shorter than the header says)
brainvision_files(vhdr)                DataFile and MarkerFile named by a BrainVision header
check_recording_file(path)             format checks of an M/EEG file (companions present, size its header implies)
read_meeg_header(path)                 (n_times, sfreq, channel names) of an M/EEG file, header only, checked
check_recording_length(...)            samples vs the sidecar's RecordingDuration and SamplingFrequency
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Iterator, Mapping

from brainalign.errors import InputError, MissingInputError

PathLike = str | os.PathLike


# ------------------------------------------------------------------------------------ JSON
def read_json(path: PathLike, *, what: str = "JSON sidecar") -> dict:
    """A JSON file holding one object (a BIDS sidecar), with errors that name the file and position.

    Parameters
    ----------
    path
        The file.
    what
        What it is, for messages (``"BOLD sidecar"``, ``"EEG sidecar"``).

    Returns
    -------
    dict
        The object.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        Empty, not UTF-8, not valid JSON (naming line and column, and quoting the line), or not an
        object at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, f"{what} not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(path, f"{what} is empty ({len(raw)} bytes)",
                         expected='a JSON object such as {"RepetitionTime": 2.0}')
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"{what} is not UTF-8 text (byte {err.start})", expected="UTF-8 JSON") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        lines = text.splitlines()
        shown = lines[err.lineno - 1].strip()[:80] if 0 < err.lineno <= len(lines) else ""
        raise InputError(path, f"{what} is not valid JSON: {err.msg}" + (f" in {shown!r}" if shown else ""),
                         field=f"line {err.lineno}, column {err.colno}",
                         expected="a JSON object (double-quoted keys and strings, no trailing comma)") from None
    if not isinstance(value, dict):
        raise InputError(path, f"{what} holds a JSON {type(value).__name__}, not an object",
                         expected='a JSON object {"Key": value, ...}')
    return value


def bold_sidecar(path: PathLike) -> Path:
    """The JSON sidecar a BOLD file's TR is read from: its sibling ``<name>.json`` if it exists, else
    the nearest inherited ``task-<label>_bold.json`` in a parent folder up to the dataset root (the
    first folder holding ``dataset_description.json``); else the (absent) sibling."""
    path = Path(path)
    name = re.sub(r"(\.nii(\.gz)?|\.func\.gii|\.gii)$", "", path.name)
    sibling = path.with_name(name + ".json")
    task = re.search(r"task-([A-Za-z0-9]+)", path.name)
    if sibling.exists() or task is None:
        return sibling
    for folder in path.parents:
        candidate = folder / f"task-{task.group(1)}_bold.json"
        if candidate.exists():
            return candidate
        if (folder / "dataset_description.json").exists():
            break
    return sibling


# ----------------------------------------------------------------------------------- NIfTI
def _nifti_layout(img) -> tuple[int, int]:
    """(offset of the voxel data, bytes of voxel data) implied by a NIfTI header."""
    offset = int(getattr(img.dataobj, "offset", 0) or img.header.get_data_offset())
    n_voxels = math.prod(int(s) for s in img.shape)
    return offset, n_voxels * img.header.get_data_dtype().itemsize


def _gzip_isize(path: Path) -> int | None:
    """The gzip trailer's ISIZE: uncompressed length mod 2**32 of the (last) member."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() < 18:  # 10-byte header + 8-byte trailer
            return None
        fh.seek(-4, os.SEEK_END)
        return struct.unpack("<I", fh.read(4))[0]


def _gzip_length(path: Path, stop: float = math.inf) -> tuple[int, str | None]:
    """Uncompressed bytes of a gzip file (counting stops past ``stop``) and what ended the stream early.

    Decompressed block by block with zlib (nothing kept), member after member, so that a truncated
    stream still reports how far it got; zlib checks each member's CRC-32 and length at its end.
    """
    total, decomp, open_member = 0, zlib.decompressobj(wbits=31), False
    with open(path, "rb") as fh:
        while total <= stop:
            block = fh.read(1 << 20)
            if not block:
                break
            while block:
                open_member = True
                try:
                    total += len(decomp.decompress(block))
                except zlib.error as err:
                    return total, f"corrupt compressed data: {err}"
                if not decomp.eof:
                    break
                # end of a member; a further member may follow (anything else, e.g. zero padding or a
                # stray byte, is ignored as gzip and nibabel ignore it)
                block, decomp, open_member = decomp.unused_data, zlib.decompressobj(wbits=31), False
                if block and not block.startswith(b"\x1f\x8b"[:len(block)]):
                    return total, None
    if open_member and total <= stop:
        return total, "the compressed stream ends before its end-of-stream marker"
    return total, None


def _volumes(img, nbytes: int, offset: int) -> str:
    """'k of T volumes' for a 4D image with ``nbytes`` of file data."""
    if len(img.shape) < 4 or img.shape[3] < 1:
        return ""
    per_volume = math.prod(int(s) for s in img.shape[:3]) * img.header.get_data_dtype().itemsize
    whole = max(0, nbytes - offset) // per_volume if per_volume else 0
    return f"; {min(whole, img.shape[3])} of {img.shape[3]} volumes complete"


def check_nifti_size(path: PathLike, img=None, *, verify: bool = False) -> None:
    """Stop when a NIfTI file holds fewer data bytes than its header implies.

    ``.nii``: the file size.  ``.nii.gz``: the gzip trailer's ISIZE (uncompressed size mod 2**32),
    read from the last 4 bytes; only when it disagrees (a truncated file, or a file of several gzip
    members) is the stream decompressed to count the bytes, so a good file costs one seek.  With
    ``verify`` the whole stream is decompressed and its CRC-32 checked: damaged bytes inside a file
    of the right length decode to wrong voxels without any error from nibabel, which stops reading
    before the trailer (one extra decompression; the preprocessing reads every voxel anyway).

    Raises
    ------
    InputError
        Naming the file, the size found, the size the header implies (shape, data type, offset) and
        how many volumes are complete.
    """
    import nibabel as nib

    path = Path(path)
    img = img if img is not None else nib.load(str(path))
    offset, nbytes = _nifti_layout(img)
    expected = offset + nbytes
    layout = f"{offset} header bytes + {'x'.join(map(str, img.shape))} voxels of {img.header.get_data_dtype()}"
    if path.name.endswith(".gz"):
        isize = _gzip_isize(path)
        if isize == expected % (1 << 32) and not verify:
            return
        found, error = _gzip_length(path, math.inf if verify else expected)
        if found >= expected and error is None:
            return  # several gzip members (the trailer is the last member's): complete
        if error and error.startswith("corrupt"):
            where = f" after {found} uncompressed bytes" if found else ""
            raise InputError(path, f"the gzip stream is damaged{where} ({error})",
                             field="compressed data", expected=f"an intact gzip stream of {expected} bytes ({layout})",
                             hint="was the file damaged while copying or downloading?")
        problem = (f"truncated: the gzip stream ends after {found} uncompressed bytes"
                   + (f" ({error})" if error else "") + _volumes(img, found, offset))
    else:
        found = path.stat().st_size
        if found >= expected:
            return
        problem = f"truncated: {found} bytes on disk" + _volumes(img, found, offset)
    raise InputError(path, problem, field="data size", expected=f"{expected} bytes as the header implies ({layout})",
                     hint="was the file cut off while copying or downloading?")


def load_nifti(path: PathLike, *, what: str = "NIfTI image", verify: bool = False):
    """``nibabel.load`` with a readable error for a damaged header and a check of the data size
    (``verify``: and of the whole compressed stream, see :func:`check_nifti_size`).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The header cannot be read, or the data are shorter than the header implies
        (:func:`check_nifti_size`).
    """
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise MissingInputError(path, f"{what} not found")
    try:
        img = nib.load(str(path))
    except (nib.filebasedimages.ImageFileError, EOFError, OSError, zlib.error, ValueError, struct.error) as err:
        raise InputError(path, f"cannot read the {what}'s header ({type(err).__name__}: {err})",
                         expected="a complete NIfTI-1/2 image (.nii or gzip-compressed .nii.gz)") from None
    if isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        check_nifti_size(path, img, verify=verify)
    return img


@contextlib.contextmanager
def nifti_reading(path: PathLike) -> Iterator[None]:
    """Turn the errors of reading voxels from a damaged file into an :class:`InputError` naming it.

    nibabel reads voxels lazily (nilearn asks for them deep inside masking), so a file whose size
    check passed but whose compressed stream is corrupt still fails there with ``EOFError``,
    ``zlib.error`` or ``gzip.BadGzipFile``.
    """
    try:
        yield
    except InputError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(path, f"cannot read the voxel data ({type(err).__name__}: {err})",
                         expected="a complete, uncorrupted NIfTI image",
                         hint="was the file cut off while copying or downloading?") from None
    except OSError as err:
        if "Expected" in str(err) and "bytes" in str(err):  # nibabel's short read of a .nii
            raise InputError(path, f"cannot read the voxel data ({err})".replace("\n", " "),
                             expected="a complete NIfTI image") from None
        raise


# ------------------------------------------------------------------------------- BrainVision
_BV_BYTES = {"INT_16": 2, "UINT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4}


def _ini_sections(path: Path) -> dict[str, dict[str, str]]:
    """Sections of a BrainVision ``.vhdr``/``.vmrk`` (INI-like; keys as written, section names lower-case)."""
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as err:
        raise InputError(path, f"cannot be read ({err})") from None
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip().lower(), {})
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections


def brainvision_files(vhdr: PathLike) -> dict[str, Path | None]:
    """The files a BrainVision header names: ``{"DataFile": path, "MarkerFile": path or None}``.

    Paths are resolved against the header's folder (as MNE does).  Existence is not checked here.

    Raises
    ------
    InputError
        No ``DataFile`` entry in ``[Common Infos]``.
    """
    vhdr = Path(vhdr)
    common = _ini_sections(vhdr).get("common infos", {})
    if not common.get("DataFile"):
        raise InputError(vhdr, "no DataFile entry", field="[Common Infos] DataFile",
                         expected="the name of the binary data file (.eeg)")
    out: dict[str, Path | None] = {"DataFile": vhdr.parent / common["DataFile"]}
    out["MarkerFile"] = vhdr.parent / common["MarkerFile"] if common.get("MarkerFile") else None
    return out


def _check_brainvision(vhdr: Path) -> None:
    sections = _ini_sections(vhdr)
    files = brainvision_files(vhdr)
    for entry, path in files.items():
        if path is not None and not path.is_file():
            raise MissingInputError(vhdr, f"{entry}={path.name} names {path}, which does not exist",
                                    field=f"[Common Infos] {entry}",
                                    expected=f"the {'binary data' if entry == 'DataFile' else 'marker'} file "
                                             "beside the header (BIDS: the header's name with "
                                             f"{'.eeg' if entry == 'DataFile' else '.vmrk'})")
    common, binary = sections.get("common infos", {}), sections.get("binary infos", {})
    if common.get("DataFormat", "BINARY").upper() != "BINARY":
        return  # ASCII data: no fixed sample size to check
    try:
        n_channels = int(common["NumberOfChannels"])
    except (KeyError, ValueError):
        raise InputError(vhdr, f"NumberOfChannels={common.get('NumberOfChannels')!r}",
                         field="[Common Infos] NumberOfChannels", expected="a positive integer") from None
    width = _BV_BYTES.get(binary.get("BinaryFormat", "").upper())
    if width is None or n_channels < 1:
        return
    data = files["DataFile"]
    size = data.stat().st_size
    frame = n_channels * width
    if size % frame:
        raise InputError(data, f"truncated: {size} bytes is not a whole number of samples "
                               f"({size // frame} samples of {n_channels} channels x {width} bytes, "
                               f"then {size % frame} stray bytes)", field="file size",
                         expected=f"a multiple of {frame} bytes ({vhdr.name}: {n_channels} channels of "
                                  f"{binary.get('BinaryFormat')})",
                         hint="was the file cut off while copying or downloading?")
    n_samples = size // frame
    marker = files["MarkerFile"]
    if marker is None:
        return
    # Markers the amplifier wrote after the last sample on disk: the data file lost its end.
    last = None
    for key, value in _ini_sections(marker).get("marker infos", {}).items():
        parts = value.split(",")
        if len(parts) >= 3 and parts[2].strip().lstrip("-").isdigit():
            position = int(parts[2])
            if last is None or position > last[1]:
                last = (key, position, parts[0], parts[1])
    if last is not None and last[1] > n_samples:
        key, position, kind, desc = last
        raise InputError(marker, f"marker {key} ({kind} {desc}".rstrip() + f") is at sample {position}, after the "
                                 f"last sample ({n_samples}) of {data.name}", field=f"[Marker Infos] {key}",
                         expected=f"marker positions <= {n_samples} ({data.name}: {size} bytes = {n_samples} "
                                  f"samples x {n_channels} channels x {width} bytes)",
                         hint=f"{data.name} looks truncated")


# ---------------------------------------------------------------------------------- EDF / BDF
def _check_edf(path: Path) -> None:
    """Data records on disk vs the number the EDF/BDF header declares."""
    with open(path, "rb") as fh:
        head = fh.read(256)
        if len(head) < 256:
            raise InputError(path, f"truncated: {len(head)} bytes, shorter than the 256-byte EDF header",
                             field="header", expected="a complete EDF/BDF file")
        try:
            header_bytes = int(head[184:192].decode("ascii").strip())
            n_records = int(head[236:244].decode("ascii").strip())
            n_signals = int(head[252:256].decode("ascii").strip())
        except ValueError:
            raise InputError(path, "header fields 'number of bytes in header', 'number of data records' or "
                                   "'number of signals' are not integers", field="header bytes 184-256",
                             expected="an EDF/BDF header") from None
        # samples per record of each signal: 8 ASCII bytes per signal at 256 + 216 * ns
        fh.seek(256 + 216 * n_signals)
        raw = fh.read(8 * n_signals)
    if len(raw) < 8 * n_signals:
        raise InputError(path, "truncated inside the signal headers", field="header",
                         expected=f"{header_bytes} header bytes")
    try:
        per_record = sum(int(raw[8 * i:8 * i + 8].decode("ascii").strip()) for i in range(n_signals))
    except ValueError:
        raise InputError(path, "'number of samples in each data record' is not an integer",
                         field="signal headers", expected="integers") from None
    width = 3 if path.suffix.lower() == ".bdf" else 2
    record_bytes = per_record * width
    size = path.stat().st_size
    if n_records < 0 or record_bytes <= 0:
        return  # -1: recording not stopped properly; MNE counts the records from the size
    expected = header_bytes + n_records * record_bytes
    if size < expected:
        whole = max(0, size - header_bytes) // record_bytes
        raise InputError(path, f"truncated: {size} bytes on disk hold {whole} complete data record(s)",
                         field="number of data records (header bytes 236-244)",
                         expected=f"{n_records} records of {record_bytes} bytes after a {header_bytes}-byte header "
                                  f"= {expected} bytes",
                         hint="was the file cut off while copying or downloading?")


# ------------------------------------------------------------------------------------- FIF
def _check_fif(path: Path) -> None:
    """Walk the FIF tag headers: a tag running past the end, or no end-of-file tag, is a truncation.

    One 16-byte read per tag (about one per data buffer), far cheaper than reading the data.
    """
    size = path.stat().st_size
    pos, n_tags = 0, 0
    with open(path, "rb") as fh:
        while True:
            fh.seek(pos)
            head = fh.read(16)
            if len(head) < 16:
                break
            kind, _type, nbytes, nxt = struct.unpack(">iiii", head)
            n_tags += 1
            end = pos + 16 + nbytes
            if nbytes < 0 or end > size:
                raise InputError(path, f"truncated: tag {n_tags} (kind {kind}) at byte {pos} needs {nbytes} data "
                                       f"bytes, the file ends at byte {size}", field="FIF tag structure",
                                 expected="a complete FIF file ending with its last tag",
                                 hint="was the file cut off while copying or downloading?")
            if nxt == -1:
                return
            pos = end if nxt == 0 else nxt
            if pos >= size:
                break
    raise InputError(path, f"truncated: the file ends at byte {size} after {n_tags} tag(s) without the last tag",
                     field="FIF tag structure", expected="a complete FIF file ending with its last tag",
                     hint="was the file cut off while copying or downloading?")


# ---------------------------------------------------------------------------------- dispatch
def check_recording_file(path: PathLike) -> None:
    """Format-level checks of an M/EEG recording file, from its header bytes and file sizes.

    BrainVision (``.vhdr``): the ``DataFile`` and ``MarkerFile`` it names exist (the error names the
    header and the entry), the data file holds a whole number of samples, and no marker lies after
    the last sample.  EDF/BDF: the file holds the data records the header declares.  FIF (and each
    split part): every tag lies inside the file and the last tag is there.  EEGLAB (``.set``): see
    :func:`read_meeg_header`, which reads the header.  Other formats: nothing here.

    Raises
    ------
    MissingInputError, InputError
        Naming the file, the field, what was expected and what was found.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(path, "recording not found")
    suffix = path.suffix.lower()
    if suffix == ".vhdr":
        _check_brainvision(path)
    elif suffix in (".edf", ".bdf"):
        _check_edf(path)
    elif suffix == ".fif" and path.is_file():
        for part in fif_parts(path):
            _check_fif(part)


def fif_parts(path: PathLike) -> list[Path]:
    """A FIF file and the further parts of a split recording (``_split-02`` ..., BIDS naming)."""
    path = Path(path)
    match = re.search(r"_split-(\d+)_", path.name)
    if not match:
        return [path]
    parts = [path]
    number = int(match.group(1))
    while True:
        number += 1
        nxt = path.with_name(path.name.replace(match.group(0), f"_split-{number:0{len(match.group(1))}d}_"))
        if not nxt.exists():
            return parts
        parts.append(nxt)


def read_meeg_header(path: PathLike):
    """An M/EEG recording opened without loading data (``mne.io.read_raw(preload=False)``), checked.

    Returns
    -------
    mne.io.BaseRaw
        Not loaded; ``n_times``, ``info["sfreq"]`` and ``ch_names`` come from the header.

    Raises
    ------
    MissingInputError, InputError
        :func:`check_recording_file`'s findings; a header MNE cannot read (naming the file and MNE's
        error); an EEGLAB ``.fdt`` missing or shorter than ``nbchan x pnts`` float32 values.
    """
    import warnings

    import mne

    path = Path(path)
    check_recording_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            raw = mne.io.read_raw(path, preload=False, verbose="error")
    except FileNotFoundError as err:
        raise MissingInputError(path, f"a file it refers to does not exist ({err})",
                                expected="the recording's data file beside it") from None
    except (ValueError, RuntimeError, OSError, EOFError, KeyError, struct.error) as err:
        raise InputError(path, f"MNE cannot read its header ({type(err).__name__}: {err})",
                         expected="a complete recording in a format MNE reads") from None
    if path.suffix.lower() == ".set":
        extras = raw._raw_extras[0] if raw._raw_extras else {}
        fdt = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else None
        if fdt is not None and fdt.suffix.lower() == ".fdt" and not extras.get("is_embedded", False):
            n_channels = int(extras.get("orig_nchan", len(raw.ch_names)))
            expected = n_channels * raw.n_times * 4
            size = fdt.stat().st_size
            if size < expected:
                raise InputError(fdt, f"truncated: {size} bytes hold {size // (4 * n_channels)} of the "
                                      f"{raw.n_times} samples {path.name} declares", field="file size",
                                 expected=f"{expected} bytes ({n_channels} channels x {raw.n_times} samples x "
                                          "4-byte floats, EEG.nbchan x EEG.pnts)",
                                 hint="was the file cut off while copying or downloading?")
    return raw


@contextlib.contextmanager
def recording_reading(path: PathLike) -> Iterator[None]:
    """Turn MNE's errors on reading a damaged data file into an :class:`InputError` naming it
    (e.g. KIT ``cannot reshape array``, FIF ``buffer size must be a multiple``)."""
    try:
        yield
    except InputError:
        raise
    except (ValueError, RuntimeError, OSError, EOFError, struct.error) as err:
        raise InputError(path, f"the samples cannot be read ({type(err).__name__}: {err})",
                         expected="a complete recording whose data match its header",
                         hint="was the file cut off while copying or downloading?") from None


# ------------------------------------------------------------------------------ vs sidecar
def _decimals(value: float) -> int:
    """Decimal places of a number as written (shortest repr): 600 -> 0, 600.5 -> 1."""
    text = repr(value)
    if "e" in text or "E" in text:
        return 6
    return len(text.split(".")[1]) if "." in text and not float(value).is_integer() else (
        1 if isinstance(value, float) and "." in text else 0)


def duration_tolerance(sidecar_value: float, sfreq: float) -> float:
    """Seconds two durations may differ: two samples (BIDS ``RecordingDuration`` is often the last
    sample's time, ``(n - 1) / sfreq``) plus the rounding of the value as written (600 -> 0.5 s)."""
    return 2.0 / sfreq + 0.5 * 10.0 ** (-_decimals(sidecar_value))


def check_recording_length(source: PathLike, n_times: int, sfreq: float, sidecar: Mapping | None,
                           sidecar_path: PathLike | None = None) -> list[str]:
    """The recording's samples against its sidecar's ``SamplingFrequency`` and ``RecordingDuration``.

    Parameters
    ----------
    source
        The recording (named in messages).
    n_times, sfreq
        Samples and sampling rate read from the file.
    sidecar
        The BIDS sidecar (dict), or None.
    sidecar_path
        Its file (named in messages).

    Returns
    -------
    list[str]
        Notes on what could not be checked (no sidecar, no RecordingDuration).

    Raises
    ------
    InputError
        The sampling rates differ, or the duration differs by more than :func:`duration_tolerance`
        (a truncated or padded recording, or a stale sidecar), naming both files, field, expected
        and found values.
    """
    notes: list[str] = []
    if not sidecar:
        return [f"{source}: no sidecar JSON; length not checked against RecordingDuration"]
    where = sidecar_path or "sidecar"
    declared = sidecar.get("SamplingFrequency")
    if isinstance(declared, (int, float)) and not isinstance(declared, bool) and declared > 0:
        if abs(float(declared) - sfreq) > max(1e-6 * sfreq, 0.5 * 10.0 ** (-_decimals(declared))):
            raise InputError(where, f"SamplingFrequency is {declared:g} Hz but {Path(source).name} is sampled at "
                                    f"{sfreq:g} Hz", field="SamplingFrequency",
                             expected=f"{sfreq:g} (the rate in the recording's header)")
    duration = sidecar.get("RecordingDuration")
    found = n_times / sfreq
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > 0:
        tolerance = duration_tolerance(duration, sfreq)
        if abs(found - float(duration)) > tolerance:
            shorter = found < float(duration)
            raise InputError(source, f"holds {found:.3f} s ({n_times} samples at {sfreq:g} Hz) but {where} says "
                                     f"RecordingDuration {duration:g} s", field="RecordingDuration",
                             expected=f"{float(duration):g} s within {tolerance:.3g} s",
                             hint="the data file looks truncated" if shorter else
                                  "the recording is longer than its sidecar says: a stale sidecar?")
    else:
        notes.append(f"{where}: no RecordingDuration; length checked against events only")
    return notes
