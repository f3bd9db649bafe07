#!/usr/bin/env bash
# Server CPU time per request of the rate limiter, against the guard alone.
# Three servers (guard only, rate limit in memory, rate limit in Redis) run at the same time on
# the same core and are loaded at the same time by wrk on another core, so the machine's speed
# swings hit all three alike; the figure that counts is the ratio to the guard-only server.
# Needs: npm run build, wrk (Debian), Redis on 127.0.0.1:6379.
# Usage: bash bench/rate-limit.sh [seconds] [rounds]; MODES="none memory redis memory-keyonly redis-keyonly"
# picks the servers (the first is the baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}
KEY=bench-key-00000000000001
read -r -a MODE_LIST <<< "${MODES:-none memory redis}"
BASE=${MODE_LIST[0]}
declare -A PORT PID
for mode in "${MODE_LIST[@]}"; do
  exec {fd}< <(MODE=$mode exec taskset -c 1 node bench/rate-limit-server.cjs)
  PID[$mode]=$!
  read -r PORT[$mode] <&$fd
done
trap 'for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
cpu() { curl -s "localhost:${PORT[$1]}/cpu"; }
for round in $(seq 1 "$ROUNDS"); do
  declare -A before
  for mode in "${MODE_LIST[@]}"; do before[$mode]=$(cpu $mode); done
  loads=()
  for mode in "${MODE_LIST[@]}"; do
    taskset -c 0 wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" -H "X-API-Key: $KEY" "http://127.0.0.1:${PORT[$mode]}/x" >/dev/null &
    loads+=($!)
  done
  wait "${loads[@]}"
  line="round $round:"
  declare -A per
  for mode in "${MODE_LIST[@]}"; do
    after=$(cpu $mode)
    per[$mode]=$(node -e "const a=${before[$mode]},b=$after; console.log(((b.cpu-a.cpu)/(b.served-a.served)).toFixed(1))")
  done
  for mode in "${MODE_LIST[@]}"; do
    line+=" $mode ${per[$mode]} µs/req (×$(node -e "console.log((${per[$mode]}/${per[$BASE]}).toFixed(2))"))"
  done
  echo "$line"
done
