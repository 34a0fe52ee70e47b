"""perf.py's output: table rows from the child results, the Markdown table, the targets, the chart."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

TARGETS_SPEEDUP, TARGET_COS_FP32, TARGET_P50, TARGET_COLD_S, TARGET_RSS_MB = 1.2, 0.99999, 0.7, 1.0, 300
TARGET_INT8_MIN, TARGET_INT8_MEAN, TARGET_OVERLAP = 0.99, 0.995, 0.95
TARGET_COS_BF16, TARGET_OVERLAP_BF16 = 0.9999, 0.99


def brief(got: dict) -> str:
    if "seconds" in got:
        return f"{got['texts'] / got['seconds']:.1f} texts/s, {got['rss_mb']:.0f} MB"
    return got.get("skipped") or "error: " + got.get("error", "?")


def rows(found: dict, colds: dict, lengths: dict, ceiling: float | None, per_token: float, per_token_len: float):
    out = []
    for (method, corpus), got in found.items():
        row = {"method": method, "corpus": corpus}
        if "seconds" not in got:
            row["note"] = got.get("skipped") or "error: " + got.get("error", "?")
            out.append(row)
            continue
        lens = lengths[corpus][: got["texts"]]
        flops = per_token * lens.sum() + per_token_len * (lens.astype(np.float64) ** 2).sum()
        row.update({k: v for k, v in got.items()}, texts_per_s=got["texts"] / got["seconds"],
                   tokens_per_s=float(lens.sum() / got["seconds"]), gflops=float(flops / got["seconds"] / 1e9))
        if ceiling:
            row["ceiling_frac"] = row["gflops"] / ceiling
        if corpus == "short" and "cold_s" in colds.get(method, {}):
            row["cold_s"] = colds[method]["cold_s"]
        out.append(row)
    order = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in out))}
    return sorted(out, key=lambda r: (r["corpus"] != "short", order[r["method"]]))


def machine(args, ceiling: dict, ref: str | None) -> dict:
    cpu = platform.processor()
    if Path("/proc/cpuinfo").exists():
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), cpu)
    versions = {}
    for mod in ("minilm", "onnxruntime", "openvino", "numpy", "torch", "sentence_transformers", "fastembed"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "not installed"
    flags = sorted(_cpu_flags())
    return {"cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "threads": args.threads, "versions": versions,
            "ceiling": ceiling, "reference": ref, "short": args.short, "long": args.long,
            "repeat": args.repeat, "queries": args.queries, "cold_runs": args.cold_runs}


def _cpu_flags() -> set[str]:
    """The flags that decide the fastest precision (the ones `minilm info` prints)."""
    wanted = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return wanted & set(line.split(":", 1)[-1].split())


def _f(value, fmt: str, missing: str = "–") -> str:
    return missing if value is None else format(value, fmt)


def markdown(table: list[dict], meta: dict) -> str:
    v, c = meta["versions"], meta["ceiling"]
    ref = meta["reference"] or "none"
    lines = [f"machine: {meta['cpu']} ({' '.join(meta.get('cpu_flags', [])) or 'no AVX2 / AVX-512 / AMX flags'}), "
             f"{meta['cores']} cores, threads={meta['threads']}, "
             f"OMP_WAIT_POLICY={meta.get('omp_wait_policy', 'unset')}; "
             + ", ".join(f"{k} {x}" for k, x in v.items()),
             f"GEMM ceiling (fp32, measured now): {_f(c.get('gflops'), '.0f', 'n/a')} GFLOP/s "
             f"(numpy {_f(c.get('numpy_gflops'), '.0f', 'n/a')}, onnxruntime {_f(c.get('onnxruntime_gflops'), '.0f', 'n/a')})", "",
             f"| method | corpus | texts | texts/s | x ort-fp32 | x st-openvino | real tokens/s | of GEMM ceiling "
             f"| batch-1 p50 / p95 ms | cold start s | peak RSS MB | min / mean cosine vs {ref} | top-10 overlap |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        if "texts_per_s" not in r:
            lines.append(f"| {r['method']} | {r['corpus']} | n/a ({r['note']}) |" + " |" * 10)
            continue
        ratios = []
        for peer in ("ort-fp32", "st-openvino"):
            theirs = _get(table, peer, r["corpus"], "texts_per_s")
            ratios.append(f"{r['texts_per_s'] / theirs:.2f}" if theirs else "–")
        cos = f"{r['min_cos']:.6f} / {r['mean_cos']:.6f}" if "min_cos" in r else (
            "(reference)" if r["method"] == meta["reference"] else "–")
        lat = f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f}" if "p50_ms" in r else "–"
        lines.append(f"| {r['method']} | {r['corpus']} | {r['texts']} | {r['texts_per_s']:.1f} | {' | '.join(ratios)} "
                     f"| {r['tokens_per_s']:.0f} "
                     f"| {_f(r.get('ceiling_frac'), '.0%')} | {lat} | {_f(r.get('cold_s'), '.2f')} | {r['rss_mb']:.0f} "
                     f"| {cos} | {_f(r.get('overlap10'), '.4f')} |")
    return "\n".join(lines + [""] + targets(table, meta) + [""] + targets_bf16(table, meta) + [""])


def _get(table, method, corpus, field):
    return next((r.get(field) for r in table if r["method"] == method and r["corpus"] == corpus), None)


def _line(ok, text: str) -> str:
    return f"- {'n/a' if ok is None else ('PASS' if ok else 'FAIL')}: {text}"


def targets(table: list[dict], meta: dict) -> list[str]:
    """The issue's targets, one PASS / FAIL / n/a line each, with the numbers behind the verdict."""
    g = lambda m, c, f: _get(table, m, c, f)  # noqa: E731
    out = ["Targets (issue #3):" + ("" if meta["reference"] == "sentence-transformers"
                                    else f" cosines are against {meta['reference']}, not sentence-transformers")]
    for ours, theirs, cos_ok in (("minilm", "ort-fp32", lambda mn, mean: mn >= TARGET_COS_FP32),
                                 ("minilm-int8", "ort-int8", lambda mn, mean: mn >= TARGET_INT8_MIN and mean >= TARGET_INT8_MEAN)):
        for corpus in ("short", "long"):
            a, b = g(ours, corpus, "texts_per_s"), g(theirs, corpus, "texts_per_s")
            ok = None if a is None or b is None else a >= TARGETS_SPEEDUP * b
            ratio = f"{a / b:.2f}x" if ok is not None else "n/a"
            out.append(_line(ok, f"{ours} >= {TARGETS_SPEEDUP}x {theirs} texts/s on {corpus}: {ratio}"))
            mn, mean = g(ours, corpus, "min_cos"), g(ours, corpus, "mean_cos")
            bound = f">= {TARGET_COS_FP32}" if ours == "minilm" else f">= {TARGET_INT8_MIN}, mean >= {TARGET_INT8_MEAN}"
            out.append(_line(None if mn is None else cos_ok(mn, mean), f"{ours} min cosine on {corpus} {bound}: "
                             + ("n/a" if mn is None else f"{mn:.6f} (mean {mean:.6f})")))
    ov = g("minilm-int8", "short", "overlap10")
    out.append(_line(None if ov is None else ov >= TARGET_OVERLAP,
                     f"minilm-int8 top-10 overlap >= {TARGET_OVERLAP} ({meta['queries']} short queries): {_f(ov, '.3f', 'n/a')}"))
    a, b = g("minilm", "short", "p50_ms"), g("ort-fp32", "short", "p50_ms")
    out.append(_line(None if a is None or b is None else a <= TARGET_P50 * b,
                     f"minilm batch-1 p50 <= {TARGET_P50}x ort-fp32's: "
                     + ("n/a" if a is None or b is None else f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x)")))
    cs = g("minilm", "short", "cold_s")
    context = ", ".join(f"{m} {g(m, 'short', 'cold_s'):.2f} s" for m in ("ort-fp32", "sentence-transformers")
                        if g(m, "short", "cold_s") is not None)
    out.append(_line(None if cs is None else cs <= TARGET_COLD_S, f"`minilm embed hello` cold start <= {TARGET_COLD_S} s "
                     f"(median of {meta['cold_runs']}): {_f(cs, '.2f', 'n/a')} s" + (f" (for context: {context})" if context else "")))
    rss, st = g("minilm", "short", "rss_mb"), g("sentence-transformers", "short", "rss_mb")
    out.append(_line(None if rss is None else rss <= TARGET_RSS_MB, f"minilm peak RSS on the short corpus <= {TARGET_RSS_MB} MB: "
                     f"{_f(rss, '.0f', 'n/a')} MB (sentence-transformers: {_f(st, '.0f', 'n/a')} MB)".replace("n/a MB", "n/a")))
    return out


def targets_bf16(table: list[dict], meta: dict) -> list[str]:
    """Issue #19's targets for minilm-bf16 (speed judged on an AMX CPU) and for auto's batch-1 latency."""
    g = lambda m, c, f: _get(table, m, c, f)  # noqa: E731
    amx = "amx_bf16" in meta.get("cpu_flags", [])
    out = ["Targets (issue #19, bf16)" + (":" if amx else ": this CPU has no AMX (amx_bf16), where the speed targets are judged")]
    for peer, need in (("st-openvino", {"short": 3.0, "long": 1.3}), ("ort-fp32", {"short": 4.0, "long": 6.0})):
        for corpus, factor in need.items():
            a, b = g("minilm-bf16", corpus, "texts_per_s"), g(peer, corpus, "texts_per_s")
            ok = None if a is None or b is None else a >= factor * b
            out.append(_line(ok, f"minilm-bf16 >= {factor}x {peer} texts/s on {corpus}: "
                             + ("n/a" if ok is None else f"{a / b:.2f}x")))
    for corpus in ("short", "long"):
        mn = g("minilm-bf16", corpus, "min_cos")
        out.append(_line(None if mn is None else mn >= TARGET_COS_BF16,
                         f"minilm-bf16 min cosine on {corpus} >= {TARGET_COS_BF16}: " + _f(mn, ".6f", "n/a")))
    ov = g("minilm-bf16", "short", "overlap10")
    out.append(_line(None if ov is None else ov >= TARGET_OVERLAP_BF16,
                     f"minilm-bf16 top-10 overlap >= {TARGET_OVERLAP_BF16}: {_f(ov, '.4f', 'n/a')}"))
    auto = "minilm-bf16" if {"amx_bf16", "avx512_bf16"} & set(meta.get("cpu_flags", [])) else "minilm"  # runtime/precision.choose
    a, b = g(auto, "short", "p50_ms"), g("ort-fp32", "short", "p50_ms")
    out.append(_line(None if a is None or b is None else a <= TARGET_P50 * b, f"auto ({auto}) batch-1 p50 <= {TARGET_P50}x "
                     "ort-fp32's: " + ("n/a" if a is None or b is None else f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x)")))
    rss, cs = g("minilm-bf16", "short", "rss_mb"), g("minilm-bf16", "short", "cold_s")
    out.append(_line(None if rss is None else rss <= TARGET_RSS_MB, f"minilm-bf16 peak RSS (short) <= {TARGET_RSS_MB} MB: "
                     f"{_f(rss, '.0f', 'n/a')}"))
    out.append(_line(None if cs is None else cs <= TARGET_COLD_S, f"`minilm embed --precision bf16 hello` cold start <= "
                     f"{TARGET_COLD_S} s: {_f(cs, '.2f', 'n/a')}"))
    return out


def chart(table: list[dict], meta: dict, path: Path) -> str:
    try:
        import matplotlib
    except ImportError:
        return "chart: not installed: pip install matplotlib (no chart written)"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in table))
    panels = [("texts/s, short", "short", "texts_per_s"), ("texts/s, long", "long", "texts_per_s"),
              ("batch-1 p50 ms (short)", "short", "p50_ms"), ("cold start s", "short", "cold_s"),
              ("peak RSS MB (short)", "short", "rss_mb"), ("share of GEMM ceiling (long)", "long", "ceiling_frac")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    colors = {m: ("tab:green" if m.startswith("minilm") else "tab:gray") for m in methods}
    for ax, (title, corpus, field) in zip(axes.flat, panels):
        vals = [_get(table, m, corpus, field) for m in methods]
        ax.barh(methods, [x or 0 for x in vals], color=[colors[m] for m in methods])
        for i, x in enumerate(vals):
            ax.text(x or 0, i, f" {x:.3g}" if x is not None else " n/a", va="center", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        ax.margins(x=0.2)
    fig.suptitle(f"minilm vs peers: {meta['cpu']}, threads={meta['threads']} (shared machine; higher texts/s, lower ms/s/MB is better)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"chart: {path}"
