"""The gateway benchmark's verdicts against its targets, and the printed report."""

from __future__ import annotations

from typing import Any

MIN_RPS, MIN_STREAMS = 2_000.0, 800.0
MAX_ADDED_P50_MS, MAX_ADDED_P99_MS = 1.0, 3.0
MAX_TAIL_RATIO = 3.0
MAX_RSS_MB, MAX_READY_S = 150.0, 2.0
MAX_SOAK_GROWTH_MB = 10.0
BUSY_LOADAVG = 1.0
MAX_LIMITS_ADDED_P50_MS, MIN_LIMITS_RPS_SHARE = 0.3, 0.8
MIN_METRICS_RPS_SHARE = 0.95
LEVELS = (1, 8, 32)


def _phase(figures: dict[str, Any], server: str, name: str) -> dict[str, Any]:
    phase: dict[str, Any] = figures[server]["phases"][name]
    return phase


def _best(figures: dict[str, Any], server: str, prefix: str) -> tuple[float, int]:
    rates = [(_phase(figures, server, f"{prefix}c{c}")["rps"], c) for c in LEVELS]
    return max(rates)


def added_ms(figures: dict[str, Any], name: str, key: str, q: str) -> float:
    """The latency the gateway adds: through it minus direct, at quantile `q`."""
    through = _phase(figures, "switchboard", name)[key][q]
    direct = _phase(figures, "direct", name)[key][q]
    return round(through - direct, 3)


def verdicts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """(measure, figure, target, pass) for every target the figures can be held to."""
    rows: list[dict[str, Any]] = []

    def check(measure: str, figure: Any, target: str, ok: bool) -> None:
        rows.append({"measure": measure, "figure": figure, "target": target, "pass": ok})

    sb = figures["switchboard"]
    rps, at = _best(figures, "switchboard", "")
    check(f"non-streaming req/s (best, c{at})", rps, f">= {MIN_RPS:,.0f}", rps >= MIN_RPS)
    streams, at = _best(figures, "switchboard", "stream-")
    check(f"streams/s (best, c{at})", streams, f">= {MIN_STREAMS:,.0f}", streams >= MIN_STREAMS)
    p50 = added_ms(figures, "c1", "latency_ms", "p50")
    check("added latency p50, c1 (ms)", p50, f"< {MAX_ADDED_P50_MS:g}", p50 < MAX_ADDED_P50_MS)
    p99 = added_ms(figures, "c1", "latency_ms", "p99")
    check("added latency p99, c1 (ms)", p99, f"< {MAX_ADDED_P99_MS:g}", p99 < MAX_ADDED_P99_MS)
    c32 = _phase(figures, "switchboard", "c32")["latency_ms"]
    ratio = round(c32["p99"] / c32["p50"], 2) if c32["p50"] else float("inf")
    check("c32 p99 / p50", ratio, f"<= {MAX_TAIL_RATIO:g}", ratio <= MAX_TAIL_RATIO)
    rss = sb["rss_after_mb"]
    check("RSS after the run (MiB)", rss, f"< {MAX_RSS_MB:g}", rss < MAX_RSS_MB)
    ready = sb["ready_s"]
    check("start to /health/ready (s)", ready, f"< {MAX_READY_S:g}", ready < MAX_READY_S)
    errors = sum(phase["errors"] for phase in sb["phases"].values())
    check("errors (non-200, broken streams)", errors, "0", errors == 0)
    usage = figures["usage"]
    check("usage rows = requests answered", usage["rows"], f"= {usage['answered']}", usage["equal"])
    for name, what in (("c32", "req/s"), ("stream-c32", "streams/s")):
        cpu_ms = _phase(figures, "switchboard", name)["cpu_ms_per_request"]
        capacity = round(1000 / cpu_ms) if cpu_ms else 0
        rows.append(
            {
                "measure": f"{what} at a whole core (1000 / CPU ms)",
                "figure": capacity,
                "target": "(estimate)",
                "pass": None,
            }
        )
    if "soak" in figures:
        soak = figures["soak"]
        growth, peak = soak["rss_growth_after_30s_mb"], soak["rss_max_mb"]
        check(
            f"soak {soak['seconds']:.0f} s: RSS growth (MiB)",
            growth,
            f"<= {MAX_SOAK_GROWTH_MB:g}",
            growth <= MAX_SOAK_GROWTH_MB,
        )
        check("soak: RSS peak (MiB)", peak, f"< {MAX_RSS_MB:g}", peak < MAX_RSS_MB)
    rows.extend(_metrics_verdicts(figures))
    rows.extend(_limits_verdicts(figures))
    return rows


def _metrics_verdicts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Throughput with metrics on as a share of it with them off: measured (best req/s), and
    at a whole core (from the CPU a request takes, steadier on a busy machine)."""
    metrics = figures.get("metrics")
    if metrics is None:
        return []
    on, at = _best(metrics, "on", "")
    off, _ = _best(metrics, "off", "")
    rows = [_share_row(f"metrics on: req/s share of off (best, c{at})", on / off if off else 0)]
    cpu_off = _phase(metrics, "off", "c32")["cpu_ms_per_request"]
    cpu_on = _phase(metrics, "on", "c32")["cpu_ms_per_request"]
    if cpu_off and cpu_on:
        rows.append(_share_row("metrics on: share at a whole core (CPU, c32)", cpu_off / cpu_on))
    return rows


def _share_row(measure: str, share: float) -> dict[str, Any]:
    return {
        "measure": measure,
        "figure": round(share, 3),
        "target": f">= {MIN_METRICS_RPS_SHARE:g}",
        "pass": share >= MIN_METRICS_RPS_SHARE,
    }


def _print_metrics(figures: dict[str, Any]) -> None:
    metrics = figures.get("metrics")
    if metrics is None:
        return
    print(
        f"\n{'metrics':<14}{'off/s':>10}{'on/s':>11}  {'on/off':>7}"
        f"  {'CPU ms off':>10}  {'CPU ms on':>10}  (best of alternating rounds)"
    )
    for c in LEVELS:
        name = f"c{c}"
        off, on = _phase(metrics, "off", name), _phase(metrics, "on", name)
        share = on["rps"] / off["rps"] if off["rps"] else 0.0
        print(
            f"{'concurrency ' + str(c):<14}{off['rps']:>10,.0f}{on['rps']:>11,.0f}  "
            f"{share:>7.1%}  {off['cpu_ms_per_request'] or 0:>10.3f}"
            f"  {on['cpu_ms_per_request'] or 0:>10.3f}"
        )


def limits_added_ms(figures: dict[str, Any], name: str, q: str = "p50") -> float:
    """What limits add to a request: through the gateway with them, minus without."""
    on = _phase(figures, "limits", name)["latency_ms"][q]
    off = _phase(figures, "switchboard", name)["latency_ms"][q]
    return round(on - off, 3)


def _limits_verdicts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    if "phases" not in figures.get("limits", {}):
        return []
    added = limits_added_ms(figures, "c1")
    on, at = _best(figures, "limits", "")
    off, _ = _best(figures, "switchboard", "")
    share = round(on / off, 3) if off else 0.0
    errors = figures["limits"]["errors"]
    return [
        {
            "measure": "limits on: added p50, c1 (ms)",
            "figure": added,
            "target": f"< {MAX_LIMITS_ADDED_P50_MS:g}",
            "pass": added < MAX_LIMITS_ADDED_P50_MS,
        },
        {
            "measure": f"limits on: req/s share (best, c{at})",
            "figure": share,
            "target": f">= {MIN_LIMITS_RPS_SHARE:g}",
            "pass": share >= MIN_LIMITS_RPS_SHARE,
        },
        {
            "measure": "limits on: share at a whole core (CPU, c32)",
            "figure": limits_cpu_share(figures),
            "target": "(estimate)",
            "pass": None,
        },
        {"measure": "limits on: errors", "figure": errors, "target": "0", "pass": errors == 0},
    ]


def limits_cpu_share(figures: dict[str, Any], name: str = "c32") -> float:
    """The throughput limits keep where the gateway has its core to itself: its CPU per
    request without them over its CPU per request with them (steady on a busy machine,
    where req/s are not)."""
    on = _phase(figures, "limits", name)["cpu_ms_per_request"]
    off = _phase(figures, "switchboard", name)["cpu_ms_per_request"]
    return round(off / on, 3) if on and off else 0.0


def _print_limits(figures: dict[str, Any]) -> None:
    limits = figures.get("limits")
    if limits is None:
        return
    if "phases" not in limits:
        print(f"\nlimits on: not measured ({limits['skipped']})")
        return
    print(
        f"\n{'limits on':<14}{'off/s':>10}{'on/s':>11}  {'off p50/p99':>16}  {'on p50/p99':>16}"
        f"  {'added p50':>10}  {'CPU ms/req off/on':>18}  (Redis {limits['redis_url']})"
    )
    for c in LEVELS:
        name = f"c{c}"
        off, on = _phase(figures, "switchboard", name), _phase(figures, "limits", name)
        print(
            f"{'concurrency ' + str(c):<14}{off['rps']:>10,.0f}{on['rps']:>11,.0f}  "
            f"{_ms(off['latency_ms']):>16}  {_ms(on['latency_ms']):>16}  "
            f"{limits_added_ms(figures, name):>10.3f}  "
            f"{(off['cpu_ms_per_request'] or 0):>8.3f} / {(on['cpu_ms_per_request'] or 0):.3f}"
        )


def _ms(spread: dict[str, float] | None) -> str:
    return f"{spread['p50']:.2f} / {spread['p99']:.2f}" if spread else "-"


def _core(phase: dict[str, Any]) -> str:
    """`gateway% / busy%` of the gateway's core over the phase: the rest went to others."""
    if phase.get("core_busy_pct") is None:
        return "-"
    return f"{phase['server_cpu_pct']:.0f}/{phase['core_busy_pct']:.0f}%"


def _print_whole(figures: dict[str, Any]) -> None:
    print(
        f"\n{'whole answers':<14}{'direct/s':>10}{'gateway/s':>11}  {'direct p50/p99':>16}"
        f"  {'gateway p50/p99':>16}  {'added p50/p99':>15}  {'CPU ms/req':>10}  {'core 1':>8}"
    )
    for c in LEVELS:
        name = f"c{c}"
        direct, through = _phase(figures, "direct", name), _phase(figures, "switchboard", name)
        added = (
            f"{added_ms(figures, name, 'latency_ms', 'p50'):.2f} / "
            f"{added_ms(figures, name, 'latency_ms', 'p99'):.2f}"
        )
        print(
            f"{'concurrency ' + str(c):<14}{direct['rps']:>10,.0f}{through['rps']:>11,.0f}  "
            f"{_ms(direct['latency_ms']):>16}  {_ms(through['latency_ms']):>16}  {added:>15}  "
            f"{through['cpu_ms_per_request'] or 0:>10.3f}  {_core(through):>8}"
        )


def _print_streams(figures: dict[str, Any]) -> None:
    print(
        f"\n{'streams (16)':<14}{'direct/s':>10}{'gateway/s':>11}  {'TTFB p50/p99':>16}"
        f"  {'total p50/p99':>16}  {'added TTFB p50':>15}  {'CPU ms/req':>10}  {'core 1':>8}"
    )
    for c in LEVELS:
        name = f"stream-c{c}"
        direct, through = _phase(figures, "direct", name), _phase(figures, "switchboard", name)
        print(
            f"{'concurrency ' + str(c):<14}{direct['rps']:>10,.0f}{through['rps']:>11,.0f}  "
            f"{_ms(through['ttfb_ms']):>16}  {_ms(through['latency_ms']):>16}  "
            f"{added_ms(figures, name, 'ttfb_ms', 'p50'):>15.2f}  "
            f"{through['cpu_ms_per_request'] or 0:>10.3f}  {_core(through):>8}"
        )


def _print_litellm(figures: dict[str, Any]) -> None:
    other = figures.get("litellm")
    if other is None:
        return
    if "unavailable" in other:
        print(f"\nLiteLLM: not measured: {other['unavailable']}")
        return
    sb = figures["switchboard"]
    print(f"\nLiteLLM {other['version']} proxy, 1 worker, no database, same fake upstream:")
    print(f"{'measure':<34}{'Switchboard':>13}{'LiteLLM':>13}{'SB / LiteLLM':>14}")

    def row(label: str, ours: float, theirs: float) -> None:
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        print(f"{label:<34}{ours:>13,.2f}{theirs:>13,.2f}{ratio:>14}")

    for c in LEVELS:
        for prefix, what in (("", "req/s"), ("stream-", "streams/s")):
            name = f"{prefix}c{c}"
            row(f"{what}, c{c}", sb["phases"][name]["rps"], other["phases"][name]["rps"])
    for c in LEVELS:
        for q in ("p50", "p99"):
            ours = sb["phases"][f"c{c}"]["latency_ms"][q]
            row(f"latency {q}, c{c} (ms)", ours, other["phases"][f"c{c}"]["latency_ms"][q])
    direct = figures["direct"]["phases"]["c1"]["latency_ms"]["p50"]
    row(
        "added latency p50, c1 (ms)",
        added_ms(figures, "c1", "latency_ms", "p50"),
        round(other["phases"]["c1"]["latency_ms"]["p50"] - direct, 3),
    )
    row(
        "CPU ms/request, c32",
        sb["phases"]["c32"]["cpu_ms_per_request"] or 0,
        other["phases"]["c32"]["cpu_ms_per_request"] or 0,
    )
    row("RSS after the run (MiB)", sb["rss_after_mb"], other["rss_after_mb"])
    row("start to ready (s)", sb["ready_s"], other["ready_s"])
    errors = sum(phase["errors"] for phase in other["phases"].values())
    print(f"LiteLLM errors (non-200, broken streams): {errors}")


def print_report(figures: dict[str, Any]) -> None:
    setup, cat, sb = figures["setup"], figures["catalog"], figures["switchboard"]
    where = "gateway pinned to core 1, upstream and load on core 0" if setup["pinned"] else ""
    print(
        f"Gateway benchmark: 1 Switchboard worker, full pipeline ({where}); catalog "
        f"{cat['providers']} providers, {cat['models']} models, {cat['rules']} rules; "
        f"{setup['seconds_per_phase']:g} s per phase after {setup['warmup_s']:g} s warm-up"
    )
    _print_whole(figures)
    _print_streams(figures)
    _print_metrics(figures)
    _print_limits(figures)
    machine = figures["machine"]
    print(
        "\ncore 1 column: the gateway's share / how busy core 1 was (the rest ran other "
        f"processes); load average {machine['loadavg_before']} before, "
        f"{machine['loadavg_after']} after"
    )
    if machine["loadavg_before"] > BUSY_LOADAVG:
        print("WARNING: the machine was busy with other work: figures that depend on getting")
        print("the core (req/s, latency) are low; CPU ms/request is the steadier figure.")
    print(
        f"\nmemory (RSS): {sb['rss_start_mb']:.1f} MiB at ready, {sb['rss_after_mb']:.1f} MiB "
        f"after the run; ready {sb['ready_s']:.2f} s after start"
    )
    usage = figures["usage"]
    print(
        f"usage rows: {usage['rows']} in llm_usage_logs for {usage['answered']} requests "
        f"answered ({'equal' if usage['equal'] else 'NOT equal'}; waited {usage['waited_s']} s)"
    )
    if "soak" in figures:
        soak = figures["soak"]
        samples = ", ".join(f"{rss:.0f}" for _, rss in soak["rss_samples_mb"])
        print(
            f"soak {soak['seconds']:.0f} s at c32: {soak['rps']:,.0f} req/s, "
            f"{soak['errors']} errors; RSS every 10 s (MiB): {samples}"
        )
    print(f"\n{'measure':<40}{'figure':>12}  {'target':<10}result")
    print("-" * 70)
    for row in figures["verdicts"]:
        figure = row["figure"]
        shown = f"{figure:,.2f}" if isinstance(figure, float) else f"{figure:,}"
        verdict = "" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
        print(f"{row['measure']:<40}{shown:>12}  {row['target']:<10}{verdict}")
    _print_litellm(figures)
