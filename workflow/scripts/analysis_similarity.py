"""Rule `analysis_similarity`: CKA / RSA between every pair of layers of every pair of models."""

from brainalign.analyses import similarity_table, stack_features
from brainalign.io.store import atomic_write_table, read_zarr
from brainalign.plotting import plot_similarity
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
sim = smk.params.similarity
models, stories = list(smk.params.models), list(smk.params.stories)
paths = iter(smk.input.features)  # model-major, story-minor
features = {m: stack_features([read_zarr(next(paths)) for _ in stories]) for m in models}
for method, table_path, fig_path in zip(sim["methods"], smk.output.tables, smk.output.figures):
    table = similarity_table(features, method=method, debiased=sim["debiased"], max_words=sim["max_words"],
                             seed=smk.params.seed, standardize=sim["standardize"])
    atomic_write_table(table, table_path)
    plot_similarity(table, fig_path)
    log.info("%s: %d layer pairs on %d words", method, len(table), int(table["n_words"].iloc[0]))
