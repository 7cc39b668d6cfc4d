"""Draws the benchmark plots (SVG) from a results folder written by
`tidings-bench suite`: runs.json (every run) and summary.json (medians).

usage: python bench/plot.py bench/results/quick
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"tidings": "#1f77b4", "axum": "#ff7f0e", "starlette": "#2ca02c", "nchan": "#d62728"}


def load(folder: Path):
    runs = json.loads((folder / "runs.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    return runs, summary


def servers_of(runs):
    seen = []
    for r in runs:
        if r["server"] not in seen:
            seen.append(r["server"])
    return seen


def ladder_steps(run):
    outcome = run.get("outcome")
    if isinstance(outcome, dict) and "ladder" in outcome:
        return outcome["ladder"]["steps"]
    return []


def first_rep(runs, scenario, server):
    for r in runs:
        if r["scenario"] == scenario and r["server"] == server and not r.get("error"):
            return r
    return None


def throughput_vs_subscribers(runs, summary, out: Path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for server in servers_of(runs):
        pts = []
        for c in summary:
            if c["server"] == server and c["metric"] == "max deliveries/s, no drop" and c["scenario"].startswith("fanout-"):
                pts.append((int(c["scenario"].split("-")[1]), c["median"]))
        pts.sort()
        if pts:
            ax.plot([p[0] for p in pts], [p[1] / 1e3 for p in pts], marker="o", label=server, color=COLORS.get(server))
    ax.set_xscale("log")
    ax.set_xlabel("subscribers")
    ax.set_ylabel("max deliveries/s with no drop (thousands)")
    ax.set_title("Fan-out throughput (median of runs; 2 shared cores)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput_vs_subscribers.svg")
    plt.close(fig)


def latency_cdfs(runs, out: Path):
    scenarios = sorted({r["scenario"] for r in runs if r["scenario"].startswith("fanout-")}, key=lambda s: int(s.split("-")[1]))
    if not scenarios:
        return
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 4), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        n = int(scenario.split("-")[1])
        for server in servers_of(runs):
            r = first_rep(runs, scenario, server)
            if not r:
                continue
            steps = [s for s in ladder_steps(r) if abs(s["target_deliveries_per_s"] - 100e3) <= 10e3]
            if not steps or not steps[0]["latency"]["cdf"]:
                continue
            cdf = steps[0]["latency"]["cdf"]
            ax.plot([p[1] / 1e3 for p in cdf], [100 * p[0] for p in cdf], label=server, color=COLORS.get(server))
        ax.set_xscale("log")
        ax.set_xlabel("publish → receive latency (ms)")
        ax.set_ylabel("percentile")
        ax.set_title(f"{n} subscribers × {100e3 / n:.0f} events/s (100k deliveries/s)")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency_cdf.svg")
    plt.close(fig)


def cpu_per_delivery(runs, out: Path):
    scenarios = sorted({r["scenario"] for r in runs if r["scenario"].startswith("fanout-")}, key=lambda s: int(s.split("-")[1]))
    if not scenarios:
        return
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 4), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for server in servers_of(runs):
            r = first_rep(runs, scenario, server)
            if not r:
                continue
            steps = ladder_steps(r)
            xs = [s["deliveries_per_s"] / 1e3 for s in steps if s["deliveries"] > 0]
            ys = [s["server_cpu_us_per_delivery"] for s in steps if s["deliveries"] > 0]
            ax.plot(xs, ys, marker="o", label=server, color=COLORS.get(server))
            for s in steps:
                if not s["ok"] and s["deliveries"] > 0:
                    ax.plot([s["deliveries_per_s"] / 1e3], [s["server_cpu_us_per_delivery"]], marker="x", color="black")
        ax.set_yscale("log")
        ax.set_xlabel("deliveries/s (thousands); x = step with drops")
        ax.set_ylabel("server CPU per delivery (µs)")
        ax.set_title(scenario)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "cpu_per_delivery.svg")
    plt.close(fig)


def slow_rss(runs, out: Path):
    fig, ax = plt.subplots(figsize=(6, 4))
    drew = False
    for server in servers_of(runs):
        r = first_rep(runs, "slow-stalled", server)
        if not r:
            continue
        steps = ladder_steps(r)
        if not steps or not steps[0]["series"]:
            continue
        series = steps[0]["series"]
        ax.plot([p["t_s"] for p in series], [p["server_rss_kib"] / 1024 for p in series], label=server, color=COLORS.get(server))
        drew = True
    if not drew:
        plt.close(fig)
        return
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_title("Slow consumers: 5% of 1000 clients stop reading")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "slow_consumers_rss.svg")
    plt.close(fig)


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/quick")
    runs, summary = load(folder)
    throughput_vs_subscribers(runs, summary, folder)
    latency_cdfs(runs, folder)
    cpu_per_delivery(runs, folder)
    slow_rss(runs, folder)
    print(f"plots written to {folder}")


if __name__ == "__main__":
    main()
