"""Every job of a dry run with its wildcards, outputs and params, as JSON (tests/workflow/test_plan.py).

    python tests/workflow/plan_snapshot.py WORKDIR OUT.json [TARGET ...]

runs the repository's Snakefile in dry-run mode in WORKDIR (which holds config/config.yaml) through the
Snakemake API and writes the planned jobs sorted by rule and wildcards.  Params hold what the scripts
receive (the config sections after validation), so two snapshots differ exactly where a change alters
what a job would do.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _plain(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        if isinstance(value, dict):
            return {str(k): _plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_plain(v) for v in value]
        return repr(value)


def snapshot(workdir: Path, targets: list[str]) -> list[dict]:
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, StorageSettings

    with SnakemakeApi(OutputSettings()) as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=REPO / "Snakefile", workdir=workdir,
                          config_settings=ConfigSettings(), storage_settings=StorageSettings())
        wf.dag(DAGSettings(targets=set(targets))).execute_workflow(executor="dryrun")
        jobs = [{"rule": job.rule.name, "wildcards": dict(job.wildcards_dict), "output": sorted(map(str, job.output)),
                 "params": {k: _plain(v) for k, v in job.params.items()}}
                for job in wf._workflow_store.dag.jobs]
    return sorted(jobs, key=lambda j: (j["rule"], json.dumps(j["wildcards"], sort_keys=True)))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(snapshot(workdir, sys.argv[3:]), indent=1, sort_keys=True, default=repr) + "\n")
