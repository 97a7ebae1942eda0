#!/usr/bin/env bash
# The knowledge-base figures (issue 14, part 5):
#   Tests/Bench/service_kb_bench.sh [BUILD_DIR] [ARTICLES]   (default build, 100000)
# Starts crmd with contacts and service on a temp data dir, seeds ARTICLES
# generated articles through CreateArticle and PublishArticle at 64 in
# flight (service_kb_bench.py seed: 80% PUBLISHED, 10% INTERNAL, 10%
# drafts), then times SearchArticles one call at a time, page_size 10, as a
# service_agent (published and internal articles, their own drafts):
# topic queries (1-3 mid-frequency words), the same with highlights and
# snippets, and the worst case of one word found in most articles. The
# same run's baseline is Health/Check at 1 x 1 (crmctl bench) and
# SearchArticles for one fixed topic query with crmctl bench (no Python in
# the timing). Prints crmd's peak memory (VmHWM).
set -euo pipefail
build="${1:-build}"
articles="${2:-100000}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/plugins"
cp "$build"/plugins/contacts.* "$build"/plugins/service.* "$dir/plugins/"
"$build/bin/crmd" --socket "$dir/crm.sock" --data-dir "$dir/data" --plugin-dir "$dir/plugins" --log-level warning \
  --trusted-proxy-uid "$(id -u)" ${CRMD_FLAGS:-} &
pid=$!
for _ in $(seq 200); do [ -S "$dir/crm.sock" ] && break; sleep 0.05; done
export CRM_SOCKET="$dir/crm.sock"
ctl="$build/bin/crmctl"
sv="/crm.service.v1.Service"
jfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
peak() { echo "crmd peak memory: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"; }

echo "== seed: $articles articles"
t0=$(date +%s)
python3 "$here/service_kb_bench.py" seed "$articles"
echo "seeded in $(( $(date +%s) - t0 )) s; database $(du -sh "$dir/data" | cut -f1)"
"$ctl" access users --add kb_bench >/dev/null
"$ctl" access grant kb_bench service_agent >/dev/null
peak

echo "== SearchArticles, 1 connection x 1 in flight, page_size 10"
bench() { # <label> <method> <json>
  local out
  out=$("$ctl" bench --method "$2" --json "$3" --connections 1 --in-flight 1 --duration 5 --format json)
  printf '%-40s p50 %6s µs  p99 %6s µs  p99.9 %6s µs  %s calls/s\n' "$1" "$(echo "$out" | jfield p50_us)" \
    "$(echo "$out" | jfield p99_us)" "$(echo "$out" | jfield p999_us)" "$(echo "$out" | jfield calls_per_s)"
}
bench "baseline Health/Check" /crm.kernel.v1.Health/Check '{}'
q=$(python3 -c "import sys; sys.path.insert(0, '$here'); import service_kb_bench as b; print(b.queries('topic')[0])")
bench "one topic query (\"$q\", crmctl)" "$sv/SearchArticles" "{\"query\":\"$q\",\"pageSize\":10}"
for kind in topic snippets common; do
  python3 "$here/service_kb_bench.py" search "${SEARCH_SECONDS:-20}" "$kind"
done
peak
