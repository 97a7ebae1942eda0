#!/usr/bin/env bash
# The contacts figures quoted in the notes, on a seeded data set:
#   Tests/Bench/contacts_bench.sh [BUILD_DIR] [CONTACTS]   (default build, 1000000)
# Seeds CONTACTS people through the CSV import (and 10,000 updates of one
# person, for a long timeline), then measures reads with crmctl bench and
# prints crmd's peak memory, then replays every stored event to one client
# (crmctl events --summary). Takes about 3 minutes per million contacts.
set -euo pipefail
build="${1:-build}"
contacts="${2:-1000000}"
dir="$(mktemp -d)"
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"

echo "== import (seed) of $contacts contacts"
"$ctl" seed --contacts "$contacts" --organizations $(( contacts / 50 + 1 )) --timeline 10000
echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"

bench() { # <label> <method> <json> [extra flags]
  local label="$1" method="$2" json="$3"; shift 3
  echo "== $label"
  "$ctl" bench --method "/crm.contacts.v1.Contacts/$method" --json "$json" --duration 5 "$@" | sed -n 3,4p
}
bench "get by id, 64 in flight" GetPerson '{"id":"$RANDOM"}' --random "1:$contacts" --in-flight 64
bench "get by id, 1 in flight" GetPerson '{"id":"$RANDOM"}' --random "1:$contacts"
bench "search: email prefix" SearchPeople '{"query":"ada.lovelace.1$RANDOM","field":"SEARCH_FIELD_EMAIL","pageSize":20}' --random 0:999
bench "search: name prefix" SearchPeople '{"query":"lovelace a","field":"SEARCH_FIELD_NAME","pageSize":20}'
bench "search: tag" SearchPeople '{"query":"vip","field":"SEARCH_FIELD_TAG","pageSize":20}'
bench "search: organization prefix" SearchPeople '{"query":"company 1$RANDOM","field":"SEARCH_FIELD_ORGANIZATION","pageSize":20}' --random 0:999
bench "list: tag and owner" ListPeople '{"pageSize":50,"tag":"partner","owner":"owner3"}'
bench "timeline: first page of 10,000 entries" ListTimeline '{"personId":"1","pageSize":50}'
echo "== events: replay of every stored event to one client"
"$ctl" events --summary
