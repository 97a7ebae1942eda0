#!/usr/bin/env python3
"""The knowledge-base figures of service_kb_bench.sh, through the
repository's Python client (sdk/python), on a fresh crmd with service:

  service_kb_bench.py seed ARTICLES    creates ARTICLES articles
      (CreateArticle, 64 in flight on one connection), then publishes 80%
      of them PUBLISHED and 10% INTERNAL (PublishArticle, 64 in flight);
      10% stay drafts. Text is generated, deterministic: a vocabulary of
      20,000 made-up words with Zipf frequencies (s = 1) behind 40
      function words that take 40% of the tokens; titles of 3-8 words,
      bodies of 40-160.
  service_kb_bench.py search SECONDS KIND   times SearchArticles one call
      at a time for SECONDS (page_size 10, as a reader of published and
      internal articles: crmd's own uid sees drafts too, so the call acts
      as CRM user "kb_bench", a service_agent the script makes). KIND:
      topic     1-3 words drawn uniformly from content ranks 50-5,000,
      common    one of the 10 most frequent content words (each in most
                articles: the worst case),
      snippets  as topic, with highlight markers (title and snippet).
      Prints p50/p90/p99/max in ms and calls/s.

CRM_SOCKET names the socket.
"""
import bisect
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "python"))
import crm  # noqa: E402
from crm.wire import field_bytes, field_message, field_varint, iter_fields  # noqa: E402

SV = "/crm.service.v1.Service/"
WINDOW = 64
FUNCTION_WORDS = ("the to a and of in is you your for on it with this that be can if or are as from at by not "
                  "an will when then have has use click open select go see more any new after").split()


def vocabulary():
    rng = random.Random(14)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["tr", "st", "pl", "gr", "ck", "sh"]
    words, seen = [], set()
    while len(words) < 20000:
        w = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if w not in seen and w not in FUNCTION_WORDS:
            seen.add(w)
            words.append(w)
    return words


WORDS = vocabulary()
CUM = []
_total = 0.0
for rank in range(len(WORDS)):
    _total += 1.0 / (rank + 1)
    CUM.append(_total)


def content(rng):
    return WORDS[bisect.bisect(CUM, rng.random() * _total)]


def token(rng):
    return rng.choice(FUNCTION_WORDS) if rng.random() < 0.4 else content(rng)


def article(i):
    rng = random.Random(i)
    title = " ".join(content(rng) for _ in range(rng.randint(3, 8))).capitalize()
    body = " ".join(token(rng) for _ in range(rng.randint(40, 160))) + "."
    return field_message(1, field_bytes(3, title) + field_bytes(4, body))


def run(conn, method, requests, metadata=None, on_done=None):
    failed, pending = 0, []

    def settle(call):
        nonlocal failed
        status, message, payload = call.result(120)
        if status != 0:
            failed += 1
            if failed <= 3:
                print("%s failed: %d %s" % (method, status, message), file=sys.stderr)
        elif on_done:
            on_done(payload)

    for request in requests:
        pending.append(conn.start_call(method, request, metadata))
        if len(pending) >= WINDOW:
            settle(pending.pop(0))
    for call in pending:
        settle(call)
    return failed


def first_varint(payload, number):
    for n, _, value in iter_fields(payload):
        if n == number:
            return value
    return 0


def seed(count):
    ids = []
    with crm.connect() as conn:
        t0 = time.time()
        failed = run(conn, SV + "CreateArticle", (article(i) for i in range(count)),
                     on_done=lambda p: ids.append(first_varint(p, 1)))
        t1 = time.time()
        print("created %d articles in %.1f s: %.0f/s (CreateArticle, 64 in flight)" % (len(ids), t1 - t0, len(ids) / (t1 - t0)))
        ids.sort()
        states = [(3 if k % 10 < 8 else 2) for k in range(len(ids))]
        todo = [(i, s) for k, (i, s) in enumerate(zip(ids, states)) if k % 10 != 9]
        failed += run(conn, SV + "PublishArticle", (field_varint(1, i) + field_varint(2, s) for i, s in todo))
        t2 = time.time()
        print("published %d in %.1f s: %.0f/s (PublishArticle, 64 in flight)" % (len(todo), t2 - t1, len(todo) / (t2 - t1)))
    return 1 if failed else 0


def queries(kind, n=5000):
    rng = random.Random(99)
    out = []
    for _ in range(n):
        if kind == "common":
            out.append(WORDS[rng.randrange(10)])
        else:
            out.append(" ".join(WORDS[rng.randrange(50, 5000)] for _ in range(rng.choice((1, 2, 2, 3)))))
    return out


def search(seconds, kind):
    metadata = [("crm-user", "kb_bench")]
    marks = field_bytes(6, "<b>") + field_bytes(7, "</b>") if kind == "snippets" else b""
    times, hits, empty = [], 0, 0
    with crm.connect() as conn:
        qs = queries(kind)
        for q in qs[:50]:  # warm-up
            conn.call(SV + "SearchArticles", field_bytes(1, q) + field_varint(4, 10) + marks, metadata)
        end = time.time() + seconds
        i = 50
        while time.time() < end:
            q = qs[i % len(qs)]
            i += 1
            t = time.perf_counter()
            status, message, payload = conn.call(SV + "SearchArticles", field_bytes(1, q) + field_varint(4, 10) + marks, metadata)
            times.append(time.perf_counter() - t)
            if status != 0:
                print("search %r failed: %d %s" % (q, status, message), file=sys.stderr)
                return 1
            n = sum(1 for f, _, _ in iter_fields(payload) if f == 1)
            hits += n
            empty += n == 0
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))] * 1000

    print("%-9s %6d searches  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %6.2f ms  %5.0f calls/s  (%.1f hits/page, %d empty)"
          % (kind, len(times), pct(0.5), pct(0.9), pct(0.99), times[-1] * 1000, len(times) / sum(times),
             hits / len(times), empty))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        sys.exit(seed(int(sys.argv[2])))
    sys.exit(search(float(sys.argv[2]), sys.argv[3]))
