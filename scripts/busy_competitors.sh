#!/usr/bin/env bash
# Bursty CPU-bound competitors: load that starts and stops every few seconds, to check that the test
# suite cannot fail on speed (issue 27; house rule 8: tests never assert speed or wall-clock).
#
# Usage: scripts/busy_competitors.sh [K] [TOTAL_S]
#   K        competitor processes (default 3)
#   TOTAL_S  seconds they keep going (default 1800); they stop by themselves then
#
# Each competitor keeps one core busy for ~2.5 s (shell arithmetic only: no child processes), then
# idles for a random 2-4 s, again and again. A steady competitor slows everything alike and hides a
# test that compares two timed runs; load that changes between them is what breaks it.
#
#   scripts/busy_competitors.sh 3 1800 &
#   competitors=$!
#   make test                      # or the test files you are checking
#   kill "$competitors"            # ends every competitor it started, each by its pid
#
# The competitors are ended by their pids when this script exits for any reason (kill, Ctrl-C, the
# end of TOTAL_S). Nothing else is touched.
set -u
export LC_ALL=C  # EPOCHREALTIME and `read -t` with a '.' decimal point

k=${1:-3}
total_s=${2:-1800}
if ! [[ $k =~ ^[0-9]+$ && $total_s =~ ^[0-9]+$ ]] || (( k < 1 || total_s < 1 )); then
    echo "usage: $0 [K competitors, default 3] [TOTAL_S seconds, default 1800]" >&2
    exit 2
fi
if [[ -z ${EPOCHREALTIME:-} ]]; then
    echo "$0: needs bash 5 or later (EPOCHREALTIME)" >&2
    exit 2
fi

now_us() { now=${EPOCHREALTIME//[^0-9]/}; }  # sets $now: microseconds since the epoch, no subshell

competitor() {
    local end_us=$1 busy_until idle now
    now_us
    while (( now < end_us )); do
        busy_until=$(( now + 2500000 ))
        while (( now < busy_until )); do now_us; done  # busy: one core
        idle="$(( 2 + RANDOM % 2 )).$(( RANDOM % 10 ))"  # 2.0 to 3.9 s
        read -rt "$idle" <> <(:) || :  # idle: a sleep without a child process to leave behind
        now_us
    done
}

pids=()
stop_all() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

now_us
end_us=$(( now + total_s * 1000000 ))
for (( i = 0; i < k; i++ )); do
    competitor "$end_us" &
    pids+=("$!")
done
echo "busy_competitors: $k competitor(s) for ${total_s} s, pids ${pids[*]}" >&2
wait
