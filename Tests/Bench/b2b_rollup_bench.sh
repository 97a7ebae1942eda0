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
# Then, in the same run, 1 and 2 again without sales' covering index for the
# sums (sales_opportunities_rollup, dropped with the sqlite3 shell) and with
# it once more (created again as sales' migration 9 makes it): the
# before/after of that index on the same data, crmd and machine.
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

rollup_index_sql="CREATE INDEX IF NOT EXISTS sales_opportunities_rollup ON sales_opportunities
  (organization_id, status, currency, amount_minor, probability, owner)"
if command -v sqlite3 >/dev/null; then
  echo "== without the covering index (dropped): GetAccountRollup of the group, then of one company"
  sqlite3 "$dir/data/crm.db" "DROP INDEX IF EXISTS sales_opportunities_rollup"
  sqlite3 "$dir/data/crm.db" "EXPLAIN QUERY PLAN SELECT currency, SUM(amount_minor) FROM sales_opportunities
    WHERE organization_id IN (1, 2, 3) AND status IN (1, 2) GROUP BY currency"
  "$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"1","subsidiaries":true}' --duration "$seconds"
  "$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"500"}' --duration "$seconds"
  echo "== with the covering index again"
  sqlite3 "$dir/data/crm.db" "$rollup_index_sql"
  sqlite3 "$dir/data/crm.db" "EXPLAIN QUERY PLAN SELECT currency, SUM(amount_minor) FROM sales_opportunities
    WHERE organization_id IN (1, 2, 3) AND status IN (1, 2) GROUP BY currency"
  "$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"1","subsidiaries":true}' --duration "$seconds"
  "$ctl" bench --method /crm.sales.v1.Sales/GetAccountRollup --json '{"organizationId":"500"}' --duration "$seconds"
else
  echo "(no sqlite3 shell: the before/after of the covering index is skipped)"
fi
