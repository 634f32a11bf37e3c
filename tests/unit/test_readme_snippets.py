"""The README's "Use the library without Snakemake" snippets run as they are and do what they say.

Each ```python block of that section is run in a fresh namespace, in a temporary working
directory, exactly as written in README.md; the test then checks what the snippet promises (shapes,
dimension names, coordinates, the files it writes).  Editing a snippet so that it breaks, or so
that it stops producing what the README says, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Use the library without Snakemake"
MAX_LINES = 16  # "about ten lines each": code lines, imports included, blank lines and comments not


def readme_snippets() -> list[str]:
    """The ```python blocks of the README section, in order."""
    text = (REPO / "README.md").read_text()
    assert SECTION in text, f"README.md lacks the section {SECTION!r}"
    body = text.split(SECTION, 1)[1]
    body = re.split(r"^## ", body, maxsplit=1, flags=re.MULTILINE)[0]
    return re.findall(r"^```python\n(.*?)^```", body, flags=re.MULTILINE | re.DOTALL)


SNIPPETS = readme_snippets()


def run_snippet(index: int, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict = {"__name__": f"readme_snippet_{index}"}
    exec(compile(SNIPPETS[index], f"README.md ({SECTION!r}, snippet {index + 1})", "exec"), namespace)
    return namespace


def test_section_has_three_short_snippets():
    assert len(SNIPPETS) == 3, f"expected 3 snippets (features, encoder, brain map), found {len(SNIPPETS)}"
    for i, code in enumerate(SNIPPETS):
        lines = [ln for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        assert len(lines) <= MAX_LINES, f"snippet {i + 1} has {len(lines)} lines of code"
        assert "brainalign" in code


def test_features_for_a_text(tmp_path, monkeypatch, capsys):
    ns = run_snippet(0, tmp_path, monkeypatch)
    features, model = ns["features"], ns["model"]
    words = ns["text"].split()
    assert features.hidden.dims == ("word", "layer", "feature")
    assert features.sizes["word"] == len(words) and list(features.text.values) == words
    assert features.sizes["layer"] == model.info["n_layers"] + 1  # embeddings + every block
    assert features.sizes["feature"] == model.info["hidden_size"]
    assert np.isfinite(features.hidden.values).all() and np.isfinite(float(features.perplexity))
    assert ns["layer"].dims == ("word", "feature") and int(ns["layer"].layer) == 15
    assert "word" in capsys.readouterr().out


def test_encoder_on_your_own_arrays(tmp_path, monkeypatch):
    ns = run_snippet(1, tmp_path, monkeypatch)
    model, pred, r, Y = ns["model"], ns["pred"], ns["r"], ns["Y"]
    assert isinstance(pred, xr.DataArray) and pred.dims == ("time", "voxel")
    np.testing.assert_array_equal(pred.voxel, Y.voxel)
    assert model.best_alphas_.shape == (Y.sizes["voxel"],)
    assert r.shape == (Y.sizes["voxel"],) and np.nanmean(r) > 0.05  # the planted signal is found
    scores = ns["scores"]
    assert scores.r.shape == (Y.sizes["voxel"],) and len(scores.splits) == 4  # one fold per story
    assert abs(np.nanmean(scores.r) - np.nanmean(r)) < 0.05


def test_brain_map(tmp_path, monkeypatch):
    import nibabel as nib

    ns = run_snippet(2, tmp_path, monkeypatch)
    r = ns["r"]
    assert r.dims == ("voxel",) and {"x", "y", "z"} <= set(r.coords)  # predictions kept the coordinates
    png, nii = tmp_path / "brain_score.png", tmp_path / "brain_score.nii.gz"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = nib.load(nii)
    data = np.asarray(img.dataobj)
    # every voxel's value sits at its MNI coordinate in the image
    xyz = np.stack([r.x.values, r.y.values, r.z.values], axis=1)
    ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(img.affine), xyz)).astype(int)
    np.testing.assert_allclose(data[tuple(ijk.T)], np.nan_to_num(r.values), rtol=1e-6, atol=1e-7)
    # and the best voxel lies in the planted region (left temporal, around x=-50, y=-20, z=0 mm)
    best = xyz[int(np.nanargmax(r.values))]
    assert np.linalg.norm(best - np.array([-50.0, -20.0, 0.0])) < 15, best


def test_listed_entry_points_import_from_their_subpackage():
    """The section's list of entry points (`brainalign.x` (`a`, `b`, ...)) is importable as written."""
    import importlib

    text = (REPO / "README.md").read_text().split(SECTION, 1)[1].split("```", 1)[0]
    listed = re.findall(r"`(brainalign\.\w+)`\s*\(([^)]*)\)", text.replace("\n", " "))
    assert len(listed) >= 4, listed
    for package, names in listed:
        module = importlib.import_module(package)
        for name in re.findall(r"`(\w+)`", names):
            assert hasattr(module, name), f"README lists {package}.{name}, which does not exist"
            assert name in getattr(module, "__all__", [name]), f"{package}.__all__ lacks {name}"
