"""Seed analyses on Scores datasets: layer profiles and hierarchy (Mischler et al. 2024), forecast
windows (Caucheteux et al. 2023), model comparison, model-to-model similarity (CKA/RSA), context.

Every function takes labelled xarray objects / tidy tables and returns them; scripts under
``workflow/scripts/analysis_*.py`` do the file I/O.  The analyses never read the demo's planted truth.
"""

from .comparison import (brain_vs_quality, compare_to_control, model_perplexity, peak_scores,
                         quality_table, read_brainbench_summary)
from .context import context_gain, context_profile, context_scores
from .forecast import (band_partition, band_table, base_unit_scores, best_distance, best_distance_map,
                       comparison_layer, distance_map, forecast_gain, forecast_table, region_distance_map)
from .hierarchy import (best_layer_map, best_layers, depth_at_fraction, distance_to_a1, electrode_hierarchy,
                        fraction_of_peak_table, hierarchy_correlation, layer_profiles, peak_latency, top_units)
from .similarity import layer_similarity, linear_cka, similarity_table, stack_features
from .units import reduce_lag, subject_stats, target_dim, to_units

__all__ = [
    "layer_profiles", "best_layers", "best_layer_map", "peak_latency", "hierarchy_correlation",
    "depth_at_fraction", "fraction_of_peak_table", "top_units", "distance_to_a1", "electrode_hierarchy",
    "forecast_gain", "forecast_table", "best_distance", "best_distance_map", "base_unit_scores",
    "region_distance_map", "distance_map", "band_partition", "band_table", "comparison_layer",
    "peak_scores", "compare_to_control", "model_perplexity", "read_brainbench_summary",
    "brain_vs_quality", "quality_table",
    "linear_cka", "layer_similarity", "similarity_table", "stack_features",
    "context_scores", "context_profile", "context_gain",
    "target_dim", "reduce_lag", "to_units", "subject_stats",
]
