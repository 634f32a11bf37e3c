"""Benchmark files of the heavy rules summarised per rule (brainalign.jobstats, benchmarks/rule_usage.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainalign.errors import InputError
from brainalign.jobstats import SUMMARY_COLUMNS, read_benchmarks, summarise_benchmarks

REPO = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
EXTENDED = HEADER + "\tjobid\trule_name\twildcards\tparams\tthreads\tcpu_usage\tresources\tinput_size_mb"


def _write(path: Path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _results(root: Path) -> Path:
    res = root / "results" / "demo"
    _write(res / "benchmarks" / "encode" / "m" / "fmri.tsv", HEADER,
           "120.5\t0:02:00\t3000.0\t4000\t2900\t2950\t10\t20\t95.0\t230.0")
    _write(res / "benchmarks" / "encode" / "m" / "eeg.tsv", HEADER,
           "60.0\t0:01:00\t1500.0\t2000\t1400\t1450\t5\t6\t90.0\t110.0")
    # a job too short for memory sampling: Snakemake writes '-'
    _write(res / "benchmarks" / "preprocess_fmri" / "sub-01" / "a.tsv", HEADER,
           "2.0\t0:00:02\t-\t-\t-\t-\t-\t-\t-\t1.5")
    _write(res / "benchmarks" / "preprocess_fmri" / "sub-01" / "b.tsv", EXTENDED,
           "10.0\t0:00:10\t900.0\t1000\t800\t850\t1\t1\t80.0\t8.0\t7\tpreprocess_fmri\t{'subject': '01'}"
           "\t{}\t1\t80\t{'mem_mb': 600, 'runtime': 10}\t12.5")
    _write(res / "logs" / "encode" / "m" / "fmri.log", "not a benchmark")
    _write(root / "results" / "brainbench" / "benchmarks" / "brainbench_score" / "m" / "t.tsv", HEADER,
           "30.0\t0:00:30\t2500.0\t3000\t2400\t2450\t1\t1\t99.0\t29.0")
    return root / "results"


def test_rows_and_per_rule_summary(tmp_path):
    results = _results(tmp_path)
    jobs = read_benchmarks([results])
    assert len(jobs) == 5
    assert sorted(jobs.rule.unique()) == ["brainbench_score", "encode", "preprocess_fmri"]
    assert sorted(jobs[jobs.rule == "encode"].job) == ["m/eeg.tsv", "m/fmri.tsv"]
    summary = summarise_benchmarks(jobs)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary.rule.tolist() == ["encode", "brainbench_score", "preprocess_fmri"]  # largest peak first
    enc = summary.set_index("rule").loc["encode"]
    assert enc.jobs == 2 and enc.wall_s_max == 120.5 and enc.wall_s_median == pytest.approx(90.25)
    assert enc.cpu_s_total == pytest.approx(340.0) and enc.max_rss_mb == 3000.0
    assert enc.suggested_mem_mb == 3800 and enc.suggested_runtime_min == 3  # 3000 * 1.25, 120.5 s * 1.25
    assert np.isnan(enc.requested_mem_mb) and np.isnan(enc.rss_over_request)
    pre = summary.set_index("rule").loc["preprocess_fmri"]
    # the request recorded by --benchmark-extended: 900 MB measured against 600 MB asked for
    assert pre.requested_mem_mb == 600 and pre.rss_over_request == pytest.approx(1.5)
    assert pre.max_rss_mb == 900.0  # the unmeasured job does not hide the measured one


def test_script_prints_table_and_result_line(tmp_path):
    results = _results(tmp_path)
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "rule_usage.py"), str(results),
                          "--tsv", str(tmp_path / "usage.tsv")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "RESULT rules=3 jobs=5 max_rss_mb=3000 max_rss_over_request=1.50"
    assert (tmp_path / "usage.tsv").read_text().startswith("rule\tjobs\t")
    empty = subprocess.run([sys.executable, str(REPO / "benchmarks" / "rule_usage.py"), str(tmp_path / "none")],
                           capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "no benchmark files" in empty.stderr


def test_damaged_benchmark_file_names_the_file(tmp_path):
    bad = tmp_path / "benchmarks" / "encode" / "x.tsv"
    _write(bad, "seconds\tmemory", "1\t2")
    with pytest.raises(InputError, match=r"encode/x\.tsv: lacks column\(s\) \['s', 'max_rss', 'cpu_time'\]"):
        read_benchmarks([tmp_path])
