#!/bin/bash
# Queues a sharded extraction of DATA.jsonl in N array tasks, and the merge to run once all of them succeed.
#   deploy/slurm/submit.sh N MODEL DATA.jsonl OUTDIR --hooks 'blocks.*.hook_resid_post' --positions mean
# Set MERGE_OPTIONS=--virtual to link the shards instead of copying them.
set -euo pipefail

if [ "$#" -lt 5 ]; then
    echo "usage: $0 N MODEL DATA.jsonl OUTDIR EXTRACT-OPTIONS…" >&2
    exit 2
fi
n=$1
outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
shift

array=$(sbatch --parsable --array="1-$n" "$here/extract-array.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch" "$outdir" "$n" ${MERGE_OPTIONS:-})
echo "extraction: job array $array ($n tasks); merge: job $merge → $outdir/acts.h5"
