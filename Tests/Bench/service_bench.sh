#!/usr/bin/env bash
# The service figures (issue 14, part 1), on a seeded data set:
#   Tests/Bench/service_bench.sh [BUILD_DIR] [TICKETS]   (default build, 1000000)
# Starts crmd with contacts and service on a temp data dir, seeds PEOPLE
# people (10,000) and 8 teams of 2 agents, then:
#   1. creates TICKETS tickets through CreateTicket at 64 in flight on one
#      connection (crmctl bench), spread over the teams, assigned and
#      unassigned, every priority: the creates/s and their latency;
#   2. times queue pages (ListTickets, page_size 50) one call at a time:
#      a team's queue, unassigned in a team, an agent's open tickets, a
#      team's urgent ones, the whole unsolved queue, and page 200 of a
#      team's queue (keyset: it should cost what page 1 does);
# and prints crmd's peak memory (VmHWM). The same run's baseline is
# Health/Check at 1 x 1. Calls act as crmd's own uid (scope all).
set -euo pipefail
build="${1:-build}"
tickets="${2:-1000000}"
people="${PEOPLE:-10000}"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/service.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"
sv="/crm.service.v1.Service"
# contacts' timeline subscriber lag (it files every ticket event): the
# queue timings wait for it, so they measure reads, not reads beside it.
lag() { "$ctl" plugins | awk '/^contacts /{m=1; next} m && /events/{sub(/.*lag /, ""); sub(/,.*/, ""); print; exit}'; }
peak() { echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"; }
jfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

echo "== seed: $people people, 8 teams of 2 agents"
"$ctl" seed --contacts "$people" --organizations $(( people / 50 + 1 )) --batch 2000 >/dev/null
for t in 1 2 3 4 5 6 7 8; do
  "$ctl" call "$sv/SetTeam" "{\"name\":\"t$t\",\"agents\":[\"a$t\",\"b$t\"]}" >/dev/null
done

echo "== creates: $tickets tickets, CreateTicket at 1 connection x 64 in flight"
priorities=(LOW NORMAL HIGH URGENT)
shape() { # <i>: the request of shape i (team, assignee or none, priority)
  local i=$1 t=$(( $1 % 8 + 1 )) p=${priorities[$(( $1 / 8 % 4 ))]} who=""
  (( i / 32 % 2 == 1 )) && who="\"assignee\":\"a$t\","
  echo "{\"ticket\":{\"subject\":\"Bench ticket\",\"requesterId\":\"\$RANDOM\",\"priority\":\"$p\",$who\"team\":\"t$t\"}}"
}
made=0; secs=0; i=0; rate=0; p99s=()
while (( made < tickets )); do
  left=$(( tickets - made ))
  # The first run measures the rate; later ones are sized to what is left.
  if (( i == 0 )); then d=3; else d=$(awk -v l="$left" -v r="$rate" 'BEGIN { d = l / r; if (d > 10) d = 10; if (d < 0.5) d = 0.5; print d }'); fi
  out=$("$ctl" bench --method "$sv/CreateTicket" --json "$(shape $i)" --random "1:$people" \
          --connections 1 --in-flight 64 --duration "$d" --warmup 0 --format json)
  calls=$(echo "$out" | jfield calls); errors=$(echo "$out" | jfield errors)
  (( errors == 0 )) || { echo "create errors: $out"; exit 1; }
  made=$(( made + calls ))
  secs=$(awk -v a="$secs" -v b="$(echo "$out" | jfield seconds)" 'BEGIN { print a + b }')
  rate=$(awk -v m="$made" -v s="$secs" 'BEGIN { printf "%.0f", m / s }')
  p99s+=("$(echo "$out" | jfield p99_us)")
  i=$(( i + 1 ))
  (( i % 10 == 0 )) && echo "  $made tickets, $rate creates/s so far"
done
echo "created $made tickets in $secs s: $rate creates/s at 64 in flight; p99 per run (µs): $(printf '%s\n' "${p99s[@]}" | sort -n | tail -1) worst, $(printf '%s\n' "${p99s[@]}" | sort -n | head -1) best"
peak

t0=$(date +%s)
until [ "$(lag)" = 0 ]; do sleep 1; done
echo "contacts' timeline caught up $(( $(date +%s) - t0 )) s after the last create"

echo "== queue pages (page_size 50), 1 connection x 1 in flight, 5 s each"
bench() { # <label> <method> <json>
  local out
  out=$("$ctl" bench --method "$2" --json "$3" --connections 1 --in-flight 1 --duration 5 --format json)
  printf '%-44s p50 %6s µs  p99 %6s µs  p99.9 %6s µs  %s calls/s\n' "$1" "$(echo "$out" | jfield p50_us)" \
    "$(echo "$out" | jfield p99_us)" "$(echo "$out" | jfield p999_us)" "$(echo "$out" | jfield calls_per_s)"
}
bench "baseline Health/Check" /crm.kernel.v1.Health/Check '{}'
bench "team queue (team t3, unsolved)" "$sv/ListTickets" '{"team":"t3"}'
bench "unassigned in my team (t3)" "$sv/ListTickets" '{"team":"t3","unassigned":true}'
bench "an agent's open tickets (assignee a3)" "$sv/ListTickets" '{"assignee":"a3"}'
bench "team t3, URGENT only" "$sv/ListTickets" '{"team":"t3","priority":"URGENT"}'
bench "team t3 + assignee a3" "$sv/ListTickets" '{"team":"t3","assignee":"a3"}'
bench "whole unsolved queue (manager)" "$sv/ListTickets" '{}'
token=""
for _ in $(seq 199); do
  token=$("$ctl" call "$sv/ListTickets" "{\"team\":\"t3\",\"pageToken\":\"$token\"}" | sed -n 's/.*"nextPageToken": *"\([^"]*\)".*/\1/p' | tail -1)
done
bench "team queue, page 200" "$sv/ListTickets" "{\"team\":\"t3\",\"pageToken\":\"$token\"}"
peak
