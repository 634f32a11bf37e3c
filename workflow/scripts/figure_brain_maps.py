"""Rule `figure_brain_maps`: fMRI maps of the peak brain score and of the best layer (nilearn)."""

from brainalign.analyses import best_layer_map
from brainalign.analyses.group_maps import group_significant_at
from brainalign.io.store import read_zarr
from brainalign.plotting import (is_surface, plot_brain_map, plot_surface_map, save_nifti,
                                 values_to_nifti, values_to_surface_nifti)
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
an, fig = smk.params.analyses, smk.params.figures
model = smk.wildcards.model
scores = read_zarr(smk.input.scores, load=True)
best = best_layer_map(scores, var=an["score"], lag_reduce=an["lag_reduce"])
unit = "Pearson r" if an["score"] == "r" else "R²"

score = best["peak_score"]
score.attrs.update(best.attrs)
# Best layer: only targets with a score worth the name, and, with group maps in the scores (>= 2
# subjects, encoding.group_test), significant across subjects at that layer (BH-FDR);
# depth + 1e-3 keeps layer 0 off the background.
shown = best["peak_score"] >= fig["min_score"]
group = group_significant_at(scores, best["best_layer"])
if group is not None:
    shown = shown & group.values
depth = (best["best_relative_depth"] + 1e-3).where(shown, 0.0)
depth.attrs.update(best.attrs)
log.info("%s: %d of %d targets reach peak %s >= %.2f%s", model, int(shown.sum()), best.sizes["voxel"], an["score"],
         fig["min_score"], "" if group is None else f" and are significant across subjects ({scores.attrs['group_test']})")
depth_style = dict(cmap="viridis", vmin=0.0, vmax=1.0, symmetric=False, cbar_label="relative depth",
                   title=f"{model}: best layer (peak {an['score']} ≥ {fig['min_score']}"
                         + (", group FDR" if group is not None else "") + ")")

if is_surface(score):
    # Surface targets (e.g. Narratives' fsaverage6): vertex values as (n, 1, 1) NIfTI, and every map
    # kind drawn on nilearn's fsaverage5 (a glass brain or slices need a volume).
    save_nifti(values_to_surface_nifti(score), smk.output.score_nifti)
    save_nifti(values_to_surface_nifti(depth), smk.output.depth_nifti)
    log.info("surface targets: map kinds %s drawn on fsaverage5", list(smk.params.kinds))
    for path in smk.output.score_maps:
        plot_surface_map(score, path, title=f"{model}: peak brain score", cbar_label=unit)
    for path in smk.output.depth_maps:
        plot_surface_map(depth, path, **depth_style)
else:
    score_img = values_to_nifti(score)
    save_nifti(score_img, smk.output.score_nifti)
    depth_img = values_to_nifti(depth)
    save_nifti(depth_img, smk.output.depth_nifti)
    for kind, path in zip(smk.params.kinds, smk.output.score_maps):
        plot_brain_map(score_img, path, kind=kind, title=f"{model}: peak brain score", cbar_label=unit)
    for kind, path in zip(smk.params.kinds, smk.output.depth_maps):
        plot_brain_map(depth_img, path, kind=kind, **depth_style)
