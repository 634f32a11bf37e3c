"""Non-LM control features per word: word rate, word length, log frequency, static embedding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .alignment import words_of, align_words
from .extract import word_column, story_name

SCALARS = ("word_rate", "word_length", "log_frequency")


def word_length(word: str) -> int:
    """Number of letters and digits (punctuation such as ``"``, ``,`` or ``!`` does not count)."""
    return sum(ch.isalnum() for ch in word)


def log_frequency(word: str, lang: str = "en") -> float:
    """Zipf frequency from ``wordfreq``: log10 of occurrences per billion words (0 if unknown).

    ``wordfreq`` tokenises the word itself (lower-casing, dropping punctuation), so ``"Sea,"`` and
    ``"sea"`` get the same value.
    """
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, lang))


def control_features(words: pd.DataFrame, loaded=None, *, pooling: str = "mean",
                     lang: str = "en") -> xr.Dataset:
    """Control regressors that carry no contextual language-model information.

    Parameters
    ----------
    words
        One story's word table (column ``word``; ``onset``/``offset``/``story`` carried as coords).
    loaded
        Optional :class:`brainalign.models.LoadedModel`: adds the static word embedding.
    pooling
        How the static embedding pools a word's tokens (``"mean"`` default, or ``"last"``).
    lang
        ``wordfreq`` language code.

    Returns
    -------
    xr.Dataset
        ``word_rate`` (1.0 per word: summed per TR by the design stage it gives words per TR),
        ``word_length`` (letters and digits), ``log_frequency`` (Zipf), ``controls``
        (``word × control``, the three stacked) and, with ``loaded``, ``embedding``
        (``word × feature``, float32): the model's input-embedding rows of the word's tokens (as
        tokenised in the story, leading-space marker included), pooled.  This is the layer-0
        feature without context; for GPT-2-style models layer 0 of :func:`extract_features` also
        adds position embeddings, this does not.
    """
    seq = words_of(words)
    n = len(seq)
    rate = np.ones(n)
    length = np.array([word_length(w) for w in seq], dtype=float)
    freq = np.array([log_frequency(w, lang) for w in seq])
    coords = {
        "word": np.arange(n),
        "text": ("word", np.asarray(seq, dtype=str)),
        "onset": ("word", word_column(words, "onset", n)),
        "offset": ("word", word_column(words, "offset", n)),
        "story": story_name(words),
        "control": list(SCALARS),
    }
    ds = xr.Dataset(
        {
            "word_rate": ("word", rate),
            "word_length": ("word", length),
            "log_frequency": ("word", freq),
            "controls": (("word", "control"), np.stack([rate, length, freq], axis=1)),
        },
        coords=coords,
        attrs={"wordfreq_lang": lang},
    )
    ds["word_rate"].attrs["description"] = "1 per word (an impulse at each word onset)"
    ds["word_length"].attrs["description"] = "letters and digits in the word"
    ds["log_frequency"].attrs["description"] = "wordfreq Zipf frequency (log10 per 1e9 words + 0; 0 = unknown)"
    if loaded is not None:
        ds["embedding"] = (("word", "feature"), static_embedding(loaded, words, pooling=pooling))
        ds.attrs.update(model_id=loaded.info["model_id"], weights_sha256=loaded.info["weights_sha256"],
                        embedding_pooling=pooling)
    return ds


def static_embedding(loaded, words: pd.DataFrame | list[str], pooling: str = "mean") -> np.ndarray:
    """Input-embedding rows of each word's tokens, pooled: ``(n_words, hidden)`` float32."""
    import torch

    if pooling not in ("mean", "last"):
        raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
    al = align_words(loaded.tokenizer, words)
    table = loaded.model.get_input_embeddings()
    device = next(loaded.model.parameters()).device
    with torch.inference_mode():
        emb = table(torch.as_tensor(al.input_ids, device=device)).float().cpu().numpy()
    if pooling == "last":
        return emb[al.word_stop - 1].astype(np.float32)
    csum = np.concatenate([np.zeros((1, emb.shape[1])), np.cumsum(emb, axis=0, dtype=np.float64)])
    return ((csum[al.word_stop] - csum[al.word_start]) / al.n_tokens[:, None]).astype(np.float32)
