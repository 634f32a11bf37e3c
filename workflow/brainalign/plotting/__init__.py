"""Figures of the analyses: brain maps (nilearn), sensor topomaps and time courses (MNE), layer
curves with across-subject bands, similarity heatmaps (iEEG electrodes on a glass brain: the
submodule ``electrodes``).  Headless (Agg); each function saves one
figure atomically to the path it is given (PNG/SVG/PDF by suffix) and returns the path."""

from .figure_io import new_figure, save_figure
from .brainmaps import (is_surface, plot_brain_map, plot_surface_map, plot_voxel_map, save_nifti, surface_textures,
                        values_to_nifti, values_to_surface_nifti)
from .curves import (plot_best_depths, plot_context, plot_control_comparison, plot_forecast, plot_forecast_bands,
                     plot_electrode_hierarchy, plot_fraction_of_peak, plot_hierarchy, plot_layer_profiles,
                     plot_quality)
from .heatmaps import plot_similarity
from .sensors import plot_time_courses, plot_topomaps, sensor_info, time_course_table

__all__ = [
    "new_figure", "save_figure", "save_nifti", "values_to_nifti", "plot_brain_map", "plot_voxel_map",
    "is_surface", "surface_textures", "plot_surface_map", "values_to_surface_nifti",
    "plot_layer_profiles", "plot_best_depths", "plot_hierarchy", "plot_electrode_hierarchy", "plot_forecast",
    "plot_forecast_bands", "plot_context",
    "plot_control_comparison", "plot_quality", "plot_fraction_of_peak", "plot_similarity",
    "sensor_info", "plot_topomaps", "plot_time_courses", "time_course_table",
]
