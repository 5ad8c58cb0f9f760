#!/usr/bin/python3
"""Renders a bench/run results directory: report.md, summary.json and the SVG charts.

bench/run calls write_all(); `bench/report/render.py RESULTS_DIR` renders report.md again from
RESULTS_DIR/summary.json (after editing the renderer, say). Python 3 standard library only.
"""
import html
import json
import os
import shutil
import statistics
import sys

RINGWARD_COLOR = "#1f6fb4"
PEER_COLOR = "#9a9a9a"
COMPARE_COLOR = "#d08a2c"


# ---------------------------------------------------------------------------------------------
# Number formatting
# ---------------------------------------------------------------------------------------------
def n0(x):
    return "–" if x is None else f"{x:,.0f}"


def us(x):
    if x is None:
        return "–"
    if x >= 10000:
        return f"{x / 1000:.1f} ms"
    if x >= 1000:
        return f"{x / 1000:.2f} ms"
    return f"{x:.0f} µs" if x >= 10 else f"{x:.1f} µs"


def cpu(x):
    return "–" if x is None else (f"{x:.2f}" if x < 100 else f"{x:.0f}")


def pct(x, digits=0):
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def ns_time(ns):
    if ns is None:
        return "–"
    if ns < 1000:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def rate(x):
    if x is None:
        return "–"
    for div, suffix in ((1e9, " G/s"), (1e6, " M/s"), (1e3, " k/s")):
        if x >= div:
            return f"{x / div:.2f}{suffix}"
    return f"{x:.1f} /s"


def spread(t, metric, fmt):
    """'median (min–max)' when there was more than one run."""
    med = t["median"].get(metric)
    if med is None:
        return "–"
    lo, hi = t["min"].get(metric), t["max"].get(metric)
    if len([r for r in t["runs"] if "failed" not in r]) > 1 and lo is not None and lo != hi:
        return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"
    return fmt(med)


def slug(text):
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


# ---------------------------------------------------------------------------------------------
# SVG bar chart
# ---------------------------------------------------------------------------------------------
def bar_chart(path, title, subtitle, rows, unit, fmt):
    """rows: (label, median, low, high, color). Horizontal bars with min–max whiskers."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return False
    label_w, bar_w, row_h, top = 360, 470, 22, 80
    width = label_w + bar_w + 110
    height = top + row_h * len(rows) + 40
    top_value = max(max(r[1], r[3] or 0) for r in rows) or 1.0
    scale = bar_w / top_value
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>',
           f'<text x="10" y="42" fill="#444">{html.escape(subtitle)}</text>',
           f'<rect x="10" y="52" width="10" height="10" fill="{RINGWARD_COLOR}"/>',
           '<text x="24" y="61">ringward</text>',
           f'<rect x="90" y="52" width="10" height="10" fill="{PEER_COLOR}"/>',
           '<text x="104" y="61">peers (--peers)</text>',
           f'<rect x="210" y="52" width="10" height="10" fill="{COMPARE_COLOR}"/>',
           '<text x="224" y="61">--compare</text>']
    for i, (label, med, lo, hi, color) in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
                   f'{html.escape(label)}</text>')
        w = max(1.0, med * scale)
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                   f'fill="{color}"/>')
        if lo is not None and hi is not None and hi > lo:
            x1, x2, ym = label_w + lo * scale, label_w + hi * scale, y + row_h / 2
            out.append(f'<line x1="{x1:.1f}" y1="{ym}" x2="{x2:.1f}" y2="{ym}" stroke="black"/>')
            for x in (x1, x2):
                out.append(f'<line x1="{x:.1f}" y1="{ym - 4}" x2="{x:.1f}" y2="{ym + 4}" '
                           'stroke="black"/>')
        end = label_w + max(w, (hi or 0) * scale) + 6
        out.append(f'<text x="{end:.1f}" y="{y + 15}">{html.escape(fmt(med))}</text>')
    out.append(f'<text x="{label_w}" y="{height - 12}" fill="#444">{html.escape(unit)}; bar: '
               'median, whisker: min–max over the repeats</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def color_of(t):
    return {"ringward": RINGWARD_COLOR, "compare": COMPARE_COLOR}.get(t["kind"], PEER_COLOR)


# ---------------------------------------------------------------------------------------------
# Micro-benchmark ratios: each pipeline next to its raw primitive
# ---------------------------------------------------------------------------------------------
RATIOS = [
    ("BM_Verify_HS256", "BM_Raw_HmacSha256", "HS256: full verify vs one-shot HMAC-SHA256"),
    ("BM_Verify_EdDSA", "BM_Raw_Ed25519Verify", "EdDSA: full verify vs raw Ed25519 verify"),
    ("BM_Verify_ES256", "BM_Raw_EcdsaP256Verify", "ES256: full verify vs SHA-256 + ECDSA verify"),
    ("BM_Verify_CacheHit/1000", "BM_Verify_EdDSA",
     "cache hit (1000 tokens) vs full EdDSA verify"),
    ("BM_Verify_CacheHit/1000", "BM_Verify_HS256", "cache hit (1000 tokens) vs full HS256 verify"),
    ("BM_RevocationSet_IsRevokedNegative1M", "BM_Bloom_Lookup/1000000",
     "revocation check (1M revoked, not revoked) vs raw Bloom lookup"),
    ("BM_RevocationSet_IsRevokedEmpty", "BM_Hash_Xxh3Jti",
     "revocation check (empty set) vs hashing the jti"),
    ("BM_VerifyHS256_RevocationCheck/1", "BM_VerifyHS256_NoRevocationCheck",
     "HS256 verify + revocation check (1M jti revoked) vs verify alone"),
    ("BM_VerifyHS256Cached_RevocationCheck/1", "BM_VerifyHS256Cached_NoRevocationCheck",
     "cached HS256 verify + revocation check (1M jti revoked) vs cached verify alone"),
    ("BM_VerifyHS256Cached_RevocationCheck/2", "BM_VerifyHS256Cached_NoRevocationCheck",
     "cached HS256 verify + revocation check (every kind revoked) vs cached verify alone"),
    ("BM_Wal_DurableAppend/64", "BM_Fdatasync_Raw",
     "WAL durable append (64 writers, group commit) vs write + fdatasync per record"),
    ("BM_Crc32c/Sse42/4096", "BM_Crc32c/Portable/4096", "CRC32C, SSE4.2 vs portable (4 KiB)"),
]


def micro_rate(b):
    if b.get("items_per_second"):
        return b["items_per_second"]
    return 1e9 / b["cpu_ns"] if b["cpu_ns"] else None


def find_bench(suites, prefix):
    for s in suites:
        for b in s["benchmarks"]:
            if b["name"] == prefix or b["name"].startswith(prefix + "/"):
                return b
    return None


def micro_ratios(suites):
    out = []
    for pipeline, primitive, label in RATIOS:
        a, b = find_bench(suites, pipeline), find_bench(suites, primitive)
        if a and b and micro_rate(a) and micro_rate(b):
            out.append({"label": label, "pipeline": a["name"], "primitive": b["name"],
                        "pipeline_rate": micro_rate(a), "primitive_rate": micro_rate(b),
                        "ratio": micro_rate(a) / micro_rate(b)})
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def find(summary, wid):
    for w in summary["workloads"]:
        if w["id"] == wid:
            return w
    return None


def target_named(w, name):
    if w is None:
        return None
    for t in w["targets"]:
        if t["name"] == name and t.get("median"):
            return t
    return None


def med(t, metric):
    return None if t is None else t["median"].get(metric)


def glance_rows(summary):
    """(family, target name, kind, {scheme: target}) for the static and pool-1000 workloads."""
    rows = []
    for family, ids in (("HTTP alone (static 200)", ("static-plain", "static-tls")),
                        ("verify HS256, 1000 tokens", ("verify-plain-hs256-pool1000",
                                                       "verify-tls-hs256-pool1000")),
                        ("verify EdDSA, 1000 tokens", ("verify-plain-eddsa-pool1000",
                                                       "verify-tls-eddsa-pool1000"))):
        names = []
        for wid in ids:
            w = find(summary, wid)
            for t in (w["targets"] if w else []):
                if t["name"] not in names:
                    names.append(t["name"])
        for name in names:
            by_scheme = {}
            kind = None
            for scheme, wid in zip(("plain", "tls"), ids):
                t = target_named(find(summary, wid), name)
                if t:
                    by_scheme[scheme] = t
                    kind = t["kind"]
            if by_scheme:
                rows.append((family, name, kind, by_scheme))
    large = [w for w in summary["workloads"] if w["id"].startswith("verify-")
             and not w["id"].endswith("-pool1000") and "--compare" not in w["title"]]
    for alg in ("HS256", "EdDSA"):
        by_scheme = {}
        for w in large:
            if w["alg"] == alg:
                t = target_named(w, "ringward")
                if t:
                    by_scheme[w["scheme"]] = t
        if by_scheme:
            pool = large[0]["id"].rsplit("pool", 1)[-1]
            rows.append((f"verify {alg}, {pool} tokens, 10% bad", "ringward", "ringward",
                         by_scheme))
    return rows


def key_figures(summary):
    lines = []
    g = {}
    for wid in ("static-plain", "static-tls", "verify-plain-hs256-pool1000",
                "verify-tls-hs256-pool1000", "verify-plain-eddsa-pool1000",
                "verify-tls-eddsa-pool1000"):
        w = find(summary, wid)
        g[wid] = {t["name"]: t for t in (w["targets"] if w else []) if t.get("median")}
    for scheme, label in (("plain", "plain HTTP"), ("tls", "TLS")):
        hs = med(g[f"verify-{scheme}-hs256-pool1000"].get("ringward"), "server_cpu_us")
        ed = med(g[f"verify-{scheme}-eddsa-pool1000"].get("ringward"), "server_cpu_us")
        hz = med(g[f"static-{scheme}"].get("ringward"), "server_cpu_us")
        ng = med(g[f"static-{scheme}"].get("nginx"), "server_cpu_us")
        if hs is None and ed is None:
            continue
        s = (f"ringward verify over {label} (1000-token pool, cache hits): **{cpu(hs)} µs** "
             f"(HS256) and **{cpu(ed)} µs** (EdDSA) of server CPU per request")
        if ng is not None:
            s += f"; nginx's static 200 costs **{cpu(ng)} µs**"
            if hs is not None:
                s += f" (verify/static = {hs / ng:.2f} for HS256)"
        if hz is not None:
            s += f"; ringward's own /healthz {cpu(hz)} µs"
        thr = med(g[f"verify-{scheme}-eddsa-pool1000"].get("ringward"), "throughput_rps")
        if thr is not None:
            s += f". Throughput (EdDSA, client on the same cores): {n0(thr)} req/s"
        lines.append(s + ".")
        peers = []
        for name in ("nginx+njs", "Go golang-jwt"):
            for alg in ("hs256", "eddsa"):
                t = g[f"verify-{scheme}-{alg}-pool1000"].get(name)
                if t:
                    peers.append(f"{name} {alg.upper().replace('EDDSA', 'EdDSA')} "
                                 f"{cpu(med(t, 'server_cpu_us'))} µs")
        if peers:
            lines.append(f"Peers verifying every token over {label}: " + ", ".join(peers) + ".")
    for w in summary["workloads"]:
        if w["id"].startswith("verify-plain-eddsa-pool") and not w["id"].endswith("pool1000"):
            t = target_named(w, "ringward")
            if t:
                lines.append(f"Cache misses (EdDSA, {w['id'].rsplit('pool', 1)[-1]} tokens, "
                             f"10% bad, plain HTTP): {cpu(med(t, 'server_cpu_us'))} µs per "
                             f"request, {n0(med(t, 'throughput_rps'))} req/s, cache hit rate "
                             f"{pct(med(t, 'cache_hit_ratio'))}.")
    w = find(summary, "bulk-plain-hs256-cacheoff")
    t = w and w["targets"][0]
    if t and t.get("median"):
        lines.append(f"Bulk verify (HS256, 1000 tokens per POST, cache off): "
                     f"**{n0(med(t, 'bulk_tokens_per_s'))} tokens/s**, "
                     f"{cpu(med(t, 'server_cpu_us_per_token'))} µs of server CPU per token.")
    w = find(summary, "open-loop-tls-eddsa")
    if w:
        for t in w["targets"]:
            if t.get("median"):
                lines.append(f"Open loop at {n0(w.get('rate'))} req/s ({t['name']}, TLS): p50 "
                             f"{us(med(t, 'p50_us'))}, p99 {us(med(t, 'p99_us'))}, p99.9 "
                             f"{us(med(t, 'p99_9_us'))} from the intended send time (service time "
                             f"p99 {us(med(t, 'service_p99_us'))}, client send lag p99 "
                             f"{us(med(t, 'send_lag_p99_us'))}; slowest answer in any second "
                             f"after the first {us(med(t, 'steady_max_us'))}); "
                             f"{n0(med(t, 'errors'))} errors.")
    lines += issuance_figures(summary)
    return lines


def argon2_text(a):
    if not a:
        return "argon2id"
    return (f"argon2id m={a.get('argon2_memory_kib')} KiB, t={a.get('argon2_iterations')}, "
            f"p={a.get('argon2_parallelism')}")


def issuance_rows(summary):
    """(label, target, workload) for the client_credentials and password-grant runs."""
    rows = []
    for wid, label in (("issue-tls", "client_credentials"), ("password-tls", "password")):
        w = find(summary, wid)
        t = target_named(w, "ringward")
        if w and t:
            if wid == "password-tls":
                label += f" ({argon2_text(w.get('argon2'))})"
            rows.append((label, t, w))
    return rows


def issuance_section(summary):
    rows = issuance_rows(summary)
    if not rows:
        return []
    s = summary["settings"]
    info = summary["ringward"].get("issuance") or {}
    lines = ["## Issuance", "",
             f"ringward's own token endpoint, POST /oauth2/token over TLS on keep-alive "
             f"connections: issuer `{info.get('issuer', '?')}`, {info.get('signing_alg', '?')} "
             f"signing keys ringward made itself, client `{info.get('client_id', '?')}` "
             f"({info.get('client_from', '?')}, client_secret_basic, scope "
             f"\"{info.get('scope', '?')}\"). Grants per second are client and server together "
             "on the same cores (median of the repetitions, min–max in brackets); the server "
             "CPU per grant is its utime+stime from /proc over the run divided by the answers.",
             "", "| grant | grants/s | p50 | p99 | server CPU µs/grant | errors | how |",
             "|---|---|---|---|---|---|---|"]
    for label, t, w in rows:
        if w["kind"] == "password":
            a = w.get("argon2") or {}
            how = (f"{w.get('connections')} connections, Python http.client (one thread "
                   f"each), one user; hashing on {a.get('password_workers', '?')} password "
                   "worker threads")
        else:
            how = (f"ringward-load -w issue, {w.get('connections', s['connections'])} "
                   f"connections, {s['threads']} client thread(s)")
        lines.append(f"| {label} | **{spread(t, 'throughput_rps', n0)}** | "
                     f"{us(med(t, 'p50_us'))} | {us(med(t, 'p99_us'))} | "
                     f"{spread(t, 'server_cpu_us', cpu)} | {n0(t['errors_total'])} | {how} |")
    lines.append("")
    return lines


def issuance_figures(summary):
    lines = []
    alg = (summary["ringward"].get("issuance") or {}).get("signing_alg", "EdDSA")
    for label, t, w in issuance_rows(summary):
        if w["kind"] == "password":
            lines.append(f"Password grants ({argon2_text(w.get('argon2'))}, "
                         f"{w.get('connections')} TLS connections): "
                         f"**{n0(med(t, 'throughput_rps'))} grants/s**, p50 "
                         f"{us(med(t, 'p50_us'))}, p99 {us(med(t, 'p99_us'))}, "
                         f"{cpu(med(t, 'server_cpu_us'))} µs of server CPU per grant.")
        else:
            lines.append(f"client_credentials grants over TLS keep-alive: "
                         f"**{n0(med(t, 'throughput_rps'))} grants/s**, "
                         f"{cpu(med(t, 'server_cpu_us'))} µs of server CPU per grant "
                         f"({alg}-signed access tokens).")
    return lines


def machine_table(m, build, summary):
    pk = m.get("packages", {})
    boring = pk.get("android-libboringssl-dev") or pk.get("android-libboringssl")
    cores = f"{m.get('cpus_logical')} logical CPUs"
    if m.get("threads_per_core"):
        cores += (f" ({m.get('sockets', '?')} socket × {m.get('cores_per_socket', '?')} cores × "
                  f"{m['threads_per_core']} threads)")
    rows = [
        ("CPU", m.get("cpu_model", "?") + (f", L3 {m['l3_cache']}" if m.get("l3_cache") else "")),
        ("cores", cores),
        ("virtualization", " / ".join(x for x in (m.get("virtualization"),
                                                  m.get("hypervisor") and
                                                  f"hypervisor {m['hypervisor']}") if x)
         or "none detected"),
        ("memory", f"{m.get('memory_gib', '?')} GiB"),
        ("kernel", m.get("kernel", "?")),
        ("OS", f"{m.get('os', '?')} (debian_version {m.get('debian_version', '?')})"),
        ("BoringSSL", f"android-libboringssl-dev {boring or '?'}"),
        ("other packages", ", ".join(f"{k} {v}" for k, v in pk.items()
                                     if not k.startswith("android-libboringssl"))),
        ("compiler", m.get("compiler") or "?"),
        ("build", ", ".join(f"{k}={v}" for k, v in build.items())),
        ("ringward", f"{summary['ringward']['shards']} shards (one per CPU), verified-token "
                     f"cache {summary['ringward']['cache_entries']} entries per shard"
                     + issuance_machine_text(summary["ringward"].get("issuance"))),
        ("git commit", m.get("git_commit", "?")),
        ("date", m.get("date_utc", "?")),
        ("load average (1, 5, 15 min)", load_text(m)),
        ("CPU governor", m.get("cpu_governor", "not exposed")),
    ]
    out = ["| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return out


def issuance_machine_text(info):
    if not info:
        return ""
    a = info.get("argon2") or {}
    return (f"; issuance on ({info.get('signing_alg', '?')}, {argon2_text(a)}, "
            f"{a.get('password_workers', '?')} password workers)")


def load_text(m):
    parts = []
    if m.get("loadavg_before_build"):
        parts.append(f"{fmt_load(m['loadavg_before_build'])} when bench/run started")
    if m.get("quiet_wait_s"):
        parts.append(f"waited {m['quiet_wait_s']} s for a quieter machine")
    parts.append(f"{fmt_load(m.get('loadavg_start'))} when the load runs began")
    parts.append(f"{fmt_load(m.get('loadavg_end'))} at the end")
    return "; ".join(parts)


def fmt_load(x):
    return "?" if not x else ", ".join(f"{v:.2f}" for v in x)


def name_cell(t):
    return f"**{t['name']}**" if t["kind"] == "ringward" else t["name"]


def workload_section(w, out_dir):
    lines = [f"### {w['title']}", "", w["description"], ""]
    targets = [t for t in w["targets"]]
    kind = w["kind"]
    if kind == "bulk":
        lines += ["| target | tokens/s | requests/s | p50 | p99 | server CPU µs/token | "
                  "server CPU µs/request | errors |", "|---|---|---|---|---|---|---|---|"]
        for t in targets:
            if not t.get("median"):
                lines.append(f"| {t['name']} | failed | | | | | | |")
                continue
            lines.append(f"| {name_cell(t)} | {spread(t, 'bulk_tokens_per_s', n0)} | "
                         f"{n0(med(t, 'throughput_rps'))} | {us(med(t, 'p50_us'))} | "
                         f"{us(med(t, 'p99_us'))} | {spread(t, 'server_cpu_us_per_token', cpu)} | "
                         f"{cpu(med(t, 'server_cpu_us'))} | {n0(t['errors_total'])} |")
    elif kind == "open":
        lines.insert(4, f"Rate: **{n0(w.get('rate'))} req/s** "
                        f"({w.get('rate_note', 'set with --open-rate')}).")
        lines.insert(5, "")
        lines += ["| target | achieved req/s | p50 | p99 | p99.9 | max | worst second after "
                  "the first | service p99 | send lag p99 | server CPU µs/req | errors |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for t in targets:
            if not t.get("median"):
                lines.append(f"| {t['name']} | failed | | | | | | | | | |")
                continue
            lines.append(f"| {name_cell(t)} | {n0(med(t, 'throughput_rps'))} | "
                         f"{us(med(t, 'p50_us'))} | {spread(t, 'p99_us', us)} | "
                         f"{spread(t, 'p99_9_us', us)} | {us(med(t, 'max_us'))} | "
                         f"{spread(t, 'steady_max_us', us)} | "
                         f"{us(med(t, 'service_p99_us'))} | {us(med(t, 'send_lag_p99_us'))} | "
                         f"{cpu(med(t, 'server_cpu_us'))} | {n0(t['errors_total'])} |")
    else:
        lines += ["| target | requests/s | p50 | p99 | p99.9 | server CPU µs/req | "
                  "client CPU µs/req | errors | cache hits |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in targets:
            if not t.get("median"):
                lines.append(f"| {t['name']} | failed | | | | | | | |")
                continue
            lines.append(f"| {name_cell(t)} | {spread(t, 'throughput_rps', n0)} | "
                         f"{us(med(t, 'p50_us'))} | {us(med(t, 'p99_us'))} | "
                         f"{us(med(t, 'p99_9_us'))} | {spread(t, 'server_cpu_us', cpu)} | "
                         f"{cpu(med(t, 'client_cpu_us'))} | {n0(t['errors_total'])} | "
                         f"{pct(med(t, 'cache_hit_ratio'), 1)} |")
    if kind == "open":
        for t in targets:
            lag, p99 = med(t, "send_lag_p99_us"), med(t, "p99_us")
            if lag is not None and p99 and lag > 0.5 * p99:
                lines += ["", f"{t['name']}: the send lag p99 ({us(lag)}) is most of the p99: "
                              "the client fell behind its schedule (it shares the cores), so "
                              "this tail is at least partly the client's; the service time "
                              "p99 bounds the server's part."]
        for t in targets:
            errs, n = med(t, "errors"), t.get("median", {}).get("throughput_rps")
            if errs and n and errs > 0.01 * n * 1:
                lines += ["", f"{t['name']}: {n0(errs)} requests per run went wrong (mostly "
                              "still unanswered when the run ended): the machine did not "
                              "sustain this rate while it ran; see the noise section."]
    for t in targets:
        rej = t.get("median", {}).get("file_tokens_rejected")
        if rej:
            lines += ["", f"{t['name']} answered 401 to {n0(rej)} tokens from its token file "
                          "(median per run): check the tokens and its configuration."]
    bad = [t for t in targets if t.get("median", {}).get("bad_accepted")]
    for t in bad:
        lines += ["", f"**{t['name']} accepted {n0(t['median']['bad_accepted'])} tokens minted "
                      "broken or expired (a security bug).**"]
    failed = [t for t in targets if t.get("failed_runs")]
    for t in failed:
        reasons = {r.get("failed") for r in t["runs"] if r.get("failed")}
        lines += ["", f"{t['name']}: {t['failed_runs']} of {len(t['runs'])} runs failed: "
                      + "; ".join(sorted(reasons))[:300]]
    links = [f"[{t['name']}]({t['svg']})" for t in targets if t.get("svg")]
    if links:
        lines += ["", "Latency and throughput over time (the median run): " + " · ".join(links)]
    cmds = [t.get("command") for t in targets if t.get("command")]
    if cmds:
        lines += ["", "<details><summary>commands</summary>", "", "```"]
        lines += cmds
        lines += ["```", "", "</details>"]
    lines.append("")
    return lines


def noise_section(summary):
    runs = [(w, t, r) for w in summary["workloads"] for t in w["targets"] for r in t["runs"]
            if "failed" not in r]
    bg = [r.get("background_cpu_share") for _, _, r in runs
          if r.get("background_cpu_share") is not None]
    steal = [r.get("steal_share") for _, _, r in runs if r.get("steal_share") is not None]
    noisy = []
    for w in summary["workloads"]:
        for t in w["targets"]:
            for metric, label in (("throughput_rps", "throughput"),
                                  ("server_cpu_us", "CPU per request")):
                m = t.get("median", {}).get(metric)
                lo, hi = t.get("min", {}).get(metric), t.get("max", {}).get(metric)
                if m and lo is not None and (hi - lo) / m > 0.10:
                    noisy.append(((hi - lo) / m, f"{w['id']} / {t['name']}: {label} spread "
                                                 f"{100 * (hi - lo) / m:.0f} % of the median"))
    m = summary["machine"]
    lines = [
        "## How to read a noisy result", "",
        "- **Server CPU per request is the figure to compare.** It is the server's own CPU time "
        "(utime + stime of all its threads, from /proc) divided by the answers, so it holds "
        "even when the load generator, which shares the cores, is the bottleneck. Throughput "
        "and latency here are those of client and server *together* on one machine: a faster "
        "server leaves more CPU to the client and shows higher throughput, but the absolute "
        "numbers say little about a dedicated server.",
        "- **Compare within one run, not across runs.** Every target ran the same workload in "
        "the same round, interleaved, R times; the tables show the median and, in brackets, "
        "min–max. A spread above ~10 % of the median means the machine was not quiet.",
        "- **Closed-loop latency is mostly queueing**: 64 connections against a saturated pair "
        "of cores wait for each other, so p50 ≈ connections / throughput. The open-loop run "
        "is the latency figure: requests go out at fixed times whatever the server does.",
        "- **Cache hits**: ringward's 1000-token runs are answered from the verified-token "
        "cache after the first sight of each token (hit rate in the table); the peers verify "
        "every token in full. The large-pool runs show the uncached cost.",
        f"- This run: load average {fmt_load(m.get('loadavg_start'))} when the load runs began "
        f"and {fmt_load(m.get('loadavg_end'))} at the end; other processes used a median "
        f"{pct(statistics.median(bg) if bg else None, 1)} (max {pct(max(bg) if bg else None, 1)}) "
        "of the machine's CPU during the runs (busy time in /proc/stat minus the client's and "
        f"the server's); hypervisor steal median {pct(statistics.median(steal) if steal else None, 1)}"
        f" (max {pct(max(steal) if steal else None, 1)}).",
    ]
    if noisy:
        noisy.sort(reverse=True)
        lines.append(f"- Spread (max − min) above 10 % of the median in {len(noisy)} place(s); "
                     "the widest: " + "; ".join(x[1] for x in noisy[:8])
                     + ("; …" if len(noisy) > 8 else "") + ".")
    else:
        lines.append("- No workload spread by more than 10 % between repeats.")
    lines.append("")
    return lines


def micro_section(micro):
    if not micro.get("suites"):
        return []
    lines = ["## Micro-benchmarks (Google Benchmark, one core)", "",
             "Medians of the repetitions (`--benchmark_repetitions=N "
             "--benchmark_report_aggregates_only=true`); cv is the coefficient of variation "
             "between repetitions.", ""]
    micro["ratios"] = micro_ratios(micro["suites"])
    if micro.get("ratios"):
        lines += ["Each pipeline next to its raw primitive over the same input: a ratio near "
                  "1.00 means ringward's parsing and checks are close to free.", "",
                  "| comparison | pipeline | primitive | rate ratio |", "|---|---|---|---|"]
        for r in micro["ratios"]:
            lines.append(f"| {r['label']} | `{r['pipeline']}` {rate(r['pipeline_rate'])} | "
                         f"`{r['primitive']}` {rate(r['primitive_rate'])} | "
                         f"**{r['ratio']:.2f}** |")
        lines.append("")
    for s in micro["suites"]:
        lines += [f"`{s['command']}`", "",
                  "| benchmark | time (median) | CPU time | rate | cv |", "|---|---|---|---|---|"]
        for b in s["benchmarks"]:
            r = b.get("items_per_second")
            rtxt = rate(r) if r else (f"{b['bytes_per_second'] / 1e9:.2f} GB/s"
                                      if b.get("bytes_per_second") else "–")
            lines.append(f"| `{b['name']}` | {ns_time(b['real_ns'])} | {ns_time(b['cpu_ns'])} | "
                         f"{rtxt} | {pct(b.get('cv'), 1)} |")
        lines.append("")
    return lines


def charts(summary, out_dir):
    rows_cpu, rows_thr = [], []
    for family, name, kind, by_scheme in glance_rows(summary):
        for scheme in ("plain", "tls"):
            t = by_scheme.get(scheme)
            if not t:
                continue
            label = f"{family} · {'TLS' if scheme == 'tls' else 'plain'} · {name}"
            color = color_of(t)
            rows_cpu.append((label, med(t, "server_cpu_us"), t["min"].get("server_cpu_us"),
                             t["max"].get("server_cpu_us"), color))
            rows_thr.append((label, med(t, "throughput_rps"), t["min"].get("throughput_rps"),
                             t["max"].get("throughput_rps"), color))
    os.makedirs(os.path.join(out_dir, "svg"), exist_ok=True)
    made = []
    sub = (f"{summary['machine'].get('cpu_model', '')}, {summary['machine'].get('cpus_logical')} "
           f"CPUs shared by client and server; {summary['settings']['connections']} connections")
    if bar_chart(os.path.join(out_dir, "svg", "chart-cpu-per-request.svg"),
                 "Server CPU per request (lower is better)", sub, rows_cpu,
                 "µs of server CPU per request", cpu):
        made.append(("Server CPU per request", "svg/chart-cpu-per-request.svg"))
    if bar_chart(os.path.join(out_dir, "svg", "chart-throughput.svg"),
                 "Throughput, client and server on the same cores (higher is better)", sub,
                 rows_thr, "requests per second", n0):
        made.append(("Throughput", "svg/chart-throughput.svg"))
    return made


def copy_median_svgs(summary, out_dir):
    os.makedirs(os.path.join(out_dir, "svg"), exist_ok=True)
    for w in summary["workloads"]:
        for t in w["targets"]:
            run = t.get("median_run")
            if not run or not run.get("svg"):
                continue
            src = os.path.join(out_dir, run["svg"])
            rel = os.path.join("svg", f"{w['id']}--{slug(t['name'])}.svg")
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(out_dir, rel))
            if os.path.exists(os.path.join(out_dir, rel)):
                t["svg"] = rel


def render_report(summary, out_dir):
    copy_median_svgs(summary, out_dir)
    made = charts(summary, out_dir)
    s = summary["settings"]
    lines = ["# ringward benchmark report", "", "Produced by:", "", "```",
             summary["command"], "```", ""]
    lines += [f"{s['repeat']} run(s) of {s['duration_s']:g} s per workload and target, "
              f"interleaved; {s['connections']} keep-alive connections, {s['threads']} client "
              f"thread(s) of ringward-load on the same machine; medians with min–max in "
              f"brackets. Took {summary['elapsed_s'] / 60:.1f} min."
              + (" **--quick: a smoke test, not a measurement.**" if s["quick"] else ""), ""]
    lines += ["## Machine", ""] + machine_table(summary["machine"], summary["build"], summary)
    lines.append("")
    if summary.get("peers"):
        p = summary["peers"]
        lines += [f"Peers from `{p['dir']}`: nginx (static 200, and HS256 verify in njs), Go "
                  "net/http + golang-jwt v4 (HS256 and EdDSA verify), a bare io_uring server "
                  f"answering a static 200; tokens from `{p['tokens_dir']}`. "
                  + (p.get("note") or "Started and stopped by bench/run."), ""]
    figures = key_figures(summary)
    if figures:
        lines += ["## Key figures", ""] + [f"- {x}" for x in figures] + [""]
    glance = glance_rows(summary)
    if glance:
        lines += ["## At a glance", "",
                  "| workload | server | plain req/s | plain CPU µs/req | TLS req/s | "
                  "TLS CPU µs/req |", "|---|---|---|---|---|---|"]
        for family, name, kind, by in glance:
            p, t = by.get("plain"), by.get("tls")
            nm = f"**{name}**" if kind == "ringward" else name
            lines.append(f"| {family} | {nm} | {n0(med(p, 'throughput_rps'))} | "
                         f"{cpu(med(p, 'server_cpu_us'))} | {n0(med(t, 'throughput_rps'))} | "
                         f"{cpu(med(t, 'server_cpu_us'))} |")
        lines.append("")
        for title, rel in made:
            lines += [f"![{title}]({rel})", ""]
    lines += issuance_section(summary)
    lines += ["## Load workloads (ringward-load)", ""]
    for w in summary["workloads"]:
        lines += workload_section(w, out_dir)
    lines += micro_section(summary["micro"])
    lines += noise_section(summary)
    if summary.get("skipped") or summary.get("notes"):
        lines += ["## Skipped and notes", ""]
        lines += [f"- skipped: {x}" for x in summary.get("skipped", [])]
        lines += [f"- {x}" for x in summary.get("notes", [])]
        lines.append("")
    lines += ["## Files", "",
              "- `summary.json`: every figure above, per run and as medians; `runs/<workload>/"
              "<target>-r<N>.json` and `.svg`: ringward-load's full output per run; "
              "`micro/*.json`: Google Benchmark's; `ringward-bench.toml`: the server "
              "configuration. `$WORK` in the commands is the temporary directory bench/run "
              "made and removed: `keys.json` (`ringward keygen` HS256 kid hs-1 and EdDSA "
              "kid ed-1), a self-signed P-256 certificate, the configs, each "
              "instance's `data_dir` (`<name>-data`: its log and issuance keys) and its admin "
              "token file. `$CLIENT_SECRET` is the secret of the client bench/run "
              "registered (`bench-client`, unless --client named another).",
              "- `svg/`: the charts above and the median run of each workload and target.", ""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(lines))


def write_all(summary, out_dir):
    render_report(summary, out_dir)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/report/render.py RESULTS_DIR")
    with open(os.path.join(sys.argv[1], "summary.json")) as f:
        data = json.load(f)
    write_all(data, sys.argv[1])
