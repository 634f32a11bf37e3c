"""brainalign.plotting.hierarchy.plot_hierarchy_figure: the hierarchy figure of each coordinate."""

import matplotlib.image as mpimg
import pytest

from brainalign.analyses.hierarchy_analysis import hierarchy_analysis
from brainalign.analyses.synthetic import make_scores
from brainalign.config_sections import with_defaults
from brainalign.plotting.hierarchy import plot_hierarchy_figure

REGIONS = {"early": {"depth": 0.2}, "middle": {"depth": 0.5}, "late": {"depth": 0.8}}


@pytest.mark.parametrize("positions,kind", [({"early": 1, "middle": 2, "late": 3}, "regions"), ({}, "none")])
def test_draws_the_figure_of_each_kind(tmp_path, positions, kind):
    scores = make_scores(REGIONS, n_layers=6, n_subjects=3, seed=0)
    result = hierarchy_analysis({"m": scores}, ["m"], with_defaults("analyses", {"hierarchy": {"positions": positions}}))
    assert result.figure.kind == kind
    path = plot_hierarchy_figure(result.figure, tmp_path / "h.png", modality="fmri")
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.std() > 0  # a drawn, non-blank figure
