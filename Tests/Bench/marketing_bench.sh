#!/usr/bin/env bash
# The marketing figures (issue 13), on a seeded data set:
#   Tests/Bench/marketing_bench.sh [BUILD_DIR] [CONTACTS]   (default build, 1000000)
# Starts crmd with contacts and marketing on a temp data dir, seeds CONTACTS
# people through the CSV import, waits until marketing has consumed every
# contacts event (its projection marketing_people), then:
#   1. builds rule segments (create) and times RebuildSegment on each;
#   2. CountRule and PreviewRule latency (crmctl bench);
#   3. the delay from a contact change to its segment membership event at
#      1,000 changes/s (crmctl bench-events);
#   4. a campaign to SEND (default 100,000) subscribed people, sent into a
#      loopback SMTP server (Postfix's smtp-sink, a C sink made for such
#      benchmarks; taken from Debian's postfix package if not installed):
#      messages/s, crmd's memory during the send, and contacts GetPerson
#      latency while it runs (crmctl bench);
#   PARTS="reads delay send" (the default) chooses among 2 to 4;
# and prints crmd's peak memory (VmHWM). CRMD_FLAGS go to crmd (e.g.
# CRMD_FLAGS="--sql-timeout-ms 60000" to time a rebuild past the default
# 5 s budget of a call's SQL, which otherwise ends it DEADLINE_EXCEEDED).
set -euo pipefail
build="${1:-build}"
contacts="${2:-1000000}"
rate="${RATE:-1000}"
send="${SEND:-100000}"
# Which measurements after the segments: any of reads, delay, send.
parts=" ${PARTS:-reads delay send} "
has() { [[ "$parts" == *" $1 "* ]]; }
(( send > contacts )) && send=$contacts
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)"
pid=""
sink=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; [ -n "$sink" ] && kill $sink 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/marketing.* "$dir/plugins/"

# The SMTP sink, started first: crmd is pointed at it from the start.
smtp_sink="$(command -v smtp-sink || true)"
if [ -z "$smtp_sink" ]; then
  (cd "$dir" && apt-get download -qq postfix 2>/dev/null && dpkg -x postfix_*.deb postfix) || { echo "cannot get postfix's smtp-sink"; exit 1; }
  smtp_sink="$dir/postfix/usr/sbin/smtp-sink"
  export LD_LIBRARY_PATH="$dir/postfix/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
smtp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# -c: count messages; -u: the user it drops to when run as root; 1024: listen backlog.
"$smtp_sink" -c -u nobody -h sink.invalid "127.0.0.1:$smtp_port" 1024 > "$dir/sink.log" 2>&1 &
sink=$!
export CRM_PLUGIN_MARKETING_SMTP_URL="smtp://127.0.0.1:$smtp_port" CRM_PLUGIN_MARKETING_SMTP_FROM="news@crm.example" \
  CRM_PLUGIN_MARKETING_SMTP_RATE_PER_SECOND="${SMTP_RATE:-1000000}" CRM_PLUGIN_MARKETING_SMTP_BATCH_SIZE=200 \
  CRM_PLUGIN_MARKETING_SMTP_CONNECTIONS="${SMTP_CONNECTIONS:-4}" CRM_PLUGIN_MARKETING_SMTP_STARTTLS=off \
  CRM_PLUGIN_MARKETING_PUBLIC_URL="https://mail.crm.example"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"
mk="/crm.marketing.v1.Marketing"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
peak() { echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"; }
# marketing's subscriber lag: events committed after its position.
lag() { "$ctl" plugins | awk '/^marketing /{m=1; next} m && /events/{sub(/.*lag /, ""); sub(/,.*/, ""); print; exit}'; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([0-9]*\).*/\1/p"; }

echo "== import (seed) of $contacts contacts, marketing following"
started=$(now)
# Import calls of 500 rows: short write transactions while marketing follows.
"$ctl" seed --contacts "$contacts" --organizations $(( contacts / 50 + 1 )) --batch 500
seeded=$(now)
echo "seed: $(since "$started") s; marketing lag then: $(lag) events"
until [ "$(lag)" = 0 ]; do sleep 0.2; done
echo "marketing caught up $(since "$seeded") s after the seed ($(since "$started") s from its start)"
everyone=$("$ctl" call "$mk/CountRule" '{"rule":{"all":{}}}' | field count)
echo "marketing_people: ${everyone:-0} people (CountRule of an empty all)"
peak

# Rules over what crmctl seed generates: tags cycle through 7 (a third of the
# people get a second one), stages through 6, owners through 25, every email
# is @example.com.
vip='{"condition":{"field":"tag","op":"RULE_OPERATOR_EQUALS","value":"vip"}}'
domain='{"condition":{"field":"email_domain","op":"RULE_OPERATOR_EQUALS","value":"example.com"}}'
combo='{"all":{"rules":[{"condition":{"field":"lifecycle_stage","op":"RULE_OPERATOR_IN","values":["CUSTOMER","EVANGELIST"]}},{"any":{"rules":[{"condition":{"field":"tag","op":"RULE_OPERATOR_EQUALS","value":"newsletter"}},{"condition":{"field":"owner","op":"RULE_OPERATOR_IN","values":["owner1","owner2","owner3","owner4","owner5"]}}]}},{"not":{"condition":{"field":"tag","op":"RULE_OPERATOR_EQUALS","value":"churn-risk"}}}]}}'
hot='{"condition":{"field":"tag","op":"RULE_OPERATOR_EQUALS","value":"bench-hot"}}'

echo "== segments: create (the first chunk in the call, the rest by the job; no entered events), then RebuildSegment"
for entry in "tag vip:$vip" "email_domain example.com (everyone):$domain" "stage customer/evangelist, newsletter or owners 1-5, not churn-risk:$combo" "tag bench-hot (the delay test's; empty):$hot"; do
  name="${entry%%:\{*}"; rule="${entry#*:}"
  t=$(now)
  # A failed call (DEADLINE_EXCEEDED past the SQL budget) is a figure too: report it, go on.
  if ! out=$("$ctl" call "$mk/CreateSegment" "{\"name\":\"$name\",\"kind\":\"SEGMENT_KIND_RULE\",\"rule\":$rule}" 2>&1); then
    echo "segment ($name): create FAILED after $(since "$t") s: $out"; continue
  fi
  created=$(since "$t")
  id=$(echo "$out" | field id)
  # The create answers after the first chunk; the job builds the rest.
  until "$ctl" call "$mk/GetSegment" "{\"id\":\"$id\"}" | grep -q SEGMENT_BUILD_STATE_BUILT; do sleep 0.05; done
  built=$(since "$t")
  t=$(now)
  if ! out=$("$ctl" call "$mk/RebuildSegment" "{\"segmentId\":\"$id\"}" 2>&1); then
    echo "segment $id ($name): created in $created s; rebuild FAILED after $(since "$t") s: $out"; hot_id=$id; continue
  fi
  rebuilt=$(since "$t")
  members=$(echo "$out" | field memberCount)
  echo "segment $id ($name): create answered in $created s, built in $built s; rebuild $rebuilt s (took_us $(echo "$out" | field tookUs), $(echo "$out" | field chunks) chunks), members ${members:-0}"
  hot_id=$id
done
peak

bench() { # <label> <method> <json> [extra flags]
  local label="$1" method="$2" json="$3"; shift 3
  echo "== $label"
  "$ctl" bench --method "$mk/$method" --json "$json" --duration 5 "$@" | sed -n 3,4p
}
if has reads; then
bench "CountRule: tag vip" CountRule "{\"rule\":$vip}"
bench "CountRule: the combination" CountRule "{\"rule\":$combo}"
bench "PreviewRule: tag vip, first page of 50" PreviewRule "{\"rule\":$vip,\"pageSize\":50}"
bench "PreviewRule: the combination, first page of 50" PreviewRule "{\"rule\":$combo,\"pageSize\":50}"
fi

if has delay; then
# Clearing replaces the person's tags: their other tag segments see them leave
# too; --where keeps the bench-hot segment's events only. First at 100/s (the
# delay of one change alone), then at RATE (default 1000/s, the target's load).
# Each run starts with its people untagged (it toggles from there): the two
# runs take disjoint halves of the ids.
half=$(( contacts / 2 ))
for run in "100 1:$half" "$rate $(( half + 1 )):$contacts"; do
  set -- $run; r=$1
  echo "== membership delay: UpdatePerson adds, then clears, the tag bench-hot at $r/s for 10 s"
  "$ctl" bench-events --topic marketing.segment.entered --topic marketing.segment.left \
    --key payload.personId --where "payload.segmentId=$hot_id" \
    --method /crm.contacts.v1.Contacts/UpdatePerson --random "$2" \
    --json '{"person":{"id":"$RANDOM","tags":["bench-hot"]},"updateMask":["tags"]}' \
    --json '{"person":{"id":"$RANDOM"},"updateMask":["tags"]}' \
    --rate "$r" --duration 10
done
echo "marketing lag after the writes: $(lag) events"
peak
fi

has send || exit 0
# ==== The send: a campaign to $send subscribed people =====================
echo "== campaign send to $send recipients into smtp-sink (127.0.0.1:$smtp_port)"
t=$(now)
python3 "$here/consent_seed.py" 1 "$send"
echo "consent set in $(since "$t") s"
subscribed='{"condition":{"field":"consent.email","op":"RULE_OPERATOR_EQUALS","value":"SUBSCRIBED"}}'
segment=$("$ctl" call "$mk/CreateSegment" "{\"name\":\"Subscribed\",\"kind\":\"SEGMENT_KIND_RULE\",\"rule\":$subscribed}" | field id)
until "$ctl" call "$mk/GetSegment" "{\"id\":\"$segment\"}" | grep -q SEGMENT_BUILD_STATE_BUILT; do sleep 0.2; done
echo "segment $segment: $("$ctl" call "$mk/GetSegment" "{\"id\":\"$segment\"}" | field memberCount) members"
template=$("$ctl" call "$mk/CreateTemplate" '{"template":{"name":"Bench","subject":"News for {{person.first_name}}","htmlBody":"<p>Hello {{person.first_name}},</p><p>Our <a href=\"https://shop.example/new\">new collection</a> is here.</p><p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>","textBody":"Hello {{person.first_name}}, our new collection: https://shop.example/new  Unsubscribe: {{unsubscribe_url}}"}}' | field id)
campaign=$("$ctl" call "$mk/CreateCampaign" "{\"campaign\":{\"name\":\"Bench send\",\"segmentId\":\"$segment\",\"templateId\":\"$template\"}}" | field id)
sent() { "$ctl" call "$mk/GetDeliveryStatus" '{}' | python3 -c 'import json,sys; q={e["state"]: int(e.get("count", 0)) for e in json.load(sys.stdin).get("queue", [])}; print(q.get("DELIVERY_STATE_SENT", 0), sum(q.values()))'; }
rss_max=0
t=$(now)
"$ctl" call "$mk/ScheduleCampaign" "{\"id\":\"$campaign\"}" > /dev/null
# Contacts reads while the send runs (5 s, after a second of warm-up).
"$ctl" bench --method /crm.contacts.v1.Contacts/GetPerson --json '{"id":"$RANDOM"}' --random "1:$contacts" \
  --duration 5 > "$dir/reads.txt" &
reads=$!
first_sent=""
while :; do
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status); (( rss > rss_max )) && rss_max=$rss
  read -r done_count total <<< "$(sent)"
  [ -z "$first_sent" ] && (( done_count > 0 )) && first_sent=$(now)
  (( done_count >= send )) && break
  awk -v a="$t" -v b="$(now)" 'BEGIN { exit !(b - a > 900) }' && { echo "send: gave up after 900 s at $done_count sent"; break; }
  sleep 0.2
done
span=$(since "${first_sent:-$t}")
wait $reads
echo "send: $done_count messages SENT in $(since "$t") s from ScheduleCampaign ($span s from the first SENT):" \
  "$(awk -v n="$done_count" -v s="$span" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 1) }') messages/s"
echo "crmd memory during the send: max VmRSS $(( rss_max / 1024 )) MiB"
echo "contacts GetPerson during the send:"; sed -n 2,4p "$dir/reads.txt"
peak
