"""Rule `demo_dataset`: generate the BIDS demo dataset with planted ground truth.

The planted responses are driven by the planting model's own features (story context); the truth
is written to derivatives/groundtruth/truth.json, which only `validate_demo` reads.
"""

from pathlib import Path


from brainalign.demo import generate_demo, load_stories, story_words
from brainalign.features import extract_features
from brainalign.models import ModelSpec, load_model
from brainalign.runtime import setup_logging

log = setup_logging(snakemake.log[0])  # noqa: F821
smk = snakemake  # noqa: F821
demo, seed = smk.params.demo, smk.params.seed
texts = load_stories(demo["stories"])
words = {}
for name, text in texts.items():
    table = story_words(text, name, seed=seed)
    words[name] = table.iloc[: demo["max_words"]].reset_index(drop=True) if demo["max_words"] else table

planting = smk.params.model
spec = ModelSpec.from_config(planting["name"], planting["entry"], seed=seed)
loaded = load_model(spec)
features = {name: extract_features(loaded, table, mode="story", progress=True) for name, table in words.items()}
params = {**demo["params"], "n_subjects": demo["n_subjects"]}  # one source of truth for the subject count
truth = generate_demo(Path(smk.output.bids), features, words, params, seed=seed)
log.info("planted regions: %s", [region["name"] for region in truth["regions"]])
