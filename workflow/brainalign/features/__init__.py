"""Language-model features per word: extraction (fixed / strided / story context), forecast
windows and non-LM controls.  See ``docs/architecture.md`` for the output contract."""

from .alignment import Alignment, align_words, assign_tokens
from .controls import control_features
from .extract import extract_features, story_perplexity, zarr_encoding
from .forecast import forecast_features

__all__ = ["extract_features", "forecast_features", "control_features", "story_perplexity",
           "align_words", "assign_tokens", "Alignment", "zarr_encoding"]
