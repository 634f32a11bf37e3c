"""Measured wall time and peak memory per rule of a finished run, to size SLURM requests.

Reads the benchmark files the heavy rules write (``<results>/benchmarks/<rule>/...``) and prints one
line per rule: job count, median and largest wall time, total CPU time, largest peak memory, the
largest peak-to-request ratio (when the run used ``--benchmark-extended``, which records each job's
requested ``mem_mb``) and suggested ``mem_mb`` / ``runtime`` with 25 % headroom.

    .venv/bin/python benchmarks/rule_usage.py results/demo results/brainbench [--tsv usage.tsv]

The last line is ``RESULT rules=<n> jobs=<n> max_rss_mb=<largest peak> max_rss_over_request=<ratio>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from brainalign.jobstats import read_benchmarks, summarise_benchmarks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="results folders to search for benchmarks/")
    parser.add_argument("--tsv", help="also write the per-rule summary here")
    parser.add_argument("--headroom", type=float, default=1.25)
    args = parser.parse_args(argv)
    jobs = read_benchmarks(args.results)
    if jobs.empty:
        print(f"no benchmark files under {', '.join(args.results)} (run the workflow first)", file=sys.stderr)
        return 1
    summary = summarise_benchmarks(jobs, headroom=args.headroom)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if args.tsv:
        summary.to_csv(args.tsv, sep="\t", index=False)
    ratio = summary["rss_over_request"].max()
    print(f"RESULT rules={len(summary)} jobs={int(summary['jobs'].sum())} "
          f"max_rss_mb={summary['max_rss_mb'].max():.0f} max_rss_over_request={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
