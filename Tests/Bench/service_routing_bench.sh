#!/usr/bin/env bash
# The routing figures (issue 14, part 3):
#   Tests/Bench/service_routing_bench.sh [BUILD_DIR] [TICKETS]   (default build, 50000)
# Starts crmd with contacts and service on a temp data dir, seeds 10,000
# people and two teams with the same 20 agents, all ONLINE: `manual`
# (no routing) and `rr` (round robin). Then:
#   1. creates TICKETS tickets into each team through CreateTicket at 64 in
#      flight on one connection: the cost of routing on create is the
#      difference between the two rates;
#   2. takes every agent OFFLINE, queues QUEUED (10,000) tickets in `rr`,
#      brings one agent back ONLINE and times how long the queue takes to
#      drain (SetAgentAvailability routes 100 at once, the RunRouting job
#      the rest, 200 per write).
# Calls act as crmd's own uid (scope all).
set -euo pipefail
build="${1:-build}"
tickets="${2:-50000}"
queued="${QUEUED:-10000}"
people=10000
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
jfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

echo "== seed: $people people, teams manual and rr with the same 20 agents, all ONLINE"
"$ctl" seed --contacts "$people" --organizations $(( people / 50 + 1 )) --batch 2000 >/dev/null
agents=$(for a in $(seq 20); do printf '"ag%02d",' "$a"; done); agents="[${agents%,}]"
"$ctl" call "$sv/SetTeam" "{\"name\":\"manual\",\"agents\":$agents}" >/dev/null
"$ctl" call "$sv/SetTeam" "{\"name\":\"rr\",\"agents\":$agents}" >/dev/null
"$ctl" call "$sv/SetTeamRouting" '{"routing":{"team":"rr","mode":"ROUTING_MODE_ROUND_ROBIN"}}' >/dev/null
for a in $(seq 20); do
  "$ctl" call "$sv/SetAgentAvailability" "$(printf '{"agent":"ag%02d","availability":"AVAILABILITY_ONLINE"}' "$a")" >/dev/null
done

creates() { # <team> <count>: creates/s and p99 at 64 in flight
  local made=0 secs=0 out calls
  while (( made < $2 )); do
    out=$("$ctl" bench --method "$sv/CreateTicket" \
            --json "{\"ticket\":{\"subject\":\"Bench\",\"requesterId\":\"\$RANDOM\",\"team\":\"$1\"}}" --random "1:$people" \
            --connections 1 --in-flight 64 --duration 5 --warmup 0 --format json)
    (( $(echo "$out" | jfield errors) == 0 )) || { echo "create errors: $out"; exit 1; }
    calls=$(echo "$out" | jfield calls); made=$(( made + calls ))
    secs=$(awk -v a="$secs" -v b="$(echo "$out" | jfield seconds)" 'BEGIN { print a + b }')
    last_p99=$(echo "$out" | jfield p99_us)
  done
  printf '%-8s %7d tickets: %6.0f creates/s at 64 in flight, last run p99 %s µs\n' "$1" "$made" \
    "$(awk -v m="$made" -v s="$secs" 'BEGIN { print m / s }')" "$last_p99"
}
echo "== creates into each team"
creates manual "$tickets"
creates rr "$tickets"
"$ctl" call "$sv/GetAgentRouting" '{"agent":"ag01"}' | tr -d '\n' | sed 's/  */ /g'; echo

echo "== queue drain: $queued queued tickets, then one agent ONLINE"
for a in $(seq 20); do
  "$ctl" call "$sv/SetAgentAvailability" "$(printf '{"agent":"ag%02d","availability":"AVAILABILITY_OFFLINE"}' "$a")" >/dev/null
done
made=0
while (( made < queued )); do
  out=$("$ctl" bench --method "$sv/CreateTicket" --json '{"ticket":{"subject":"Queued","requesterId":"$RANDOM","team":"rr"}}' \
          --random "1:$people" --connections 1 --in-flight 64 --duration 2 --warmup 0 --format json)
  made=$(( made + $(echo "$out" | jfield calls) ))
done
queued=$made
waiting() { "$ctl" call "$sv/ListTickets" '{"team":"rr","unassigned":true,"pageSize":1}' | grep -c '"id"' || true; }
echo "queued: $(waiting) page(s) of unassigned tickets left (1 = some)"
t0=$(date +%s.%N)
"$ctl" call "$sv/SetAgentAvailability" '{"agent":"ag01","availability":"AVAILABILITY_ONLINE"}' | grep routed || true
until [ "$(waiting)" = 0 ]; do sleep 0.2; done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$queued" 'BEGIN { printf "drained %d queued tickets in %.2f s: %.0f routed/s\n", n, b - a, n / (b - a) }'
