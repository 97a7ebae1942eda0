#!/usr/bin/env bash
# The account roll-up figure (issue 16, item 1: target < 50 ms):
#   Tests/Bench/b2b_rollup_bench.sh [BUILD_DIR] [ORGS] [DEALS]   (default build, 1000, 100000)
# Starts crmd with contacts, sales and b2b on a temp data dir, seeds a
# hierarchy of ORGS organizations and DEALS opportunities over it
# (b2b_rollup_seed.py), then times, one call at a time (crmctl bench):
#   1. sales' GetAccountRollup of the group with every subsidiary (the walk
#      of contacts' hierarchy in-process, then the sums per currency);
#   2. the same of one company alone (the floor: one organization's sums);
#   3. contacts' ListSubsidiaries of the group, every level, one page.
# crmctl calls as an administrator (scope all), so the roll-up reads sales'
# kept per-organization totals (migration 10); a caller of limited scope
# sums the opportunities one by one over the covering index of migration 9.
set -euo pipefail
build="${1:-build}"
orgs="${2:-1000}"
deals="${3:-100000}"
seconds="${SECONDS_PER_RUN:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/sales.* "$build"/plugins/b2b.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"

echo "== seeding $orgs organizations and $deals opportunities"
time python3 "$here/b2b_rollup_seed.py" "$orgs" "$deals"
"$ctl" call /crm.sales.v1.Sales/GetAccountRollup '{"organizationId":"1","subsidiaries":true}'
echo "== GetAccountRollup of the group and its $(( orgs - 1 )) subsidiaries"
"$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"1","subsidiaries":true}' --duration "$seconds"
echo "== GetAccountRollup of one company alone"
"$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"500"}' --duration "$seconds"
echo "== ListSubsidiaries of the group, every level, first page of 500"
"$ctl" bench --method /crm.contacts.v1.Contacts/ListSubsidiaries \
  --json '{"organizationId":"1","descendants":true,"pageSize":500}' --duration "$seconds"
