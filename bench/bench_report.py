#!/usr/bin/env python3
"""Statistics and report writer for scripts/bench (stdlib only).

scripts/bench runs the benchmarks and leaves plain-text files in a work
directory; this turns them into the table printed on stdout and, unless told
not to, into docs/perf.md.  It is not meant to be run by hand.

Work directory layout (all written by scripts/bench):
  machine.env          key=value lines (nproc, kernel, cpu, ...)
  rows.tsv             row_id, label, program, args, gmpt_procs ('' = default)
  results.tsv          row_id, pair_index, mode (native|gmpt), ns_per_op|FAIL:why
  strace/ROW.MODE.base.txt / ROW.MODE.run.txt   strace -c summaries
  strace/ROW.MODE.ops                           ops of the .run program
"""

import argparse
import os
import statistics
import sys

# What each benchmark exercises, natively and under gmpt.  The numbers that
# follow each paragraph are filled in from the run itself.
MECHANISM = {
    "create_join": (
        "Natively every create is a `clone3` of a new kernel task; the child "
        "sets up its robust list, rseq area and signal mask with system calls "
        "and must be scheduled by the kernel, and the joiner sleeps in `futex` "
        "until the kernel clears the child's tid. Under gmpt a create takes a "
        "G and a stack from the P's free pools and makes it runnable; the "
        "joiner parks, and the child runs, exits and readies the joiner; no "
        "kernel task is created, and the G and its stack go back to the "
        "pools for the next create."
    ),
    "yield": (
        "Natively `sched_yield` is a system call into the kernel scheduler; "
        "with 2 threads on 2 CPUs each call usually finds nothing else to run "
        "on its CPU and simply returns, so the cost is the bare syscall. "
        "Under gmpt `sched_yield` is interposed: the G goes back on a run "
        "queue and the M runs the next runnable G (or the same one when there "
        "is none) with a user-level context switch."
    ),
    "pingpong": (
        "Natively each one-way handoff is a `futex` wake by the signaller and "
        "a `futex` wait by the other side, and the woken thread has to be "
        "scheduled by the kernel (often on the other CPU, with an IPI to get "
        "it out of idle). Under gmpt the signal readies the waiter into the "
        "signaller's `runnext` and the wait parks the signaller, so by design "
        "a handoff is one user-level switch on the same P."
    ),
    "mutex_contended": (
        "Natively an uncontended lock is one atomic instruction, and a thread "
        "keeps its CPU for a whole time slice, so most of the 64 threads' "
        "lock operations run back to back without contention; a `futex` call "
        "happens only when the holder and a waiter on the other CPU overlap. "
        "Under gmpt the same fast path applies; a contended lock parks the G "
        "(a user-level switch) and the unlock readies one waiter."
    ),
}

TARGETS = {"create_join": 10.0, "yield": 10.0, "pingpong": 10.0}


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def read_tsv(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t"))
    return rows


def parse_strace(path):
    """Return (total_calls, {syscall: calls}) from an `strace -c` summary."""
    if not os.path.exists(path):
        return None
    per = {}
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5 or parts[0].startswith(("%", "-")):
                continue
            name = parts[-1]
            try:
                calls = int(parts[3])
            except ValueError:
                continue
            if name == "total":
                total = calls
            else:
                per[name] = per.get(name, 0) + calls
    if total is None:
        total = sum(per.values())
    return total, per


def syscalls_per_op(sdir, row, mode):
    """Syscalls per op: (run - baseline) / ops, where the baseline is the same
    program with zero iterations (start-up, thread creation for the workers,
    exit).  Returns (per_op, {name: per_op}) or None."""
    base = parse_strace(os.path.join(sdir, f"{row}.{mode}.base.txt"))
    run = parse_strace(os.path.join(sdir, f"{row}.{mode}.run.txt"))
    ops_path = os.path.join(sdir, f"{row}.{mode}.ops")
    if not base or not run or not os.path.exists(ops_path):
        return None
    with open(ops_path, encoding="utf-8") as f:
        try:
            ops = int(f.read().strip())
        except ValueError:
            return None
    if ops <= 0:
        return None
    per = {}
    for name in set(base[1]) | set(run[1]):
        d = (run[1].get(name, 0) - base[1].get(name, 0)) / ops
        if abs(d) >= 0.005:
            per[name] = d
    return max(0.0, (run[0] - base[0]) / ops), per


def fmt_ns(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def fmt_sc(v):
    if v is None:
        return "–"
    return f"{v:.2f}"


def fmt_ratio(v):
    if v >= 10:
        return f"{v:.0f}x"
    if v >= 1:
        return f"{v:.1f}x"
    return f"{v:.2f}x"


def top_calls(per, n=4):
    items = sorted(per.items(), key=lambda kv: -kv[1])
    items = [(k, v) for k, v in items if v > 0][:n]
    if not items:
        return ""
    return ", ".join(f"`{k}` {v:.2f}" for k, v in items)


def analyse(workdir):
    rows = read_tsv(os.path.join(workdir, "rows.tsv"))
    results = read_tsv(os.path.join(workdir, "results.tsv"))
    sdir = os.path.join(workdir, "strace")
    out = []
    for row_id, label, prog, args, procs, conc in rows:
        native, gmpt, fails = {}, {}, []
        for rid, pair, mode, val in results:
            if rid != row_id:
                continue
            if val.startswith("FAIL"):
                fails.append(f"{mode} run {pair}: {val[5:]}")
                continue
            (native if mode == "native" else gmpt)[int(pair)] = float(val)
        ratios = [native[p] / gmpt[p] for p in sorted(native)
                  if p in gmpt and gmpt[p] > 0]
        out.append({
            "row": row_id, "label": label, "prog": prog, "args": args,
            "procs": procs, "conc": int(conc or 1),
            "native": sorted(native.values()), "gmpt": sorted(gmpt.values()),
            "native_med": statistics.median(native.values()) if native else None,
            "gmpt_med": statistics.median(gmpt.values()) if gmpt else None,
            "ratios": ratios,
            "ratio_med": statistics.median(ratios) if ratios else None,
            "fails": fails,
            "sc_native": syscalls_per_op(sdir, row_id, "native"),
            "sc_gmpt": syscalls_per_op(sdir, row_id, "gmpt"),
        })
    return out


def table(data):
    lines = [
        "| benchmark | native median ns/op | gmpt median ns/op "
        "| speedup median (min–max over pairs) "
        "| syscalls/op native | syscalls/op gmpt |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for d in data:
        if d["ratio_med"] is not None:
            sp = (f"**{fmt_ratio(d['ratio_med'])}** "
                  f"({fmt_ratio(min(d['ratios']))}–{fmt_ratio(max(d['ratios']))})")
        else:
            sp = "FAILED"
        if d["fails"]:
            sp += f" ({len(d['fails'])} failed runs)"
        scn = d["sc_native"][0] if d["sc_native"] else None
        scg = d["sc_gmpt"][0] if d["sc_gmpt"] else None
        lines.append(f"| {d['label']} | {fmt_ns(d['native_med'])} | "
                     f"{fmt_ns(d['gmpt_med'])} | {sp} | {fmt_sc(scn)} | "
                     f"{fmt_sc(scg)} |")
    return "\n".join(lines)


def call_cost(per, costs):
    """Lower bound of the time the calls in `per` take: each at the measured
    cost of a trivial call (arch_prctl at its own measured cost)."""
    return sum(v * costs.get(k, costs["default"]) for k, v in per.items() if v > 0)


def syscall_sentence(who, sc, ns, par, costs):
    """One sentence on the system calls per op of one side (native/gmpt)."""
    if sc is None:
        return ""
    total, per = sc
    if total < 0.05:
        return (f"{who} the ops almost never enter the kernel "
                f"({total:.3f} system calls per op).")
    s = f"{who} each op makes {total:.2f} system calls"
    t = top_calls(per)
    if t:
        s += f" ({t})"
    if not costs.get("default") or not ns:
        return s + "."
    cost = call_cost(per, costs)
    per_thread = ns * par
    share = 100.0 * cost / per_thread
    if par > 1:
        s += (f"; at the measured cost per call that is at least ≈{cost:,.0f} "
              f"ns of the ≈{per_thread:,.0f} ns one op takes a thread ({par} "
              f"threads run at once, so wall time per op is 1/{par} of "
              f"that), {share:.0f}%")
    else:
        s += (f"; at the measured cost per call that is at least ≈{cost:,.0f} "
              f"ns of the {fmt_ns(ns)} ns per op, {share:.0f}%")
    if share > 110:
        s += (" — more than the timed runs spend, because under strace "
              "everything is slower, so Ms go idle and sleep (and are woken) "
              "more often: read this count as an upper bound")
    return s + "."


def why(d, costs):
    name = d["prog"]
    parts = [MECHANISM.get(name, "")]
    if d["ratio_med"] is None:
        parts.append("**This row failed under gmpt**: " + "; ".join(d["fails"]))
        return " ".join(p for p in parts if p)
    r = d["ratio_med"]
    procs = (f"with `GMPT_PROCS={d['procs']}`" if d["procs"]
             else "with the default `GMPT_PROCS`")
    if 0.95 <= r <= 1.05:
        verdict = f"gmpt ({procs}) is **on par** ({fmt_ratio(r)})"
    elif r > 1:
        verdict = f"gmpt ({procs}) is **{fmt_ratio(r)} faster**"
    else:
        verdict = f"gmpt ({procs}) is **{fmt_ratio(1 / r)} slower**"
    parts.append(
        f"Measured: native {fmt_ns(d['native_med'])} ns/op, gmpt "
        f"{fmt_ns(d['gmpt_med'])} ns/op; {verdict} (median of "
        f"{len(d['ratios'])} alternating pairs, range "
        f"{fmt_ratio(min(d['ratios']))}–{fmt_ratio(max(d['ratios']))}).")
    if d["procs"] == "1":
        parts.append(
            "With one P all Gs share a single M, so every handoff is a "
            "switch between Gs on that M and no other kernel thread is "
            "involved; the native side is the same unpinned program as in "
            "the row above.")
    elif name in ("pingpong", "create_join"):
        parts.append(
            "With more than one P, readying a G also wakes an idle M to look "
            "for work (`wakep`, as in Go); when it finds nothing it goes back "
            "to sleep, which is where `futex` calls under gmpt come from.")
    nproc = costs["nproc"]
    par_n = max(1, min(d["conc"], nproc))
    par_g = max(1, min(d["conc"], int(d["procs"]) if d["procs"] else nproc))
    parts.append(syscall_sentence("Natively", d["sc_native"], d["native_med"],
                                  par_n, costs))
    parts.append(syscall_sentence("Under gmpt", d["sc_gmpt"], d["gmpt_med"],
                                  par_g, costs))
    scg = d["sc_gmpt"]
    if scg and scg[1].get("arch_prctl", 0) >= 0.1 and costs.get("tls_said"):
        parts.append("(`arch_prctl`: the per-G TLS base switch, see above.)")
    elif scg and scg[1].get("arch_prctl", 0) >= 0.1:
        costs["tls_said"] = True
        ap = costs.get("arch_prctl")
        parts.append(
            "`arch_prctl(ARCH_SET_FS)` is the per-G TLS base switch (this "
            "CPU/kernel has no FSGSBASE, so the fs base cannot be written from "
            "user space)" + (f"; it costs {fmt_ns(ap)} ns here" if ap else "")
            + ", more than a whole native `sched_yield`: as long as a switch "
            "between Gs pays for it, the switch-bound rows cannot approach "
            "10x.")
    if name in TARGETS:
        tgt = TARGETS[name]
        met = "met" if r >= tgt else "**not met**"
        parts.append(f"Target (issue 2): ≥{tgt:.0f}x — {met}.")
    if d["fails"]:
        parts.append("Failed runs: " + "; ".join(d["fails"]) + ".")
    return " ".join(p for p in parts if p)


def markdown(data, env, args):
    syscall_ns = float(env["syscall_ns"]) if env.get("syscall_ns") else None
    prctl_ns = float(env["arch_prctl_ns"]) if env.get("arch_prctl_ns") else None
    costs = {"default": syscall_ns, "nproc": int(env.get("nproc") or 1)}
    if prctl_ns:
        costs["arch_prctl"] = prctl_ns
    mode = " (quick mode: small sizes, not for publication)" if args.quick else ""
    lines = [
        "# gmpt performance",
        "",
        "<!-- Generated by scripts/bench; edits are overwritten on the next "
        "run. -->",
        "",
        "Each benchmark in `bench/` is an ordinary pthread program, built "
        "without any knowledge of gmpt and run twice: natively, and with "
        "`LD_PRELOAD=build/libgmpt.so`. Native and gmpt runs alternate, so "
        "drift on the machine hits both alike; the speedup is native/gmpt "
        "time per pair, given as the median with the min–max over pairs. "
        "Syscalls per op come from one extra short run of each under "
        "`strace -f -c`, minus a zero-iteration run of the same program "
        "(so start-up and worker creation are not counted); strace slows "
        "everything down, so treat those counts as shape, not as exact "
        "figures for the timed runs.",
        "",
        "## Machine",
        "",
        f"- CPU: {env.get('cpu', '?')}, {env.get('nproc', '?')} CPUs usable "
        f"(`nproc`), {env.get('mem', '?')} RAM",
        f"- Kernel {env.get('kernel', '?')}, glibc {env.get('glibc', '?')}, "
        f"AT_HWCAP2 {env.get('hwcap2', '?')} "
        f"(FSGSBASE {env.get('fsgsbase', '?')})",
        f"- A trivial system call (`getppid`) costs "
        f"**{fmt_ns(syscall_ns)} ns** here (`bench/syscall_cost`), so every "
        "system call on a hot path is worth about a microsecond, and a "
        "thread operation that needs the kernel twice cannot beat ~2 us "
        "natively. Setting the fs base (`arch_prctl(ARCH_SET_FS)`, what a "
        "per-thread TLS switch costs without FSGSBASE) costs "
        f"**{fmt_ns(prctl_ns)} ns**.",
        f"- gmpt {env.get('revision', '?')}; default `GMPT_PROCS` rows leave "
        "it unset (the library picks the usable CPU count)"
        + (f"; other settings in force: `{env['gmpt_env']}`"
           if env.get("gmpt_env") else "") + ".",
        "",
        "## Results" + mode,
        "",
        f"{args.runs} alternating native/gmpt pairs per row, "
        f"{env.get('date', '')}.",
        "",
        table(data),
        "",
        "Benchmark definitions (ns/op):",
        "",
        "- **create_join** — create a thread that returns at once, join it; "
        "sequential. One op = one create+join.",
        "- **yield** — 2 threads each call `sched_yield()` N times. One op = "
        "one yield (wall time / total yields).",
        "- **pingpong** — 2 threads pass a token with one mutex and two "
        "condvars. One op = one one-way handoff.",
        "- **mutex_contended** — 64 threads each lock/increment/unlock one "
        "mutex M times; the final count is checked. One op = one "
        "lock+unlock.",
        "",
        "## Why",
        "",
    ]
    for d in data:
        lines.append(f"**{d['label']}.** {why(d, costs)}")
        lines.append("")
    lines += [
        "## Reproduce",
        "",
        "```sh",
        "scripts/bench            # 5 pairs per row, rewrites docs/perf.md",
        "scripts/bench --runs 9   # more pairs",
        "scripts/bench --quick --no-write   # smoke test, prints only",
        "```",
        "",
        "Run one benchmark by hand (sizes are optional arguments, see "
        "`--help` of each program):",
        "",
        "```sh",
        "build/bench/pingpong 25000",
        "LD_PRELOAD=$PWD/build/libgmpt.so build/bench/pingpong 25000",
        "LD_PRELOAD=$PWD/build/libgmpt.so GMPT_PROCS=1 build/bench/pingpong 25000",
        "```",
        "",
        "Sizes used for this table: "
        + "; ".join(f"{d['label']}: `{d['prog']} {d['args']}`" for d in data)
        + ".",
        "",
        "<details><summary>Raw ns/op per run</summary>",
        "",
        "| benchmark | native | gmpt |",
        "|---|---|---|",
    ]
    for d in data:
        lines.append(f"| {d['label']} | "
                     f"{', '.join(fmt_ns(v) for v in d['native'])} | "
                     f"{', '.join(fmt_ns(v) for v in d['gmpt'])} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--write", default="", help="markdown output path")
    args = ap.parse_args()

    env = read_env(os.path.join(args.workdir, "machine.env"))
    data = analyse(args.workdir)
    print(table(data))
    if args.write:
        text = markdown(data, env, args)
        tmp = args.write + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.write)
        print(f"\nwrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
