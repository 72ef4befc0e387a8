#!/usr/bin/env python3
"""Statistics and report writer for scripts/bench (stdlib only).

scripts/bench runs the benchmarks and leaves plain-text files in a work
directory; this turns them into the table printed on stdout and, unless told
not to, into docs/perf.md.  It is not meant to be run by hand.

Work directory layout (all written by scripts/bench):
  machine.env          key=value lines (nproc, kernel, cpu, ...)
  rows.tsv             row_id, label, program, args, gmpt_procs ('' = default),
                       threads that can run at once, kind (prog|echo|idle;
                       absent = prog), GMPT_TLS of the gmpt runs (absent =
                       per-thread)
  results.tsv          row_id, pair_index, mode (native|gmpt),
                       ns_per_op|FAIL:why|SKIP:why, and optionally the
                       key=value pairs of the run's RESULT line
  strace/ROW.MODE.base.txt / ROW.MODE.run.txt   strace -c summaries
  strace/ROW.MODE.base.perf / ROW.MODE.run.perf perf stat -x, output
                       (raw_syscalls:sys_enter and syscalls:sys_enter_NAME)
  strace/ROW.MODE.ops                           ops of the .run program
  strace/ROW.method                             strace|perf
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

# The rows added for issue 3 (blocking I/O, timers, idle).
MECHANISM.update({
    "pipe_ring": (
        "64 threads pass a 1-byte token round a ring of pipes, one blocking "
        "`read` and one `write` per hop, and only the thread holding the "
        "token can run. Natively every hop is a wakeup of the next thread "
        "sleeping in `read` and a kernel context switch (or an IPI to the "
        "other CPU). Under gmpt (issue 3) a pipe `read` or `write` is an "
        "io_uring operation: the G queues it and parks, and the M that runs "
        "out of Gs submits the queue with one `io_uring_enter`, in which "
        "the writer's write completes and, with it, the next thread's "
        "pending read; both completions are reaped from the shared ring "
        "without a system call."
    ),
    "sleepers": (
        "1000 threads each call `nanosleep(1 ms)` in a loop: a million timer "
        "expiries per second asked of the machine's CPUs. Natively each "
        "expiry is a timer interrupt, a wakeup and a context switch, and the "
        "threads fall behind; under gmpt a sleep puts the G on its P's "
        "timer heap and an expiry is a user-level switch, the Ms sleeping in "
        "the kernel only until the earliest timer."
    ),
    "echo": (
        "A thread-per-connection echo server (`bench/echo_server`: one "
        "pthread with a 64 KiB stack per accepted connection, blocking "
        "`read`/`write`), driven by `bench/echo_load`, which always runs "
        "natively: one epoll thread, a closed loop per connection (a "
        "64-byte request, wait for its echo, the next one). The load "
        "generator shares the CPUs with the server. Natively every request "
        "wakes the connection's thread in the kernel and costs a `read` and "
        "a `write`; under gmpt (issue 3) the sockets are non-blocking "
        "underneath: a `read` that finds no data parks the G on the "
        "netpoller (the fd is registered once, edge-triggered), one "
        "`epoll_wait` readies every connection that has data, and one M "
        "serves them in a row without the kernel scheduling a thread for "
        "each."
    ),
    "idle": (
        "The echo server with 1000 connections that send nothing (after one "
        "round trip each, so all are accepted and their threads wait in "
        "`read`); the server's CPU time over the idle window, from its "
        "process CPU clock (all threads, ns resolution), per second. "
        "Natively 1000 threads blocked in `read` cost nothing; under gmpt "
        "whatever the runtime does while nothing happens (netpoller, "
        "sysmon, timers) shows here."
    ),
})

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


def parse_perf(path):
    """Return (total_calls, {syscall: calls}) from `perf stat -x,` output of
    raw_syscalls:sys_enter (the total) and syscalls:sys_enter_NAME events
    (the calls counted one by one; the rest are in the total only)."""
    if not os.path.exists(path):
        return None
    per = {}
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3 or line.startswith("#"):
                continue
            try:
                calls = int(parts[0])
            except ValueError:
                continue  # <not counted>, <not supported>
            event = parts[2]
            if event == "raw_syscalls:sys_enter":
                total = calls
            elif event.startswith("syscalls:sys_enter_"):
                per[event[len("syscalls:sys_enter_"):]] = calls
    if total is None:
        return None
    return total, per


def parse_counts(sdir, stem):
    """The syscall counts of one counted run, from perf or strace output."""
    perf = parse_perf(os.path.join(sdir, stem + ".perf"))
    if perf:
        return perf
    return parse_strace(os.path.join(sdir, stem + ".txt"))


def syscalls_per_op(sdir, row, mode):
    """Syscalls per op: (run - baseline) / ops, where the baseline is the same
    program with zero iterations (start-up, thread creation for the workers,
    exit; for the echo server: the connections set up and closed with no
    requests).  Returns (per_op, {name: per_op}) or None."""
    base = parse_counts(sdir, f"{row}.{mode}.base")
    run = parse_counts(sdir, f"{row}.{mode}.run")
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


def parse_kv(text):
    kv = {}
    for tok in text.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            kv[k] = v
    return kv


def analyse(workdir):
    rows = read_tsv(os.path.join(workdir, "rows.tsv"))
    results = read_tsv(os.path.join(workdir, "results.tsv"))
    sdir = os.path.join(workdir, "strace")
    out = []
    for row in rows:
        row_id, label, prog, args, procs, conc = (row + [""] * 6)[:6]
        kind = row[6] if len(row) > 6 and row[6] else "prog"
        tls = row[7] if len(row) > 7 and row[7] else "per-thread"
        native, gmpt, fails, skips = {}, {}, [], []
        kvs = {"native": {}, "gmpt": {}}
        for res in results:
            rid, pair, mode, val = (res + [""] * 4)[:4]
            if rid != row_id:
                continue
            if val.startswith("SKIP"):
                if mode == "native":
                    skips.append(val[5:])
                continue
            if val.startswith("FAIL"):
                fails.append(f"{mode} run {pair}: {val[5:]}")
                continue
            (native if mode == "native" else gmpt)[int(pair)] = float(val)
            kvs[mode][int(pair)] = parse_kv(res[4] if len(res) > 4 else "")
        ratios = [native[p] / gmpt[p] for p in sorted(native)
                  if p in gmpt and gmpt[p] > 0]
        method = ""
        mpath = os.path.join(sdir, f"{row_id}.method")
        if os.path.exists(mpath):
            with open(mpath, encoding="utf-8") as f:
                method = f.read().strip()
        out.append({
            "row": row_id, "label": label, "prog": prog, "args": args,
            "procs": procs, "conc": int(conc or 1), "kind": kind, "tls": tls,
            "kv": kvs, "skips": skips, "method": method,
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


def kv_values(d, mode, key):
    """A RESULT key's values over the successful runs of one mode."""
    vals = []
    for kv in d["kv"][mode].values():
        try:
            vals.append(float(kv[key]))
        except (KeyError, ValueError):
            pass
    return vals


def kv_med(d, mode, key):
    vals = kv_values(d, mode, key)
    return statistics.median(vals) if vals else None


def kv_max(d, mode, key):
    vals = kv_values(d, mode, key)
    return max(vals) if vals else None


def is_main(d):
    """Rows of the main ns/op table (the rest have tables of their own)."""
    return d["kind"] == "prog" and d["prog"] != "sleepers"


def fmt_num(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def fmt_us(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def status_cell(d, mode):
    """What to show instead of a number when a side has none."""
    if d["skips"]:
        return "skipped"
    if not d[mode]:
        return "FAILED"
    return None


def ratio_cell(d):
    if d["ratio_med"] is not None:
        sp = (f"**{fmt_ratio(d['ratio_med'])}** "
              f"({fmt_ratio(min(d['ratios']))}–{fmt_ratio(max(d['ratios']))})")
    elif d["skips"]:
        sp = "skipped"
    else:
        sp = "FAILED"
    if d["fails"]:
        sp += f" ({len(d['fails'])} failed runs)"
    return sp


def pct_cell(d, mode, keys):
    bad = status_cell(d, mode)
    if bad:
        return bad
    return " / ".join(fmt_us(kv_med(d, mode, k)) for k in keys)


def value_cell(d, mode, key, digits=0):
    bad = status_cell(d, mode)
    if bad:
        return bad
    return fmt_num(kv_med(d, mode, key), digits)


def sc_cell(d, mode):
    sc = d[f"sc_{mode}"]
    return fmt_sc(sc[0] if sc else None)


def echo_table(data):
    rows = [d for d in data if d["kind"] == "echo"]
    if not rows:
        return ""
    lines = [
        "| echo server | native req/s | gmpt req/s "
        "| gmpt/native req/s median (min–max over pairs) "
        "| native p50 / p99 / p999 µs | gmpt p50 / p99 / p999 µs "
        "| syscalls/request native | syscalls/request gmpt |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    keys = ("p50_us", "p99_us", "p999_us")
    for d in rows:
        lines.append(
            f"| {d['label']} | {value_cell(d, 'native', 'rps')} | "
            f"{value_cell(d, 'gmpt', 'rps')} | {ratio_cell(d)} | "
            f"{pct_cell(d, 'native', keys)} | {pct_cell(d, 'gmpt', keys)} | "
            f"{sc_cell(d, 'native')} | {sc_cell(d, 'gmpt')} |")
    return "\n".join(lines)


def sleepers_table(data):
    rows = [d for d in data if d["kind"] == "prog" and d["prog"] == "sleepers"]
    if not rows:
        return ""
    lines = [
        "| timers | native wake-ups/s | gmpt wake-ups/s "
        "| gmpt/native median (min–max over pairs) "
        "| native lateness p50 / p99 µs | gmpt lateness p50 / p99 µs "
        "| syscalls/wake-up native | syscalls/wake-up gmpt |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    keys = ("p50_us", "p99_us")
    for d in rows:
        lines.append(
            f"| {d['label']} | {value_cell(d, 'native', 'wakes_per_s')} | "
            f"{value_cell(d, 'gmpt', 'wakes_per_s')} | {ratio_cell(d)} | "
            f"{pct_cell(d, 'native', keys)} | {pct_cell(d, 'gmpt', keys)} | "
            f"{sc_cell(d, 'native')} | {sc_cell(d, 'gmpt')} |")
    return "\n".join(lines)


def idle_table(data):
    rows = [d for d in data if d["kind"] == "idle"]
    if not rows:
        return ""
    lines = [
        "| idle server | native CPU ms/s | gmpt CPU ms/s "
        "| native utime+stime ms/s | gmpt utime+stime ms/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for d in rows:
        lines.append(
            f"| {d['label']} | {value_cell(d, 'native', 'cpu_ms_per_s', 3)} | "
            f"{value_cell(d, 'gmpt', 'cpu_ms_per_s', 3)} | "
            f"{value_cell(d, 'native', 'stat_cpu_ms_per_s', 1)} | "
            f"{value_cell(d, 'gmpt', 'stat_cpu_ms_per_s', 1)} |")
    return "\n".join(lines)


def table(data):
    data = [d for d in data if is_main(d)]
    lines = [
        "| benchmark | native median ns/op | gmpt median ns/op "
        "| speedup median (min–max over pairs) "
        "| syscalls/op native | syscalls/op gmpt |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for d in data:
        sp = ratio_cell(d)
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


def simple_sc(who, sc, unit):
    """One sentence on the system calls per op, without the time arithmetic."""
    if sc is None:
        return ""
    total, per = sc
    if total < 0.05:
        return f"{who} almost no system calls ({total:.3f} per {unit})."
    s = f"{who} {total:.2f} system calls per {unit}"
    t = top_calls(per, 5)
    if t:
        s += f" ({t})"
    return s + "."


def verdict_more(r, what):
    """Phrase a gmpt/native ratio where more is better."""
    if 0.95 <= r <= 1.05:
        return f"gmpt is **on par** ({fmt_ratio(r)} the {what})"
    if r > 1:
        return f"gmpt achieves **{fmt_ratio(r)} the {what}**"
    return f"gmpt achieves **{fmt_ratio(r)} the {what}** ({fmt_ratio(1 / r)} fewer)"


def pairs_range(d):
    return (f"median of {len(d['ratios'])} alternating pairs, range "
            f"{fmt_ratio(min(d['ratios']))}–{fmt_ratio(max(d['ratios']))}")


def failed_sentence(d):
    if d["skips"]:
        return "**Skipped**: " + d["skips"][0] + "."
    return "**This row failed under gmpt**: " + "; ".join(d["fails"]) + "."


def why_echo(d):
    parts = [MECHANISM["echo"]]
    if d["ratio_med"] is None:
        parts.append(failed_sentence(d))
        return " ".join(parts)
    conns = d["kv"]["native"] and next(iter(d["kv"]["native"].values())).get("conns")
    parts.append(
        f"Measured with {conns or '?'} connections: native "
        f"{fmt_num(kv_med(d, 'native', 'rps'))} req/s (p50/p99/p999 "
        f"{pct_cell(d, 'native', ('p50_us', 'p99_us', 'p999_us'))} µs), gmpt "
        f"{fmt_num(kv_med(d, 'gmpt', 'rps'))} req/s "
        f"({pct_cell(d, 'gmpt', ('p50_us', 'p99_us', 'p999_us'))} µs); "
        f"{verdict_more(d['ratio_med'], 'requests per second')} "
        f"({pairs_range(d)}). In a closed loop the latency is the number of "
        "connections divided by the throughput (Little's law), so at high "
        "connection counts the percentiles mostly restate req/s; what they "
        "add is the spread between p50 and p999, i.e. fairness.")
    cn = kv_med(d, "native", "srv_cpu_us_per_req")
    cg = kv_med(d, "gmpt", "srv_cpu_us_per_req")
    if cn is not None and cg is not None:
        parts.append(f"The server used {cn:.1f} µs of CPU per request "
                     f"natively and {cg:.1f} µs under gmpt.")
    for mode in ("native", "gmpt"):
        st = kv_max(d, mode, "starved")
        if st:
            parts.append(f"In some {mode} run {st:.0f} connections got no "
                         "request done in the whole measured window "
                         "(oldest request still in flight at the end: "
                         f"{fmt_us(kv_max(d, mode, 'oldest_inflight_us'))} "
                         "µs).")
    parts.append(simple_sc("Natively the server makes", d["sc_native"],
                           "request"))
    parts.append(simple_sc("Under gmpt it makes", d["sc_gmpt"], "request"))
    pn = kv_med(d, "native", "p99_us")
    pg = kv_med(d, "gmpt", "p99_us")
    if pn is not None and pg is not None and pg > pn:
        parts.append(
            "Where gmpt loses: its p99 is above native's here. Each request "
            "costs gmpt a `read`, a `write` and the `read` that finds the "
            "socket empty before the G parks (Go's model: readiness is "
            "learnt from EAGAIN), plus its share of an `epoll_wait`; with "
            "few connections few requests share each `epoll_wait`, so the "
            "extra calls are not amortised, and a connection readied by one "
            "poll waits behind every G already queued on its P, where "
            "natively the kernel runs each woken thread on whichever CPU "
            "frees first. Handing socket reads to io_uring as whole "
            "operations would drop the EAGAIN `read`, but each completion "
            "then costs a task_work interrupt of the submitting thread, "
            "which measured worse at every connection count on this VM "
            "(docs/design.md, Netpoller).")
    if d["fails"]:
        parts.append("Failed runs: " + "; ".join(d["fails"]) + ".")
    return " ".join(p for p in parts if p)


def why_sleepers(d):
    parts = [MECHANISM["sleepers"]]
    if d["ratio_med"] is None:
        parts.append(failed_sentence(d))
        return " ".join(parts)
    parts.append(
        f"Measured: native {fmt_num(kv_med(d, 'native', 'wakes_per_s'))} "
        f"wake-ups/s, lateness p50/p99 "
        f"{pct_cell(d, 'native', ('p50_us', 'p99_us'))} µs; gmpt "
        f"{fmt_num(kv_med(d, 'gmpt', 'wakes_per_s'))} wake-ups/s, "
        f"{pct_cell(d, 'gmpt', ('p50_us', 'p99_us'))} µs; "
        f"{verdict_more(d['ratio_med'], 'wake-ups per second')} "
        f"({pairs_range(d)}).")
    try:
        kv = next(iter(d["kv"]["native"].values()))
        ideal = float(kv["threads"]) * 1e6 / float(kv["sleep_us"])
        parts.append(f"The ideal is {ideal:,.0f} wake-ups/s with no lateness.")
    except (StopIteration, KeyError, ValueError, ZeroDivisionError):
        pass
    parts.append(simple_sc("Natively the program makes", d["sc_native"],
                           "wake-up"))
    parts.append(simple_sc("Under gmpt it makes", d["sc_gmpt"], "wake-up"))
    if d["fails"]:
        parts.append("Failed runs: " + "; ".join(d["fails"]) + ".")
    return " ".join(p for p in parts if p)


def why_idle(d):
    parts = [MECHANISM["idle"]]
    if not d["native"] or not d["gmpt"]:
        parts.append(failed_sentence(d))
        return " ".join(parts)
    parts.append(
        f"Measured: native {fmt_num(kv_med(d, 'native', 'cpu_ms_per_s'), 3)} "
        f"ms of CPU per second, gmpt "
        f"{fmt_num(kv_med(d, 'gmpt', 'cpu_ms_per_s'), 3)} ms/s (medians; "
        "utime+stime from /proc/PID/stat, in whole clock ticks: native "
        f"{fmt_num(kv_med(d, 'native', 'stat_cpu_ms_per_s'), 1)}, gmpt "
        f"{fmt_num(kv_med(d, 'gmpt', 'stat_cpu_ms_per_s'), 1)} ms/s). After "
        "the idle window every connection made one more round trip (p50 "
        f"{fmt_us(kv_med(d, 'native', 'after_p50_us'))} µs native, "
        f"{fmt_us(kv_med(d, 'gmpt', 'after_p50_us'))} µs gmpt), to check "
        "that the server still answers.")
    if d["fails"]:
        parts.append("Failed runs: " + "; ".join(d["fails"]) + ".")
    return " ".join(parts)


def why(d, costs):
    if d["kind"] == "echo":
        return why_echo(d)
    if d["kind"] == "idle":
        return why_idle(d)
    if d["prog"] == "sleepers":
        return why_sleepers(d)
    name = d["prog"]
    parts = [MECHANISM.get(name, "")]
    if d["ratio_med"] is None:
        parts.append(failed_sentence(d))
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
    if d["tls"] == "shared":
        parts.append(
            "With `GMPT_TLS=shared` the Gs run on their M's TLS, so a switch "
            "never moves the fs base (no `arch_prctl`); `__thread` variables "
            "are then per M, not per thread (docs/design.md).")
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
    if name in TARGETS and d["tls"] == "shared":
        tgt = TARGETS[name]
        met = "met" if r >= tgt else "**not met**"
        parts.append(f"Target (issue 2, set for switches that keep the fs "
                     f"base): ≥{tgt:.0f}x — {met}.")
    if d["fails"]:
        parts.append("Failed runs: " + "; ".join(d["fails"]) + ".")
    return " ".join(p for p in parts if p)


def size_text(d):
    if d["kind"] in ("echo", "idle"):
        return f"{d['label']}: `echo_load {d['args']}` against `{d['prog']}`"
    return f"{d['label']}: `{d['prog']} {d['args']}`"


def raw_kind(d):
    return "sleepers" if d["prog"] == "sleepers" else d["kind"]


# Per-run values in the raw table: the row's natural unit.
RAW_UNITS = {
    "prog": ("ns/op", fmt_ns),
    "echo": ("req/s", lambda v: fmt_num(1e9 / v) if v > 0 else "–"),
    "sleepers": ("wake-ups/s", lambda v: fmt_num(1e9 / v) if v > 0 else "–"),
    "idle": ("CPU ms/s", lambda v: f"{v / 1e3:.3f}"),
}


def raw_values(d, mode):
    """ns_per_op of one mode's runs, sorted so that the values shown (ns/op,
    or a rate for the echo and sleepers rows) ascend."""
    return sorted(d[mode], reverse=raw_kind(d) in ("echo", "sleepers"))


def count_method(data):
    methods = {d["method"] for d in data
               if not is_main(d) or d["prog"] == "pipe_ring"}
    if "perf" in methods:
        return ("System calls for these rows (and for pipe_ring above) are "
                "counted with `perf stat -e "
                "raw_syscalls:sys_enter` (every system call entry of the "
                "program, counted in the kernel: exact, and without strace's "
                "slowdown; the calls named are `syscalls:sys_enter_NAME` "
                "events for a fixed list of calls, the rest are only in the "
                "total), as (run − baseline) / ops: for the echo server only "
                "the server is counted, never the load generator, and the "
                "baseline is the same connections set up and closed without "
                "requests.")
    if "strace" in methods:
        return ("System calls for these rows (and for pipe_ring above) are "
                "counted under `strace -f "
                "-c` (perf did not work here), as (run − baseline) / ops.")
    return ""


def io_section(data):
    """The tables of the rows added for issue 3 (blocking I/O, timers)."""
    tables = [t for t in (echo_table(data), sleepers_table(data),
                          idle_table(data)) if t]
    if not tables:
        return []
    lines = [
        "## Blocking I/O, timers and idle (issue 3)",
        "",
        "`pipe_ring` is in the table above. The echo rows run "
        "`bench/echo_server` natively or preloaded and drive it with "
        "`bench/echo_load`, which always runs natively (one epoll thread, "
        "a closed loop of 64-byte requests on every connection; after a "
        "warm-up the requests completed in a fixed window are counted, "
        "latency = request sent to whole echo back). gmpt/native is the "
        "ratio of requests (or wake-ups) per second per pair: above 1x gmpt "
        "does more.",
        "",
    ]
    for t in tables:
        lines += [t, ""]
    lines += [
        "- **echo, C connections** — C connections, one server thread "
        "each; requests/s over the window and the latency percentiles "
        "in µs. Syscalls per request: the server only, from a separate run "
        "of 100 connections × 1000 requests.",
        "- **sleepers** — 1000 threads each loop `nanosleep(1 ms)`; "
        "wake-ups per second in all, and lateness = time slept − 1 ms, "
        "percentiles in µs.",
        "- **idle** — the echo server holding 1000 connections that send "
        "nothing: the server's CPU time per second of wall time (its process "
        "CPU clock; utime+stime from /proc/PID/stat, which counts whole "
        "10 ms ticks, for comparison).",
        "",
    ]
    m = count_method(data)
    if m:
        lines += [m, ""]
    return lines


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
        "Rows without a `GMPT_TLS` label use the default, per-thread TLS: "
        "each thread has its own glibc thread control block, and every "
        "switch between threads moves the fs base. Without FSGSBASE (this "
        "machine) that is an `arch_prctl` system call, about "
        f"{fmt_ns(prctl_ns)} ns, once per switch: the rows dominated by "
        "switches (create_join, yield with one P, pingpong, pipe_ring, "
        "sleepers) lose most of gmpt's advantage or fall behind native, "
        "while the I/O-bound echo rows keep theirs. The `GMPT_TLS=shared` "
        "rows show the same programs with threads sharing their kernel "
        "thread's TLS (errno still saved per thread): the cost of a switch "
        "without the system call. On a kernel and CPU with FSGSBASE the "
        "per-thread switch is one `wrfsbase` instruction.",
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
        "- **pipe_ring** — 64 threads in a ring of pipes pass a 1-byte token "
        "N times (blocking `read`, then `write` to the next pipe). One op = "
        "one hop.",
        "",
    ]
    lines += io_section(data)
    lines += [
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
        "The echo server by hand (the load generator always runs natively; "
        "each side needs about one fd per connection, so raise `ulimit -n`):",
        "",
        "```sh",
        "ulimit -n 20000",
        "LD_PRELOAD=$PWD/build/libgmpt.so build/bench/echo_server /tmp/echo.port &",
        "build/bench/echo_load -P /tmp/echo.port -c 2000 -w 2 -d 10   # closed loop",
        "build/bench/echo_load -P /tmp/echo.port -c 1000 -i 5         # idle CPU",
        "kill %1",
        "```",
        "",
        "Sizes used for these tables: "
        + "; ".join(size_text(d) for d in data)
        + ".",
        "",
        "<details><summary>Raw results per run</summary>",
        "",
        "| benchmark | unit | native | gmpt |",
        "|---|---|---|---|",
    ]
    for d in data:
        unit, conv = RAW_UNITS.get(raw_kind(d), RAW_UNITS["prog"])
        lines.append(f"| {d['label']} | {unit} | "
                     f"{', '.join(conv(v) for v in raw_values(d, 'native'))} | "
                     f"{', '.join(conv(v) for v in raw_values(d, 'gmpt'))} |")
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
    for t in (echo_table(data), sleepers_table(data), idle_table(data)):
        if t:
            print()
            print(t)
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
