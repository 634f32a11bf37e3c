"""Per-word hidden states of every layer under an exact context definition.

See :mod:`.windows` for what each context mode lets a word see, and :mod:`.alignment` for how
tokens are assigned to words.  Pooling is linear (``last``: the word's last token; ``mean``: the
mean over its tokens), so every mode accumulates ``weight × hidden state`` of the word's tokens,
read from the window the word is assigned to.

Hidden states are ``output_hidden_states`` of the model's base (decoder) module: entry 0 is the
token embedding (plus learned position embeddings for GPT-2-style models), entry ``l`` the output
of block ``l``, and the last entry is after the final norm, as ``transformers`` returns them.  The
LM head is applied only where perplexity needs it, in blocks, so a 49k- or 262k-token vocabulary
never materialises logits for a whole window.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd
import xarray as xr

from .alignment import Alignment, align_words
from .windows import Plan, fixed_plan, strided_plan, strided_token_owner

if TYPE_CHECKING:
    import torch

MODES = ("fixed", "strided", "story")
POOLINGS = ("last", "mean")
_LOGIT_BLOCK = 256


@dataclass
class _Accumulator:
    """Output buffer and pooling weights shared by all modes."""

    out: "torch.Tensor"              # (n_words, n_layers_sel, hidden) float32, on CPU
    layers: list[int]
    nll_sum: float = 0.0
    nll_count: int = 0


def _pool_pairs(al: Alignment, pooling: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word, story token, weight) triples defining the pooling of every word."""
    n = al.n_tokens
    if pooling == "last":
        return np.arange(al.n_words), al.word_stop - 1, np.ones(al.n_words)
    words = np.repeat(np.arange(al.n_words), n)
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    tokens = np.repeat(al.word_start, n) + offsets
    return words, tokens, 1.0 / np.repeat(n, n)


def _base(model):
    return getattr(model, model.base_model_prefix, model)


def _logits(model, hidden: "torch.Tensor") -> "torch.Tensor":
    """LM-head logits (with Gemma-style final soft-capping when the config asks for it)."""
    import torch

    logits = model.get_output_embeddings()(hidden).float()
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def _add_nll(acc: _Accumulator, model, hidden: "torch.Tensor", targets: "torch.Tensor") -> None:
    """Accumulate next-token NLL of ``targets`` given final hidden states ``hidden`` (n, H)."""
    import torch

    for i in range(0, len(targets), _LOGIT_BLOCK):
        logp = torch.log_softmax(_logits(model, hidden[i:i + _LOGIT_BLOCK]), dim=-1)
        tgt = targets[i:i + _LOGIT_BLOCK].to(logp.device)
        acc.nll_sum -= float(logp.gather(1, tgt[:, None]).sum())
        acc.nll_count += len(tgt)


def _gather(acc: _Accumulator, hidden_states, b_idx, pos_idx, word_idx, weight) -> None:
    """out[word] += weight * hidden_states[layer][b, pos] for each selected layer."""
    import torch

    if len(word_idx) == 0:
        return
    b = torch.as_tensor(b_idx, device=hidden_states[0].device)
    p = torch.as_tensor(pos_idx, device=hidden_states[0].device)
    w = torch.as_tensor(weight, dtype=torch.float32)[:, None]
    words = torch.as_tensor(word_idx)
    for j, layer in enumerate(acc.layers):
        values = hidden_states[layer][b, p].float().cpu()
        acc.out[:, j].index_add_(0, words, w * values)


def _run_windows(model, al: Alignment, plan: Plan, acc: _Accumulator, pooling: str,
                 batch_size: int, device: str, *, nll_owner: np.ndarray | None, progress: bool) -> None:
    """Fresh forward passes over the plan's windows, batched by equal length (no padding)."""
    import torch

    prefix = list(al.prefix_ids)
    P = len(prefix)
    pw, pt, pweight = _pool_pairs(al, pooling)
    pair_window = plan.word_window[pw]
    order = np.argsort(pair_window, kind="stable")
    pw, pt, pweight, pair_window = pw[order], pt[order], pweight[order], pair_window[order]
    bounds = np.searchsorted(pair_window, np.arange(len(plan.starts) + 1))

    lengths = plan.lengths
    used = np.zeros(len(plan.starts), bool)
    used[plan.word_window] = True
    if nll_owner is not None:
        used[np.unique(nll_owner)] = True
    batches = []
    for n in np.unique(lengths[used]):
        idx = np.flatnonzero(used & (lengths == n))
        batches += [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]

    base = _base(model)
    ids_all = torch.as_tensor(al.input_ids)
    T = len(al.input_ids)
    bar = _progress(batches, progress, "windows")
    for batch in bar:
        rows = [torch.cat([torch.as_tensor(prefix, dtype=torch.long), ids_all[plan.starts[k]:plan.stops[k]]])
                for k in batch]
        ids = torch.stack(rows).to(device)
        out = base(input_ids=ids, output_hidden_states=True, use_cache=False)
        hs = out.hidden_states
        b_idx, pos_idx, w_idx, wt = [], [], [], []
        for b, k in enumerate(batch):
            sl = slice(bounds[k], bounds[k + 1])
            b_idx.append(np.full(sl.stop - sl.start, b))
            pos_idx.append(P + pt[sl] - plan.starts[k])
            w_idx.append(pw[sl])
            wt.append(pweight[sl])
        _gather(acc, hs, np.concatenate(b_idx), np.concatenate(pos_idx), np.concatenate(w_idx),
                np.concatenate(wt))
        if nll_owner is not None:
            last = out.last_hidden_state
            for b, k in enumerate(batch):
                q = np.flatnonzero(nll_owner == k)      # positions whose logits predict q + 1
                q = q[q + 1 < T]
                rows_h = [last[b, P + q - plan.starts[k]]]
                targets = [ids_all[q + 1]]
                if k == 0 and P > 0:                    # the prefix predicts the first token
                    rows_h.insert(0, last[b, P - 1:P])
                    targets.insert(0, ids_all[:1])
                _add_nll(acc, model, torch.cat(rows_h), torch.cat(targets))


def _run_story(model, al: Alignment, acc: _Accumulator, pooling: str, chunk: int, device: str,
               *, progress: bool) -> None:
    """One causal pass over prefix + story, fed in chunks of ``chunk`` tokens with the KV cache."""
    import torch
    from transformers import DynamicCache

    prefix = torch.as_tensor(list(al.prefix_ids), dtype=torch.long)
    P = len(prefix)
    seq = torch.cat([prefix, torch.as_tensor(al.input_ids)])
    pw, pt, pweight = _pool_pairs(al, pooling)
    pt = pt + P                                          # positions in the full sequence
    base = _base(model)
    cache = DynamicCache(config=model.config)
    # transformers >= 5.x names the KV cache `cache`; older and remote-code models `past_key_values`.
    cache_arg = "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"
    starts = list(range(0, len(seq), chunk))
    for c0 in _progress(starts, progress, "chunks"):
        c1 = min(c0 + chunk, len(seq))
        ids = seq[c0:c1][None].to(device)
        out = base(input_ids=ids, use_cache=True, output_hidden_states=True, **{cache_arg: cache})
        cache = getattr(out, cache_arg)
        sel = (pt >= c0) & (pt < c1)
        _gather(acc, out.hidden_states, np.zeros(sel.sum(), int), pt[sel] - c0, pw[sel], pweight[sel])
        # Logits at sequence position i predict seq[i + 1]; the prefix's own tokens are not scored.
        q = np.arange(max(c0, P - 1 if P else 0), min(c1, len(seq) - 1))
        if len(q):
            _add_nll(acc, model, out.last_hidden_state[0, q - c0], seq[q + 1])


def _progress(items: list, enabled: bool, unit: str) -> Iterable:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, unit=unit, desc="features")


def _library_versions() -> str:
    import torch
    import transformers

    return json.dumps({"torch": torch.__version__, "transformers": transformers.__version__,
                       "numpy": np.__version__, "xarray": xr.__version__})


def story_name(words: pd.DataFrame) -> str:
    """The one story a word table belongs to (its ``story`` column; "" without one); ValueError for several."""
    if isinstance(words, pd.DataFrame) and "story" in words.columns and len(words):
        stories = pd.unique(words["story"].astype(str))
        if len(stories) > 1:
            raise ValueError(f"word table holds several stories {list(stories)[:5]}; pass one story at a time")
        return str(stories[0])
    return ""


def word_column(words: pd.DataFrame, name: str, n: int) -> np.ndarray:
    """A numeric column (``onset``, ``offset``) of the word table as floats; ``n`` NaNs when it is absent."""
    if isinstance(words, pd.DataFrame) and name in words.columns:
        try:
            return words[name].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"word table: column {name!r} must be numeric seconds: {err}") from err
    return np.full(n, np.nan)


def compute_hidden(loaded, al: Alignment, *, mode: str, context: int, length: int, stride: int,
                   pooling: str, batch_size: int, layers: list[int], progress: bool = False,
                   with_perplexity: bool = True) -> tuple[np.ndarray, float | None, dict]:
    """Pooled hidden states ``(n_words, len(layers), hidden)`` of an aligned story.

    Returns the features, the story perplexity measured by the same passes (``None`` in ``fixed``
    mode or when ``with_perplexity`` is false) and the effective context settings.
    """
    import torch

    if mode not in MODES:
        raise ValueError(f"context mode must be one of {MODES}, got {mode!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = loaded.model
    device = str(next(model.parameters()).device)
    info = loaded.info
    max_len = info.get("max_length") or 10 ** 9
    P = len(al.prefix_ids)
    T = len(al.input_ids)
    acc = _Accumulator(out=torch.zeros(al.n_words, len(layers), info["hidden_size"]), layers=layers)
    settings = {"context_mode": mode, "context_size": None, "context_length": None, "context_stride": None}

    if mode == "story" and T + P > max_len:
        new_length = min(length, max_len - P)
        new_stride = min(stride, new_length)
        warnings.warn(
            f"story of {T} tokens exceeds the model's maximum length {max_len}: falling back to "
            f"'strided' context (length {new_length}, stride {new_stride})", stacklevel=3)
        mode, length, stride = "strided", new_length, new_stride
        settings.update(context_mode="strided", context_mode_requested="story")

    with torch.inference_mode():
        if mode == "story":
            settings.update(context_size=T, context_length=length)
            _run_story(model, al, acc, pooling, chunk=length, device=device, progress=progress)
            if not with_perplexity:
                acc.nll_count = 0
        elif mode == "strided":
            if length + P > max_len:
                raise ValueError(f"strided window length {length} (+{P} prefix tokens) exceeds the "
                                 f"model's maximum length {max_len}")
            plan = strided_plan(al.word_start, al.word_stop, T, length, stride)
            owner = strided_token_owner(T, length, stride) if with_perplexity else None
            settings.update(context_size=length, context_length=length, context_stride=stride)
            _run_windows(model, al, plan, acc, pooling, batch_size, device, nll_owner=owner,
                         progress=progress)
        else:
            plan = fixed_plan(al.word_start, al.word_stop, context)
            longest = int(plan.lengths.max()) + P
            if longest > max_len:
                raise ValueError(f"fixed context {context} tokens: the longest window ({longest} tokens "
                                 f"with the word and prefix) exceeds the model's maximum length {max_len}")
            settings.update(context_size=context)
            _run_windows(model, al, plan, acc, pooling, batch_size, device, nll_owner=None,
                         progress=progress)
    ppl = math.exp(acc.nll_sum / acc.nll_count) if acc.nll_count else None
    return acc.out.numpy(), ppl, settings


def story_perplexity(loaded, words: pd.DataFrame | list[str], *, length: int = 1024,
                     stride: int = 512, batch_size: int = 8) -> float:
    """Perplexity of the model on one story, with full causal context.

    ``exp`` of the mean next-token negative log-likelihood over the story's tokens (the first
    token is scored only when the tokenizer adds a prefix such as ``<bos>`` to predict it from).
    Stories longer than the model's maximum length are scored with strided windows (each token
    predicted from the window in which its predecessor first appears).

    Parameters
    ----------
    loaded
        A :class:`brainalign.models.LoadedModel`.
    words
        One story's word table (column ``word``) or list of words.
    length, stride
        Chunk length of the cached pass / strided fallback windows.
    """
    al = align_words(loaded.tokenizer, words)
    if len(al.input_ids) + len(al.prefix_ids) < 2:
        raise ValueError("story too short for perplexity: it needs at least two tokens")
    _, ppl, _ = compute_hidden(loaded, al, mode="story", context=0, length=length, stride=stride,
                               pooling="last", batch_size=batch_size, layers=[], progress=False)
    return float(ppl)


def extract_features(loaded, words: pd.DataFrame | list[str], *, mode: str = "story", context: int = 512,
                     length: int = 1024, stride: int = 512, pooling: str = "last",
                     batch_size: int = 8, layers: list[int] | None = None,
                     progress: bool = False) -> xr.Dataset:
    """Hidden states of every layer for each word of one story.

    Parameters
    ----------
    loaded
        A :class:`brainalign.models.LoadedModel`.
    words
        One story's word table (columns ``story, word_index, word, onset, offset, flags``; only
        ``word`` is required), or a plain list of its words (onsets and offsets are then NaN).
    mode
        ``"fixed"`` (each word sees exactly ``context`` preceding tokens), ``"strided"`` (windows of
        ``length`` tokens advanced by ``stride``) or ``"story"`` (the whole story so far, fed in
        chunks of ``length`` tokens with the KV cache; beyond the model's maximum length it falls
        back to ``strided`` with a warning).  See :mod:`brainalign.features.windows`.
    context, length, stride
        Context sizes in tokens (prefix tokens such as ``<bos>`` are extra and never counted).
    pooling
        ``"last"`` (the word's last token) or ``"mean"`` (mean over its tokens).
    batch_size
        Windows per forward pass (``fixed``/``strided``; windows are grouped by equal length, so no
        padding ever changes the numbers).
    layers
        Layers to keep (0 = embeddings, 1..L = blocks); all by default.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    xr.Dataset
        ``hidden`` (float32, ``word × layer × feature``; write it with
        ``encoding=zarr_encoding(ds)`` for one layer per chunk), ``n_tokens`` (per word), ``perplexity`` (scalar; from the same passes in ``story``/``strided`` mode, from an
        extra full-context pass in ``fixed`` mode), coords ``word, text, onset, offset, story, layer,
        relative_depth, feature`` and provenance attributes (see ``docs/architecture.md``).
    """
    al = align_words(loaded.tokenizer, words)
    info = loaded.info
    n_layers = int(info["n_layers"])
    layers = list(range(n_layers + 1)) if layers is None else [int(x) for x in layers]
    bad = [x for x in layers if not 0 <= x <= n_layers]
    if bad or not layers:
        raise ValueError(f"layers must be a non-empty subset of 0..{n_layers}, got {layers}")
    hidden, ppl, settings = compute_hidden(
        loaded, al, mode=mode, context=context, length=length, stride=stride, pooling=pooling,
        batch_size=batch_size, layers=layers, progress=progress, with_perplexity=mode != "fixed")
    if ppl is None:
        ppl = story_perplexity(loaded, words, length=length, stride=stride, batch_size=batch_size) \
            if len(al.input_ids) + len(al.prefix_ids) >= 2 else float("nan")

    text = [w.strip() for w in (words["word"] if isinstance(words, pd.DataFrame) else words)]
    n = al.n_words
    layer_arr = np.asarray(layers)
    ds = xr.Dataset(
        {
            "hidden": (("word", "layer", "feature"), hidden.astype(np.float32, copy=False)),
            "n_tokens": (("word",), al.n_tokens.astype(np.int32)),
            "perplexity": ((), float(ppl)),
        },
        coords={
            "word": np.arange(n),
            "text": ("word", np.asarray(text, dtype=object).astype(str)),
            "onset": ("word", word_column(words, "onset", n)),
            "offset": ("word", word_column(words, "offset", n)),
            "story": story_name(words),
            "layer": layer_arr,
            "relative_depth": ("layer", layer_arr / n_layers),
            "feature": np.arange(hidden.shape[-1]),
        },
    )
    attrs = {
        "model_id": info["model_id"],
        "model_source": info["source"],
        "model_name": info.get("name", info["model_id"]),
        "weights_sha256": info["weights_sha256"],
        "random_init": bool(info["random_init"]),
        "seed": int(info["seed"]),
        **{k: ("" if v is None else v) for k, v in settings.items()},
        "pooling": pooling,
        "dtype": "float32",
        "model_dtype": info.get("dtype", "float32"),
        "n_story_tokens": int(len(al.input_ids)),
        "n_prefix_tokens": len(al.prefix_ids),
        "perplexity_context": "story" if settings["context_mode"] == "story" else "strided"
        if settings["context_mode"] == "strided" else "story (separate pass)",
        "library_versions": _library_versions(),
    }
    attrs["config_hash"] = hashlib.sha256(json.dumps(
        {k: attrs[k] for k in ("weights_sha256", "random_init", "seed", "context_mode", "context_size",
                               "context_length", "context_stride", "pooling", "model_dtype")},
        sort_keys=True, default=str).encode()).hexdigest()[:16]
    ds.attrs = attrs
    ds["hidden"].attrs = {"description": "hidden state per word (pooled over its tokens)"}
    ds["perplexity"].attrs = {"description": "exp(mean next-token NLL) over the story's tokens"}
    return ds


def zarr_encoding(ds: xr.Dataset) -> dict:
    """Encoding for :func:`brainalign.io.store.write_zarr`: one layer per chunk of ``hidden``."""
    return {"hidden": {"chunks": (ds.sizes["word"], 1, ds.sizes["feature"])}}
