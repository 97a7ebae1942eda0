#!/usr/bin/env bash
# The loyalty figures (issue 15), each run against a fresh crmd with
# contacts and loyalty only:
#   Tests/Bench/loyalty_bench.sh [BUILD_DIR] [SECONDS]   (default build, 10)
#   1. ledger postings/s (EarnPoints on one account: two legs, the cached
#      balance, an idempotency record, an audit entry and an event each),
#      1 and 64 in flight, by crmctl bench --unique-field idempotency_key
#      (one fresh key per call, so no call is a replay);
#   2. gift-card redemptions/s (RedeemGiftCard by card id) at 64 in flight;
#      orders posted/s with a program's earn rules (PostOrder, 3 lines, each
#      earning: an EARN posting and a lot), 1 and 64 in flight, by one diner
#      and spread over DINERS (default 200), and paid on a house account;
#   3. balance reads at 64 in flight: GetAccount, and LookupGiftCard by
#      code (the per-caller limit lifted for the run: code_lookups_per_second
#      and code_lookup_burst), with crmctl bench;
#   4. a house-account statement over STATEMENT_ENTRIES (default 100,000)
#      charges: the charges seeded with crmctl bench at 64 in flight (also a
#      figure: ChargeHouseAccount/s), then GetHouseStatement over the whole
#      period at 1 in flight (totals, aging and the first page of lines);
#   5. Reconcile over what the run wrote (it must come back clean).
# The baseline is `make bench-storage` (the probe's Put through the same
# crmd, and direct SQLite from C): run it in the same session.
set -euo pipefail
build="${1:-build}"
seconds="${2:-10}"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/loyalty.* "$dir/plugins/"
CRM_PLUGIN_LOYALTY_CODE_LOOKUPS_PER_SECOND=10000000 CRM_PLUGIN_LOYALTY_CODE_LOOKUP_BURST=10000000 \
  "$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" \
  --enable contacts,loyalty --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"
lo="/crm.loyalty.v1.Loyalty"
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",]*\).*/\1/p" | head -1; }

account=$("$ctl" call "$lo/CreateAccount" '{"kind":"ACCOUNT_KIND_POINTS","label":"bench"}' | field id)
issued=$("$ctl" call "$lo/IssueGiftCards" '{"format":"GIFT_CARD_FORMAT_DIGITAL","currency":"EUR","initialAmount":"1000000000000000","idempotencyKey":"bench-card"}')
card=$(echo "$issued" | field id)
code=$(echo "$issued" | field code)
echo "points account $account, gift card $card"

echo "== ledger postings (EarnPoints, one account)"
postings() { # METHOD JSON CONNECTIONS IN_FLIGHT
  echo "$1, $3 x $4 in flight:"
  "$ctl" bench --method "$lo/$1" --json "$2" --unique-field idempotency_key \
    --connections "$3" --in-flight "$4" --duration "$seconds" | sed -n 2,4p
}
postings EarnPoints "{\"accountId\":\"$account\",\"points\":\"1\"}" 1 1
postings EarnPoints "{\"accountId\":\"$account\",\"points\":\"1\"}" 1 64
postings EarnPoints "{\"accountId\":\"$account\",\"points\":\"1\"}" 4 16
echo "== gift-card redemptions (RedeemGiftCard by card id)"
postings RedeemGiftCard "{\"cardId\":\"$card\",\"amount\":\"1\"}" 1 64

echo "== orders with earn rules (PostOrder: the order, its lines, an EARN posting and a pending lot)"
"$ctl" call /crm.loyalty.v1.Programs/CreateProgram '{"program":{"name":"bench","currency":"EUR","pointsPerStep":"1","pointsPerVisit":"5",
  "itemRules":[{"itemId":"latte","pointsPerUnit":"2"},{"category":"merch","excludeFromSpend":true}],
  "bonusWindows":[{"days":[1,2,3,4,5,6,7],"startMinute":0,"endMinute":1440,"multiplierPercent":150}],
  "maxPointsPerOrder":"1000","pendingSeconds":"1209600","expirySeconds":"31536000","expiryRounding":"EXPIRY_ROUNDING_END_OF_MONTH",
  "timeZone":"Europe/Paris"}}' >/dev/null
diner=$("$ctl" call /crm.contacts.v1.Contacts/CreatePerson '{"person":{"firstName":"Dina","lastName":"Bench"}}' | field id)
"$ctl" call "$lo/CreateAccount" "{\"kind\":\"ACCOUNT_KIND_POINTS\",\"personId\":\"$diner\"}" >/dev/null
order="{\"personId\":\"$diner\",\"currency\":\"EUR\",\"location\":\"bench\",\"lines\":[
  {\"itemId\":\"latte\",\"name\":\"Latte\",\"category\":\"coffee\",\"quantity\":\"2\",\"unitPrice\":\"350\",\"tax\":\"70\"},
  {\"itemId\":\"croissant\",\"name\":\"Croissant\",\"category\":\"pastry\",\"quantity\":\"1\",\"unitPrice\":\"220\",\"discount\":\"20\"},
  {\"itemId\":\"mug\",\"name\":\"Mug\",\"category\":\"merch\",\"quantity\":\"1\",\"unitPrice\":\"1200\"}]}"
order="$(echo "$order" | tr -d '\n')"
for flight in 1 64; do
  echo "PostOrder (3 lines, earning), one diner, 1 x $flight in flight:"
  "$ctl" bench --method /crm.loyalty.v1.Orders/PostOrder --json "$order" --unique-field idempotency_key \
    --in-flight "$flight" --duration "$seconds" | sed -n 2,4p
done
# A café's regulars rather than one diner with thousands of pending lots:
# DINERS people with a points account each, orders spread over them at random.
diners="${DINERS:-200}"
first=""
for _ in $(seq "$diners"); do
  id=$("$ctl" call /crm.contacts.v1.Contacts/CreatePerson '{"person":{"firstName":"Regular","lastName":"Bench"}}' | field id)
  "$ctl" call "$lo/CreateAccount" "{\"kind\":\"ACCOUNT_KIND_POINTS\",\"personId\":\"$id\"}" >/dev/null
  first="${first:-$id}"
done
spread="$(echo "$order" | sed "s/\"personId\":\"$diner\"/\"personId\":\"\$RANDOM\"/")"
echo "PostOrder (3 lines, earning), $diners diners, 1 x 64 in flight:"
"$ctl" bench --method /crm.loyalty.v1.Orders/PostOrder --json "$spread" --random "$first:$id" --unique-field idempotency_key \
  --in-flight 64 --duration "$seconds" | sed -n 2,4p
# The same orders paid on a house account (a CHARGE posting more per order).
tab=$("$ctl" call "$lo/CreateAccount" "{\"kind\":\"ACCOUNT_KIND_HOUSE_ACCOUNT\",\"currency\":\"EUR\",\"personId\":\"$diner\"}" | field id)
"$ctl" call /crm.loyalty.v1.HouseAccounts/SetCreditLimit "{\"accountId\":\"$tab\",\"creditLimit\":\"1000000000000000\",\"reason\":\"bench\"}" >/dev/null
tendered="$(echo "$spread" | sed "s/}]}\$/}],\"tenders\":[{\"kind\":\"TENDER_KIND_HOUSE_ACCOUNT\",\"houseAccountId\":\"$tab\",\"chargedByPersonId\":\"$diner\",\"amount\":\"2170\"}]}/")"
echo "PostOrder paid on a house account, $diners diners, 1 x 64 in flight:"
"$ctl" bench --method /crm.loyalty.v1.Orders/PostOrder --json "$tendered" --random "$first:$id" --unique-field idempotency_key \
  --in-flight 64 --duration "$seconds" | sed -n 2,4p

echo "== balance reads, 64 in flight"
"$ctl" bench --method "$lo/GetAccount" --json "{\"id\":\"$account\"}" --in-flight 64 --duration "$seconds" | sed -n 3,4p
"$ctl" bench --method "$lo/LookupGiftCard" --json "{\"code\":\"$code\"}" --in-flight 64 --duration "$seconds" | sed -n 3,4p
"$ctl" bench --method "$lo/LookupGiftCard" --json "{\"code\":\"$code\"}" --connections 4 --in-flight 16 --duration "$seconds" | sed -n 3,4p

echo "== house-account statement"
ha="/crm.loyalty.v1.HouseAccounts"
vip=$("$ctl" call /crm.contacts.v1.Contacts/CreatePerson '{"person":{"firstName":"Vera","lastName":"Bench"}}' | field id)
house=$("$ctl" call "$lo/CreateAccount" "{\"kind\":\"ACCOUNT_KIND_HOUSE_ACCOUNT\",\"currency\":\"EUR\",\"personId\":\"$vip\"}" | field id)
"$ctl" call "$ha/SetCreditLimit" "{\"accountId\":\"$house\",\"creditLimit\":\"1000000000000000\",\"reason\":\"bench\"}" >/dev/null
want="${STATEMENT_ENTRIES:-100000}"
lines=0
while (( lines < want )); do
  echo "ChargeHouseAccount, 1 x 64 in flight (seeding; $lines charges so far):"
  "$ctl" bench --method "$ha/ChargeHouseAccount" --json "{\"accountId\":\"$house\",\"amount\":\"250\",\"orderRef\":\"T1\"}" \
    --unique-field idempotency_key --in-flight 64 --duration "$seconds" | sed -n 2,4p
  lines=$("$ctl" call "$ha/GetHouseStatement" "{\"accountId\":\"$house\",\"pageSize\":1}" | field lineCount)
done
echo "GetHouseStatement over $lines entries, 1 in flight:"
"$ctl" bench --method "$ha/GetHouseStatement" --json "{\"accountId\":\"$house\"}" --duration "$seconds" | sed -n 3,4p

echo "== reconciliation over the run"
started=$(date +%s.%N)
"$ctl" call "$lo/Reconcile" '{}' | tr -d '\n' | sed 's/  */ /g'; echo
echo "Reconcile took $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
