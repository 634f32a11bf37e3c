#!/usr/bin/env bash
# slurm_setup.sh - bring up the single-node SLURM cluster used by tests/workflow/test_slurm.py.
#
#   sudo tests/workflow/slurm_setup.sh      # CI runs this (as root) before `make test`
#
# Delegates to the shared tool ../shared/tools/slurm/setup_slurm.sh (Debian's slurm-wlm + munge +
# slurmdbd/MariaDB so that `sacct` works; ~11-25 s from nothing; idempotent), then checks that the
# node is idle. Stop the cluster with ../shared/tools/slurm/teardown_slurm.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${SLURM_TOOLS:-$here/../../../shared/tools/slurm}
[ "$(id -u)" = 0 ] || { echo "slurm_setup.sh: must run as root (sudo)" >&2; exit 1; }
[ -x "$tools/setup_slurm.sh" ] || { echo "slurm_setup.sh: no $tools/setup_slurm.sh" >&2; exit 1; }
"$tools/setup_slurm.sh"
state=$(sinfo -h -o %t | head -n1)
case "$state" in idle|mix|alloc) echo "slurm_setup.sh: cluster ready (node $state)";;
    *) echo "slurm_setup.sh: node state is '$state', expected idle" >&2; exit 1;; esac
