#!/usr/bin/env bash
# Email to ticket's figure (issue 14, part 7):
#   Tests/Bench/service_email_bench.sh [BUILD_DIR] [MESSAGES] [PARALLEL]   (default build, 2000, 8)
# Starts crmd with contacts and service on a temp data dir and pipes
# MESSAGES generated messages through `crmctl ingest-email`, PARALLEL pipes
# at once, as a mail server's pipe transport would: half open tickets for
# new senders, half reply by In-Reply-To to one of those. Each pipe is a
# crmctl process (start, connect, one call), so the figure is the
# end-to-end rate a mail server sees. Then 200 more, one at a time, for the
# latency of one pipe.
set -euo pipefail
build="${1:-build}"
messages="${2:-2000}"
parallel="${3:-8}"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins" "$dir/mail"
cp "$build"/plugins/contacts.* "$build"/plugins/service.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"

half=$(( messages / 2 ))
mail() { # <file> <sender n> <in-reply-to or empty> <message n>
  {
    printf 'From: Sender %d <sender%d@bench.example>\r\nTo: support@acme.example\r\n' "$2" "$2"
    printf 'Subject: Bench message %d\r\nMessage-ID: <m%d@bench.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n' "$2" "$4"
    [ -n "$3" ] && printf 'In-Reply-To: <%s>\r\n' "$3"
    printf 'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
    printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nMessage %d: the printer is on fire again.\r\n\r\nOn Mon, Support wrote:\r\n> earlier text\r\n' "$2"
    printf -- '--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Message %d: the printer is on fire again.</p>\r\n--b--\r\n' "$2"
  } > "$1"
}
for n in $(seq 1 "$half"); do mail "$dir/mail/$n.eml" "$n" "" "$n"; done
for n in $(seq $(( half + 1 )) "$messages"); do mail "$dir/mail/$n.eml" $(( n - half )) "m$(( n - half ))@bench.example" "$n"; done
for n in $(seq 1 200); do mail "$dir/mail/s$n.eml" $(( messages + n )) "" $(( messages + n )); done

pipe() { "$ctl" ingest-email --sysexits < "$1" > /dev/null; }
export -f pipe; export ctl
t0=$(date +%s.%N)
seq 1 "$half" | xargs -P "$parallel" -I{} bash -c 'pipe "$0/mail/{}.eml"' "$dir"
seq $(( half + 1 )) "$messages" | xargs -P "$parallel" -I{} bash -c 'pipe "$0/mail/{}.eml"' "$dir"
t1=$(date +%s.%N)
awk -v n="$messages" -v p="$parallel" -v a="$t0" -v b="$t1" \
  'BEGIN { printf "%d messages (%d new senders, %d replies) through crmctl ingest-email, %d pipes at once: %.1f s, %.0f messages/s\n", n, n/2, n/2, p, b - a, n / (b - a) }'
lat="$dir/lat.txt"
for n in $(seq 1 200); do
  s=$(date +%s%N); pipe "$dir/mail/s$n.eml"; e=$(date +%s%N); echo $(( (e - s) / 1000 )) >> "$lat"
done
sort -n "$lat" | awk '{ v[NR] = $1 } END { printf "one pipe at a time (200): p50 %.1f ms, p99 %.1f ms\n", v[int(NR*0.5)]/1000, v[int(NR*0.99)]/1000 }'
count() { # <outcome>: records with it
  local token="" total=0 page
  while :; do
    page=$("$ctl" call /crm.service.v1.Mailbox/ListInboundEmails "{\"outcome\":\"$1\",\"pageSize\":500,\"pageToken\":\"$token\"}")
    total=$(( total + $(echo "$page" | grep -o '"outcome"' | wc -l) ))
    token=$(echo "$page" | sed -n 's/.*"nextPageToken":"\([^"]*\)".*/\1/p')
    [ -z "$token" ] && break
  done
  echo "$total"
}
echo "filed: $(count NEW_TICKET) NEW_TICKET, $(count REPLY) REPLY"
