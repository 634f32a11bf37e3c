"""Benchmark: cross-validated per-target ridge, ours vs himalaya vs scikit-learn.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/encoders.py            # full size (minutes)
    .venv/bin/python benchmarks/encoders.py --small    # quick check

Part 1 (same data for every method): n = 3,000 training samples, 768 features, 10,000 targets,
5-fold alpha selection over 11 alphas (``logspace(-2, 8, 11)``), one alpha per target, then a
prediction of 600 held-out samples.  Methods:

* ``ours``          brainalign.encoding.fit_ridge_cv, numpy backend (the default);
* ``ours_torch``    the same on the torch backend (CPU here, CUDA when available);
* ``himalaya``      himalaya.ridge.RidgeCV, numpy backend, and ``himalaya_torch`` (torch backend);
* ``sklearn``       sklearn.linear_model.RidgeCV(alpha_per_target=True): scikit-learn only offers
  per-target alphas with its efficient leave-one-out CV (``cv=None``), so it solves a related but
  different selection problem; timed for reference, not compared for agreement.

All inputs are float32 (himalaya and ours then compute in float32; sklearn upcasts to float64).
Agreement with himalaya (numpy backend): ``alpha_agree`` is the fraction of targets for which both
choose the same alpha; ``max_abs_dr`` is the largest |difference in held-out Pearson r| over those
targets.

Memory: each method runs in its own fresh subprocess that first builds the data, then resets the
kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``), fits, and reads ``VmHWM`` from
``/proc/self/status``.  The reported peak is ``VmHWM`` minus the resident size just before the fit:
the extra memory the method needed on top of holding the data (numpy, BLAS and torch allocations
all count, unlike with tracemalloc).  Where clear_refs is not available, ``ru_maxrss`` is used.

Part 2 (a parcellation): 20 subjects x 1,000 targets who heard the same stimulus, fitted jointly
(one job: load the word features once, build the FIR design once, standardise once, one
decomposition per fold for 20,000 targets) vs one by one (20 jobs, each repeating the loading,
the design and the standardisation, and decomposing the same design again).  ``joint_speedup`` is
the one-by-one time over the joint time.

The last line is::

    RESULT ours_s=… himalaya_s=… sklearn_s=… speedup_vs_best=… alpha_agree=… max_abs_dr=… ours_mb=… himalaya_mb=… joint_speedup=…

with ``himalaya_s`` the faster of himalaya's two backends, ``speedup_vs_best`` the fastest other
method's time over ours, and ``himalaya_mb`` himalaya's peak with the numpy backend (as ours).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

SIZES = {
    "full": dict(n=3000, n_test=600, p=768, targets=10000, folds=5, n_alphas=11, subjects=20, parcels=1000,
                 word_features=192, delays=4),
    "small": dict(n=600, n_test=150, p=128, targets=1000, folds=5, n_alphas=11, subjects=8, parcels=200,
                  word_features=32, delays=4),
}


# ------------------------------------------------------------------------------------------- data
def make_data(n: int, n_test: int, p: int, targets: int, seed: int = 0):
    """Standardised correlated features and targets with a spread of signal-to-noise ratios."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((p, p)).astype(np.float32) / np.sqrt(p)
    mixing += np.eye(p, dtype=np.float32)
    X = (rng.standard_normal((n + n_test, p), dtype=np.float32) @ mixing).astype(np.float32)
    X -= X[:n].mean(0)
    X /= X[:n].std(0)
    Y = np.empty((n + n_test, targets), dtype=np.float32)
    snr = np.logspace(-2, 0.5, targets).astype(np.float32)  # from pure noise to strongly driven
    for start in range(0, targets, 2000):  # in chunks: keep the generation's peak memory small
        stop = min(start + 2000, targets)
        W = rng.standard_normal((p, stop - start), dtype=np.float32) / np.sqrt(p)
        Y[:, start:stop] = (X @ W) * snr[start:stop] + rng.standard_normal((n + n_test, stop - start),
                                                                           dtype=np.float32)
    Y -= Y[:n].mean(0)
    return X[:n], Y[:n], X[n:], Y[n:]


# ------------------------------------------------------------------------------------------ memory
def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------ methods
def import_method(method: str) -> None:
    """Import what ``method`` needs before the memory baseline, so imports do not count as its peak."""
    import brainalign.encoding.ridge  # noqa: F401
    import brainalign.encoding.scores  # noqa: F401

    if "torch" in method:
        import torch  # noqa: F401
    if method.startswith("himalaya"):
        import himalaya.ridge  # noqa: F401
    if method == "sklearn":
        import sklearn.linear_model  # noqa: F401


def fit_method(method: str, X, Y, Xte, alphas, folds):
    """Fit one method; return (best alphas or None, test predictions)."""
    if method in ("ours", "ours_torch"):
        from brainalign.encoding.ridge import fit_ridge_cv

        res = fit_ridge_cv(X, Y, alphas, inner_folds=folds, X_test=Xte, center=False, return_coef=True,
                           backend="numpy" if method == "ours" else "torch")
        return res.best_alpha, res.predictions
    if method in ("himalaya", "himalaya_torch"):
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV

        backend = set_backend("numpy" if method == "himalaya" else "torch")
        model = RidgeCV(alphas=alphas, cv=folds, solver_params=dict(warn=False)).fit(X, Y)
        return backend.to_numpy(model.best_alphas_), backend.to_numpy(model.predict(Xte))
    if method == "sklearn":
        from sklearn.linear_model import RidgeCV

        model = RidgeCV(alphas=alphas, alpha_per_target=True, fit_intercept=False).fit(X, Y)
        return None, model.predict(Xte)
    raise ValueError(method)


def worker(method: str, size: dict, out: Path) -> None:
    """Run one method in this (fresh) process and write its timing, memory and results."""
    X, Y, Xte, Yte = make_data(size["n"], size["n_test"], size["p"], size["targets"])
    alphas = np.logspace(-2, 8, size["n_alphas"])
    import_method(method)
    exact = _reset_peak()
    base = _rss_mb("VmRSS")
    t0 = time.perf_counter()
    best, pred = fit_method(method, X, Y, Xte, alphas, size["folds"])
    elapsed = time.perf_counter() - t0
    peak = _rss_mb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from brainalign.encoding.scores import pearson_r

    r = pearson_r(Yte, np.asarray(pred))
    np.savez(out, best=np.full(Y.shape[1], np.nan) if best is None else np.asarray(best, float), r=r)
    out.with_suffix(".json").write_text(json.dumps({"seconds": elapsed, "peak_mb": max(0.0, peak - base),
                                                    "exact_peak": exact}))


def run_worker(method: str, size_name: str, tmp: Path) -> dict:
    out = tmp / f"{method}.npz"
    cmd = [sys.executable, __file__, "--worker", method, "--size", size_name, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    info = json.loads(out.with_suffix(".json").read_text())
    data = np.load(out)
    info.update(best=data["best"], r=data["r"])
    return info


# ------------------------------------------------------------------------------ joint vs one by one
def joint_vs_separate(size: dict, tmp: Path) -> tuple[float, float, float]:
    """Time 20 subjects sharing a stimulus: one joint fit vs one job per subject."""
    from brainalign.design import apply_operator, fmri_operator
    from brainalign.encoding.cv import standardize
    from brainalign.encoding.ridge import fit_ridge_cv

    import xarray as xr

    rng = np.random.default_rng(1)
    tr, n_tr, n_test = 1.5, size["n"], size["n_test"]
    n_words = int((n_tr + n_test) * tr * 2.5)
    onsets = np.sort(rng.uniform(0, (n_tr + n_test) * tr, n_words))
    feat_path = tmp / "features.npz"
    np.savez(feat_path, hidden=rng.standard_normal((n_words, size["word_features"]), dtype=np.float32), onset=onsets)
    times = (np.arange(n_tr + n_test) + 0.5) * tr
    Ys = [rng.standard_normal((n_tr + n_test, size["parcels"]), dtype=np.float32) for _ in range(size["subjects"])]
    alphas = np.logspace(-2, 8, size["n_alphas"])
    delays = list(range(1, size["delays"] + 1))

    def load_design():
        f = np.load(feat_path)
        words = xr.DataArray(f["hidden"], dims=("word", "feature"), coords={"onset": ("word", f["onset"])})
        X = apply_operator(fmri_operator(f["onset"], times, tr, "fir", delays), words).values
        return standardize(X[:n_tr], X[n_tr:])

    t0 = time.perf_counter()
    Xtr, Xte = load_design()
    Y = np.concatenate(Ys, axis=1)
    joint = fit_ridge_cv(Xtr, Y[:n_tr], alphas, inner_folds=size["folds"], X_test=Xte)
    t_joint = time.perf_counter() - t0

    t0 = time.perf_counter()
    alone = []
    for Ysub in Ys:
        Xtr, Xte = load_design()
        alone.append(fit_ridge_cv(Xtr, Ysub[:n_tr], alphas, inner_folds=size["folds"], X_test=Xte))
    t_sep = time.perf_counter() - t0
    diff = np.abs(joint.predictions - np.concatenate([a.predictions for a in alone], axis=1)).max()
    return t_joint, t_sep, float(diff)


# --------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="small sizes for a quick check")
    ap.add_argument("--methods", default="ours,ours_torch,himalaya,himalaya_torch,sklearn")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--size", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    size_name = args.size or ("small" if args.small else "full")
    size = SIZES[size_name]
    if args.worker:
        worker(args.worker, size, Path(args.out))
        return

    print(f"# encoders benchmark ({size_name}): n={size['n']} train + {size['n_test']} test, p={size['p']}, "
          f"targets={size['targets']}, {size['folds']}-fold CV, {size['n_alphas']} alphas; "
          f"{os.cpu_count()} CPUs visible")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for method in args.methods.split(","):
            results[method] = run_worker(method, size_name, tmp)
        print(f"{'method':<16}{'fit_s':>10}{'peak_mb':>10}{'alpha_agree':>13}{'max_abs_dr':>12}")
        ref = results.get("himalaya", {})
        for method, res in results.items():
            if "error" in res:
                print(f"{method:<16} failed: {res['error']}")
                continue
            agree, dr = "", ""
            if "best" in ref and method != "himalaya" and not np.isnan(res["best"]).all():
                same = np.isclose(res["best"], ref["best"], rtol=1e-4)
                agree = f"{same.mean():.4f}"
                dr = f"{np.nanmax(np.abs(res['r'][same] - ref['r'][same])):.2e}" if same.any() else "nan"
            print(f"{method:<16}{res['seconds']:>10.2f}{res['peak_mb']:>10.0f}{agree:>13}{dr:>12}")
        t_joint, t_sep, diff = joint_vs_separate(size, tmp)
    print(f"# joint vs one-by-one: {size['subjects']} subjects x {size['parcels']} targets, FIR design "
          f"({size['word_features']} word features x {size['delays']} delays): joint {t_joint:.2f} s, "
          f"one by one {t_sep:.2f} s (ratio {t_sep / t_joint:.2f}); max |prediction difference| {diff:.1e}")

    def sec(m):
        return results.get(m, {}).get("seconds", float("nan"))

    ours = sec("ours")
    him = np.nanmin([sec("himalaya"), sec("himalaya_torch")])
    others = [s for s in (sec("himalaya"), sec("himalaya_torch"), sec("sklearn")) if np.isfinite(s)]
    best_other = min(others) if others else float("nan")
    agree, dr = float("nan"), float("nan")
    if "best" in results.get("ours", {}) and "best" in ref:
        same = np.isclose(results["ours"]["best"], ref["best"], rtol=1e-4)
        agree = same.mean()
        dr = np.nanmax(np.abs(results["ours"]["r"][same] - ref["r"][same]))
    print(f"RESULT ours_s={ours:.2f} himalaya_s={him:.2f} sklearn_s={sec('sklearn'):.2f} "
          f"speedup_vs_best={best_other / ours:.2f} alpha_agree={agree:.4f} max_abs_dr={dr:.2e} "
          f"ours_mb={results.get('ours', {}).get('peak_mb', float('nan')):.0f} "
          f"himalaya_mb={ref.get('peak_mb', float('nan')):.0f} joint_speedup={t_sep / t_joint:.2f}")


if __name__ == "__main__":
    main()
