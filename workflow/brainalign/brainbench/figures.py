"""BrainBench figures: accuracy per model, per subfield, calibration curves, base vs LoRA.

Each function takes tidy tables (as the scoring scripts write them, with a ``model`` and a
``testset`` column added) and returns a matplotlib Figure; the caller saves it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .stats import HUMAN_EXPERTS, LLM_MEAN  # noqa: E402


def _reference_lines(ax, horizontal: bool = True) -> None:
    line = ax.axhline if horizontal else ax.axvline
    line(HUMAN_EXPERTS * 100, color="tab:red", ls="--", lw=1, label=f"human experts ({HUMAN_EXPERTS:.1%})")
    line(LLM_MEAN * 100, color="tab:green", ls="--", lw=1, label=f"mean of 15 LLMs ({LLM_MEAN:.1%})")
    line(50, color="0.5", ls=":", lw=1, label="chance (50%)")


def _errorbar(df: pd.DataFrame) -> np.ndarray:
    acc = df["accuracy"].to_numpy() * 100
    return np.vstack([acc - df["ci_low"].to_numpy() * 100, df["ci_high"].to_numpy() * 100 - acc])


def accuracy_per_model(summary: pd.DataFrame):
    """Accuracy (95% bootstrap interval) per model and test set, with the paper's reference lines.

    Parameters
    ----------
    summary
        Columns ``model, testset, accuracy, ci_low, ci_high``.
    """
    testsets = sorted(summary["testset"].unique())
    models = list(dict.fromkeys(summary["model"]))
    fig, ax = plt.subplots(figsize=(max(5.5, 1.5 + 1.1 * len(models) * len(testsets)), 4))
    width = 0.8 / len(testsets)
    for k, ts in enumerate(testsets):
        sub = summary[summary["testset"] == ts].set_index("model").reindex(models).dropna(subset=["accuracy"])
        x = np.array([models.index(m) for m in sub.index]) + (k - (len(testsets) - 1) / 2) * width
        ax.bar(x, sub["accuracy"] * 100, width=width * 0.9, yerr=_errorbar(sub), capsize=3, label=f"test set: {ts}", alpha=0.8)
    _reference_lines(ax)
    ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel("BrainBench accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Accuracy per model (95% bootstrap CI)")
    fig.tight_layout()
    return fig


def accuracy_per_subfield(subfields: pd.DataFrame):
    """Accuracy (95% bootstrap interval) per journal section, one marker per model.

    Parameters
    ----------
    subfields
        Columns ``model, testset, group, n, accuracy, ci_low, ci_high``.
    """
    groups = sorted(subfields["group"].unique())
    series = list(subfields.groupby(["model", "testset"], sort=False))
    fig, ax = plt.subplots(figsize=(7, 1 + 0.5 * len(groups)))
    for k, ((model, ts), sub) in enumerate(series):
        sub = sub.set_index("group").reindex(groups).dropna(subset=["accuracy"])
        y = np.array([groups.index(g) for g in sub.index]) + (k - (len(series) - 1) / 2) * 0.15
        ax.errorbar(sub["accuracy"] * 100, y, xerr=_errorbar(sub), fmt="o", capsize=3, label=f"{model} / {ts}")
    _reference_lines(ax, horizontal=False)
    n = subfields.groupby("group")["n"].max()
    ax.set_yticks(range(len(groups)), [f"{g} (n={n[g]})" for g in groups])
    ax.set_xlabel("accuracy (%)")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("Accuracy per subfield (95% bootstrap CI)")
    fig.tight_layout()
    return fig


def calibration_curves(calibration: pd.DataFrame):
    """Accuracy by confidence-quantile bin (± SEM), one curve per model and test set.

    Parameters
    ----------
    calibration
        Columns ``model, testset, bin, confidence_mean, accuracy, sem``.
    """
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (model, ts), sub in calibration.groupby(["model", "testset"], sort=False):
        sub = sub.sort_values("bin")
        ax.errorbar(sub["bin"], sub["accuracy"] * 100, yerr=sub["sem"] * 100, marker="o", capsize=3,
                    label=f"{model} / {ts}")
    ax.axhline(50, color="0.5", ls=":", lw=1)
    ax.set_xlabel("confidence bin, low → high\n(equal-count bins of |log ppl_original − log ppl_altered|)")
    ax.set_xticks(sorted(calibration["bin"].unique()))
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    ax.set_title("Calibration: accuracy by confidence bin (± SEM)")
    fig.tight_layout()
    return fig


def base_vs_lora(paired: pd.DataFrame):
    """Base vs LoRA-adapted accuracy (95% CI) per test set and subfield, side by side.

    Parameters
    ----------
    paired
        Columns ``base_model, variant`` (``base``/``lora``), ``testset, group`` (``all`` or a
        subfield), ``accuracy, ci_low, ci_high``.
    """
    paired = paired.copy()
    paired["label"] = paired["base_model"] + " / " + paired["testset"] + " / " + paired["group"].astype(str)
    labels = list(dict.fromkeys(paired["label"]))
    fig, ax = plt.subplots(figsize=(7, 1 + 0.45 * len(labels)))
    for k, variant in enumerate(["base", "lora"]):
        sub = paired[paired["variant"] == variant].set_index("label").reindex(labels).dropna(subset=["accuracy"])
        y = np.array([labels.index(lab) for lab in sub.index]) + (k - 0.5) * 0.3
        ax.errorbar(sub["accuracy"] * 100, y, xerr=_errorbar(sub), fmt="o" if k == 0 else "s", capsize=3,
                    label="base" if k == 0 else "+ LoRA")
    _reference_lines(ax, horizontal=False)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("Base vs LoRA-adapted (95% bootstrap CI)")
    fig.tight_layout()
    return fig
