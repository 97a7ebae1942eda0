#!/usr/bin/env bash
# The lag of SLA breach events (issue 14, part 2):
#   Tests/Bench/service_sla_bench.sh [BUILD_DIR] [OPEN_TICKETS] [BREACHING]   (default build, 100000, 300)
# Starts crmd with contacts and service on a temp data dir, a 24/7 UTC
# calendar and two policies: URGENT tickets get a first response target of
# 1 business minute, all others 100,000 minutes. Creates OPEN_TICKETS
# NORMAL tickets (their clocks run, due in ~69 days) at 64 in flight, then
# BREACHING URGENT tickets, ten a second, and follows service.sla.breached
# on the bus. For each breach: the lag from its due time to the moment the
# event reached the subscriber (crmctl events --follow), and to the moment
# the timer job fired it (the event's fired_unix_us). Target: < 1 s.
set -euo pipefail
build="${1:-build}"
open="${2:-100000}"
breaching="${3:-300}"
people=10000
dir="$(mktemp -d)"
pid=""; follower=""
trap '[ -n "$follower" ] && kill $follower 2>/dev/null; [ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/service.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"
sv="/crm.service.v1.Service"
jfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

"$ctl" seed --contacts "$people" --organizations $(( people / 50 + 1 )) --batch 2000 >/dev/null
hours=$(for d in MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY; do printf '{"weekday":"%s","start":"00:00","end":"24:00"},' "$d"; done)
"$ctl" call "$sv/CreateSlaCalendar" "{\"calendar\":{\"name\":\"24/7\",\"timeZone\":\"UTC\",\"hours\":[${hours%,}]}}" >/dev/null
"$ctl" call "$sv/CreateSlaPolicy" '{"policy":{"name":"urgent","position":1,"conditions":{"priorities":["URGENT"]},"calendarId":"1","firstResponseMinutes":1}}' >/dev/null
"$ctl" call "$sv/CreateSlaPolicy" '{"policy":{"name":"everyone","position":2,"calendarId":"1","firstResponseMinutes":100000}}' >/dev/null

echo "== $open NORMAL tickets with running clocks, at 64 in flight"
made=0
while (( made < open )); do
  out=$("$ctl" bench --method "$sv/CreateTicket" --json '{"ticket":{"subject":"Open","requesterId":"$RANDOM"}}' \
          --random "1:$people" --connections 1 --in-flight 64 --duration 5 --warmup 0 --format json)
  (( $(echo "$out" | jfield errors) == 0 )) || { echo "create errors: $out"; exit 1; }
  made=$(( made + $(echo "$out" | jfield calls) ))
done
echo "created $made (whole 5-second runs)"

# The follower stamps each breach as it arrives; a small reader of the
# SlaEvent bytes (fields 4 due_unix_us, 5 fired_unix_us) turns it into lags.
"$ctl" events --follow --format json service.sla.breached > "$dir/breaches.jsonl" 2>/dev/null &
follower=$!
python3 -u - "$dir/breaches.jsonl" "$dir/stamped.txt" "$breaching" <<'PY' &
import base64, json, sys, time
src, dst, want = sys.argv[1], open(sys.argv[2], "w"), int(sys.argv[3])
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i, out = 0, {}
    while i < len(b):
        key, i = varint(b, i); f, t = key >> 3, key & 7
        if t == 0: v, i = varint(b, i); out[f] = v
        elif t == 2: n, i = varint(b, i); i += n
        elif t == 1: i += 8
        elif t == 5: i += 4
    return out
seen, f = 0, open(src)
deadline = time.time() + 900
while seen < want and time.time() < deadline:
    line = f.readline()
    if not line: time.sleep(0.005); continue
    now = int(time.time() * 1e6)
    e = json.loads(line)
    p = fields(base64.b64decode(e["payload_base64"]))
    if 4 not in p or 5 not in p: sys.exit("a breach event without due_unix_us or fired_unix_us: " + line)
    dst.write(f"{now - p[4]} {p[5] - p[4]}\n"); dst.flush(); seen += 1
PY
reader=$!
sleep 1
echo "== $breaching URGENT tickets, ten a second; each breaches one minute later"
batch=()
for n in $(seq "$breaching"); do
  "$ctl" call "$sv/CreateTicket" "{\"ticket\":{\"subject\":\"Urgent $n\",\"requesterId\":\"$(( n % people + 1 ))\",\"priority\":\"URGENT\"}}" >/dev/null &
  batch+=($!)
  if (( n % 10 == 0 )); then wait "${batch[@]}"; batch=(); sleep 0.9; fi
done
[ ${#batch[@]} -gt 0 ] && wait "${batch[@]}"
wait $reader
sort -n -k1 "$dir/stamped.txt" | awk '{ r[NR] = $1 } END { n = NR; printf "breaches received: %d, beside '"$open"' open tickets with running clocks\n", n; printf "due -> received by a subscriber: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r[int(n*0.5)]/1000, r[int(n*0.99)]/1000, r[n]/1000 }'
sort -n -k2 "$dir/stamped.txt" | awk '{ f[NR] = $2 } END { n = NR; printf "due -> fired by the timer job: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", f[int(n*0.5)]/1000, f[int(n*0.99)]/1000, f[n]/1000 }'
