"""The summary of a `tools/gpu_check.sh run`: summary.md in its output folder.

Reads what the run's steps wrote there (steps.tsv, bench-SET.json, probe-SET-N.json,
pytorch-SET.json, logs/) for each set of weights (`bundled`, `real`) and writes, per set:
each kernel's and the step's GFLOP/s and percentage of the GPU's fp32 peak beside PyTorch's;
the big convolutions (the forward and input-gradient rows of at least BIG_SHARE of the step's
FLOP) against the goal of GOAL_PEAK of the peak; and the whole probe's time (median of the
runs) against PyTorch CUDA eager, against the goal of at most GOAL_RATIO of its time.
Standard library only, so it runs wherever the run half does.

    python3 tools/gpu_summary.py --out gpu-results --mode "GPU check" --gpu "NVIDIA H200" \\
        --peak-gflops 67000 --peak-source "vendor figure"
"""

import argparse
import glob
import json
import os
import statistics
import time

BIG_SHARE = 0.05
GOAL_PEAK = 0.25
GOAL_RATIO = 0.5
SETS = {
    "bundled": "the bundled demo weights (weights/)",
    "real": "the real checkpoints (DCGAN-tutorial generator, the notebook's classifier)",
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def first_run(path):
    data = load(path)
    runs = data.get("runs") if isinstance(data, dict) else None
    return runs[0] if runs else None


def lines(path):
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f]
    except OSError:
        return []


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def is_convolution(row):
    return row["name"].endswith(" forward") or row["name"].endswith(" input-gradient")


def kernel_section(run, torch_run, peak):
    """The per-kernel table of one set, and the big convolutions' verdict."""
    torch_rows = {r["name"]: r for r in (torch_run or {}).get("kernels", [])}
    if torch_run:
        torch_rows["probe step"] = torch_run["step"]
    rows = run["kernels"] + [run["step"]]
    step_gflop = run["step"]["gflop"] or 1e-30
    out = [
        "| op | kernel | GFLOP | median ms | GFLOP/s | % peak | PyTorch ms | PyTorch GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    big = []
    for r in rows:
        t = torch_rows.get(r["name"])
        share = r["gflop_per_s"] / peak if peak else None
        out.append(
            f"| {r['name']} | {r['kernel']} | {r['gflop']:.3f} | {r['median_ms']:.3f} | {r['gflop_per_s']:.1f} | "
            f"{fmt(share and share * 100, '.1f')} | {fmt(t and t['median_ms'], '.3f')} | {fmt(t and t['gflop_per_s'], '.1f')} |"
        )
        if r is not run["step"] and is_convolution(r) and r["gflop"] >= BIG_SHARE * step_gflop:
            big.append((r, share))
    out.append("")
    step = run["step"]
    if peak:
        out.append(f"Whole step: {step['median_ms']:.3f} ms, {step['gflop_per_s']:.1f} GFLOP/s, "
                   f"{step['gflop_per_s'] / peak * 100:.1f}% of the fp32 peak.")
        met = [r for r, s in big if s >= GOAL_PEAK]
        out.append(f"Big convolutions (at least {BIG_SHARE:.0%} of the step's FLOP each): {len(met)} of {len(big)} "
                   f"at or above the goal of {GOAL_PEAK:.0%} of peak.")
        below = [f"{r['name']} {s * 100:.1f}%" for r, s in big if s < GOAL_PEAK]
        if below:
            out.append("Below the goal: " + ", ".join(below) + ".")
    else:
        out.append(f"Whole step: {step['median_ms']:.3f} ms, {step['gflop_per_s']:.1f} GFLOP/s; "
                   "no fp32 peak known (pass --peak-gflops), so no percentages.")
    return out


def probe_section(out_dir, name, torch_run):
    """The whole probe: gan-bias's runs against PyTorch's, by medians."""
    runs = [load(p) for p in sorted(glob.glob(os.path.join(out_dir, f"probe-{name}-*.json")))]
    secs = [r["timings"]["probe_seconds"] for r in runs if r and "timings" in r]
    if not secs:
        return ["Probe: no gan-bias probe time (see steps)."]
    settings = runs[0].get("settings", {})
    mine = statistics.median(secs)
    lines_ = [f"Probe ({settings.get('images', '?')} images, {settings.get('steps', '?')} steps each way, target Male): "
              f"gan-bias {mine:.3f} s (median of {len(secs)}: {', '.join(f'{s:.3f}' for s in secs)}; "
              "each includes loading the program: pipelines and uploads)."]
    theirs = (torch_run or {}).get("probe_seconds")
    if theirs:
        device = torch_run["adapter"]["name"]
        ratio = mine / theirs
        verdict = "met" if ratio <= GOAL_RATIO else "not met"
        lines_.append(f"{device} eager: {theirs:.3f} s (median, the notebook's loop, models loaded and warm). "
                      f"gan-bias takes {ratio:.2f}x its time ({1 / ratio:.2f}x as fast); "
                      f"goal at most {GOAL_RATIO}x (2x as fast): {verdict}.")
    else:
        lines_.append("PyTorch: no probe time (torch without a GPU, or its step failed).")
    return lines_


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="GPU check")
    ap.add_argument("--gpu", default="")
    ap.add_argument("--peak-gflops", default="")
    ap.add_argument("--peak-source", default="")
    args = ap.parse_args()
    peak = float(args.peak_gflops) if args.peak_gflops else None

    doc = ["# gan-bias GPU check", "", f"- mode: {args.mode}", f"- when: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"]
    smi = lines(os.path.join(args.out, "logs", "nvidia-smi.log"))
    if len(smi) >= 2:
        doc.append(f"- nvidia-smi: {smi[1]}")
    if args.gpu:
        doc.append(f"- GPU: {args.gpu}")
    doc.append(f"- fp32 peak: {peak:.0f} GFLOP/s, {args.peak_source}" if peak else "- fp32 peak: unknown (pass --peak-gflops N)")
    tests = [line for line in lines(os.path.join(args.out, "logs", "shader-tests.log")) if line.startswith("test result:")]
    doc.append(f"- shader tests (ops::, shaders::): {tests[-1] if tests else 'no result (see logs/shader-tests.log)'}")
    doc += ["", "## Steps", "", "| step | status | seconds |", "|---|---|---:|"]
    for line in lines(os.path.join(args.out, "steps.tsv"))[1:]:
        parts = line.split("\t")
        if len(parts) == 3:
            doc.append(f"| {parts[0]} | {parts[1]} | {parts[2]} |")

    for name, what in SETS.items():
        run = first_run(os.path.join(args.out, f"bench-{name}.json"))
        if run is None:
            continue
        torch_run = first_run(os.path.join(args.out, f"pytorch-{name}.json"))
        w = run["workload"]
        doc += ["", f"## {name}: {what}", "",
                f"{w['generator']['arch']} {w['generator']['file']} + {w['classifier']['arch']} {w['classifier']['file']}, "
                f"{w['images']} images per direction ({w['rows']} rows); adapter: {run['adapter']['name']} "
                f"({run['adapter']['backend']}, {run['adapter']['device_type']}, driver {run['adapter']['driver']} "
                f"{run['adapter']['driver_info']}); timing: {run['timing']}."]
        if torch_run:
            doc.append(f"PyTorch: {torch_run['adapter']['name']} ({torch_run['adapter']['driver_info']}), timing: {torch_run['timing']}.")
        doc.append("")
        doc += kernel_section(run, torch_run, peak)
        doc.append("")
        doc += probe_section(args.out, name, torch_run)
        if os.path.exists(os.path.join(args.out, f"compare-{name}.txt")):
            doc += ["", f"Side by side: compare-{name}.txt (`gan-bias bench compare`)."]

    text = "\n".join(doc) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
