#!/usr/bin/env bash
# The b2b figures (issue 16, quotes):
#   Tests/Bench/b2b_bench.sh [BUILD_DIR] [LINES]   (default build, 500)
# Starts crmd with contacts, sales and b2b on a temp data dir, makes a
# catalog of 100 products in a EUR price book and a quote content of LINES
# lines over two sections (product lines and free lines, fractional
# quantities, percent and amount discounts, four tax rates), then times,
# one call at a time (crmctl bench, 1 connection x 1 in flight):
#   1. PriceQuote of the content, per line and on the total (pricing alone:
#      no storage but the catalog lookup; the target is < 10 ms);
#   2. GetQuote and RenderQuote of the stored quote;
#   3. UpdateQuote of the draft, each call a new first-line quantity (a write:
#      pricing, the revision blob, the audit entry and the event).
set -euo pipefail
build="${1:-build}"
lines="${2:-500}"
seconds="${SECONDS_PER_RUN:-5}"
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
b2b="/crm.b2b.v1.B2B"

echo "== catalog: 100 products in a EUR price book"
"$ctl" call "$b2b/CreatePriceBook" '{"priceBook":{"name":"Standard","currency":"EUR"}}' > /dev/null
for i in $(seq 100); do
  "$ctl" call "$b2b/CreateProduct" "{\"product\":{\"sku\":\"SKU-$i\",\"name\":\"Product $i\"}}" > /dev/null
  "$ctl" call "$b2b/SetPrice" "{\"priceBookId\":\"1\",\"productId\":\"$i\",\"unitPriceMinor\":\"$(( i * 137 + 99 ))\"}" > /dev/null
done
"$ctl" call /crm.sales.v1.Sales/CreateOpportunity '{"opportunity":{"name":"Bench deal","owner":"bench"}}' > /dev/null

content() { # <level> [first quantity]
  python3 - "$lines" "$1" "${2:-}" <<'PY'
import json, sys
n, level, first = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rates = [0, 700, 1900, 2000]
def line(i):
    l = {"quantity": f"{1 + i % 7}.{(i * 37) % 1000:03d}", "taxRateBp": rates[i % 4]}
    if i % 2 == 0:
        l["productId"] = str(1 + i % 100)
    else:
        l["description"] = f"Service {i}"
        l["unitPriceMinor"] = str(1000 + (i * 7919) % 100000)
    if i % 5 == 0: l["discountPercentBp"] = (i * 13) % 3000
    elif i % 5 == 1 and i % 2 == 1: l["discountAmountMinor"] = "50"
    return l
ls = [line(i) for i in range(n)]
if first: ls[0]["quantity"] = first
half = n // 2
print(json.dumps({"title": "Bench", "rounding": {"mode": "ROUNDING_MODE_HALF_EVEN", "level": level},
                  "sections": [{"title": "Goods", "lines": ls[:half]}, {"title": "Services", "lines": ls[half:]}]},
                 separators=(",", ":")))
PY
}
per_line="$(content ROUNDING_LEVEL_PER_LINE)"
on_total="$(content ROUNDING_LEVEL_ON_TOTAL)"
echo "request: $lines lines, $(( ${#per_line} / 1024 )) KiB of JSON"

echo "== PriceQuote, $lines lines, tax per line"
"$ctl" bench --method "$b2b/PriceQuote" --json "{\"priceBookId\":\"1\",\"content\":$per_line}" --duration "$seconds"
echo "== PriceQuote, $lines lines, tax on the total"
"$ctl" bench --method "$b2b/PriceQuote" --json "{\"priceBookId\":\"1\",\"content\":$on_total}" --duration "$seconds"

"$ctl" call "$b2b/CreateQuote" "{\"opportunityId\":\"1\",\"currency\":\"EUR\",\"content\":$on_total}" > /dev/null
echo "== GetQuote of the stored $lines-line quote"
"$ctl" bench --method "$b2b/GetQuote" --json '{"id":"1"}' --duration "$seconds"
echo "== RenderQuote (HTML and SHA-256) of the draft"
"$ctl" bench --method "$b2b/RenderQuote" --json '{"id":"1"}' --duration "$seconds"
echo "== UpdateQuote of the draft (a write each call)"
"$ctl" bench --method "$b2b/UpdateQuote" --random 1:1000000 \
  --json "{\"id\":\"1\",\"content\":$(content ROUNDING_LEVEL_ON_TOTAL '$RANDOM')}" --duration "$seconds"
echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
