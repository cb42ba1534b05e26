#!/bin/sh
# What gpt-2-simple's own recipe (the seed row: finetune(steps=1) on five 1024-token windows,
# then generate) does on GPT-2 774M's or 1558M's shape on this machine, with the memory check
# switched off, inside a memory cgroup so that running out kills the run and nothing else.
#
#     sudo sh bench/seed_large.sh [774M|1558M] [LIMIT_GB]     (default: 774M, 20)
#
# Needs root and a cgroup memory controller (v1 at /sys/fs/cgroup/memory, or v2). Prints the
# seed row's own line if it finishes, and in any case the run's exit status, its peak memory
# in the cgroup and how often it hit the limit. The engine refuses this recipe on these sizes
# before loading (engine/footprint.py); this shows what it would meet. The cgroup's peak counts
# the page cache of the files the run reads as well; the kernel's log (dmesg) has the killed
# process's own resident memory.
#
# Measured 2026-12-06 (Intel Xeon, 2 cores, 24 GB of memory, so a 20 GB limit): on 774M's shape
# and on 1558M's, the run was killed for memory after 85 s and 89 s, 19.5 GB resident
# (exit status 247: the child's -9). The footprint estimates 40 and 73 GB.
set -eu
size=${1:-774M}
limit_gb=${2:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
name=vsr-seed-$$
if [ -d /sys/fs/cgroup/memory ]; then
    group=/sys/fs/cgroup/memory/$name
    mkdir "$group"
    trap 'rmdir "$group" 2>/dev/null || true' EXIT
    echo $((limit_gb * 1000000000)) > "$group/memory.limit_in_bytes"
    peak_file=$group/memory.max_usage_in_bytes
    fail_file=$group/memory.failcnt
else
    group=/sys/fs/cgroup/$name  # memory.peak needs Linux 5.19 or later
    mkdir "$group"
    trap 'rmdir "$group" 2>/dev/null || true' EXIT
    echo $((limit_gb * 1000000000)) > "$group/memory.max"
    peak_file=$group/memory.peak
    fail_file=$group/memory.events
fi
start=$(date +%s)
status=0
sh -c "echo \$\$ > '$group/cgroup.procs' && cd '$here' && exec env VSR_MEMORY_CHECK=off python3 bench/generation.py --model '$size' --rows seed --passages 1" || status=$?
end=$(date +%s)
echo "seed recipe on $size's shape, limit $limit_gb GB: exit status $status after $((end - start)) s;" \
     "peak $(awk '{printf "%.2f", $1 / 1e9}' "$peak_file") GB; limit hit: $(tr '\n' ' ' < "$fail_file")"
