#!/usr/bin/env python3
"""Tables, docs/perf.md and plots from bench/bench_run.py's results.json.

scripts/bench runs this after the runner; by hand it regenerates the report
from a kept results file:

  bench/bench_report.py --results WORK/results.json [--write docs/perf.md
                        --plots docs/perf]

Without --write it prints the tables only.  The plots need gnuplot (Debian's
gnuplot-nox); without it the report says they were not drawn.  Standard
library only.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

COLS = ("native", "gmpt", "shared", "go")
HEAD = {
    "native": "native (NPTL)",
    "gmpt": "gmpt",
    "shared": "gmpt, shared TLS",
    "go": "Go",
}
# The columns' colours in the plots.
COLOUR = {"native": "#4c72b0", "gmpt": "#dd8452", "shared": "#c44e52", "go": "#55a868"}

# ---- what each benchmark exercises ------------------------------------------------
MECHANISM = {
    "servers": (
        "Debian's own binaries, the server preloaded and the clients native, on "
        "127.0.0.1; every run starts its own server (MariaDB on a fresh copy of a "
        "datadir prepared once with 4 tables x 10,000 rows) and stops it after the "
        "load. MariaDB runs a thread per connection, so the client threads are its "
        "threads; InnoDB's page I/O goes through io_uring (native aio). Apache's "
        "children each run 256 threads (mpm_worker: a thread per connection; "
        "mpm_event: idle keep-alive connections wait in the listener's epoll instead)."),
    "create_join": (
        "Natively every create is a `clone3` of a new kernel task; the child "
        "sets up its robust list, rseq area and signal mask with system calls "
        "and must be scheduled by the kernel, and the joiner sleeps in `futex` "
        "until the kernel clears the child's tid. Under gmpt a create takes a "
        "G and a stack from the P's free pools and makes it runnable; the "
        "joiner parks, and the child runs, exits and readies the joiner; no "
        "kernel task is created, and the G, its stack and (per-G TLS) its "
        "TCB go back to the pools for the next create; with per-G TLS the "
        "TCB is reset for the new thread (glibc's `_dl_deallocate_tls` and "
        "`_dl_allocate_tls`) and every switch moves the fs base. Go's `go "
        "f()` takes a g and its small stack (2 KiB to start, grown by copying) "
        "from the P's free list, puts it "
        "in `runnext`, and the receive that stands for the join parks main "
        "until the goroutine's send readies it."
    ),
    "yield": (
        "Natively `sched_yield` is a system call into the kernel scheduler; "
        "with 2 threads on 2 CPUs each call usually finds nothing else to run "
        "on its CPU and simply returns, so the cost is the bare syscall. "
        "Under gmpt `sched_yield` is interposed: the G goes back on a run "
        "queue and the M runs the next runnable G (or the same one when there "
        "is none) with a user-level context switch. Go's `runtime.Gosched` "
        "puts the goroutine on the global run queue and calls the scheduler."
    ),
    "pingpong": (
        "Natively each one-way handoff is a `futex` wake by the signaller and "
        "a `futex` wait by the other side, and the woken thread has to be "
        "scheduled by the kernel (often on the other CPU, with an IPI to get "
        "it out of idle). Under gmpt the signal readies the waiter into the "
        "signaller's `runnext` and the wait parks the signaller, so a handoff "
        "is one user-level switch on the same P. Go's `sync.Cond` does the "
        "same with its notify list and the runtime's semaphores."
    ),
    "mutex_contended": (
        "Natively an uncontended lock is one atomic instruction, and a thread "
        "keeps its CPU for a whole time slice, so most of the 64 threads' "
        "lock operations run back to back without contention; a `futex` call "
        "happens only when the holder and a waiter on the other CPU overlap. "
        "Under gmpt the same fast path applies; a contended lock spins "
        "briefly, then parks the G (a user-level switch) and the unlock "
        "readies one waiter. Go's `sync.Mutex` spins, then parks on a "
        "semaphore, and hands the lock over directly after 1 ms of waiting "
        "(starvation mode)."
    ),
    "pipe_ring": (
        "64 threads pass a 1-byte token round a ring of pipes, one blocking "
        "`read` and one `write` per hop, and only the thread holding the "
        "token can run. Natively every hop is a wakeup of the next thread "
        "sleeping in `read` and a kernel context switch (or an IPI to the "
        "other CPU). Under gmpt a pipe `read` or `write` is an io_uring "
        "operation: the G queues it and parks, and the M that runs out of "
        "Gs submits the queue with one `io_uring_enter`, in which the "
        "writer's write completes and, with it, the next thread's pending "
        "read. Go's `os.Pipe` files are non-blocking and registered with "
        "the netpoller: a `read` that finds the pipe empty (`EAGAIN`) parks "
        "the goroutine until `epoll` reports the pipe readable."
    ),
    "sleepers": (
        "1000 threads each call `nanosleep(1 ms)` in a loop: a million timer "
        "expiries per second asked of the machine's CPUs. Natively each "
        "expiry is a timer interrupt, a wakeup and a context switch, and the "
        "threads fall behind; under gmpt a sleep puts the G on its P's "
        "timer heap and an expiry is a user-level switch, the Ms sleeping in "
        "the kernel only until the earliest timer. Go's `time.Sleep` is "
        "the same design: per-P timer heaps, run by the scheduler."
    ),
    "echo": (
        "A thread-per-connection echo server (`bench/echo_server`: one "
        "pthread with a 64 KiB stack per accepted connection, blocking "
        "`read`/`write`; its Go twin: one goroutine per connection from "
        "`net.Listen`), driven by `bench/echo_load`, which always runs "
        "natively: one epoll thread, a closed loop per connection (a 64-byte "
        "request, wait for its echo, the next one). The load generator "
        "shares the 2 CPUs with the server. Natively every request wakes the "
        "connection's thread in the kernel. Under gmpt the sockets are "
        "non-blocking underneath: a `read` that finds no data parks the G on "
        "the netpoller (the fd registered once, edge-triggered), one "
        "`epoll_wait` readies every connection that has data, and one M "
        "serves them in a row. Go's netpoller works the same way."
    ),
    "idle": (
        "The echo server with 1000 connections that send nothing (after one "
        "round trip each, so all are accepted and their threads wait in "
        "`read`); the server's CPU time over the idle window, from its "
        "process CPU clock, per second. Natively 1000 threads blocked in "
        "`read` cost nothing; under gmpt and Go whatever the runtime does "
        "while nothing happens (netpoller, sysmon, timers) shows here."
    ),
    "parked": (
        "N threads each wait on one condition variable; the time from the "
        "first create until all N wait, per thread, and the memory they "
        "hold while they wait. A native thread is a kernel task (its kernel "
        "stack, 16 KiB, shows in KernelStack, not in RSS) and a stack "
        "mapping with a guard page, the thread's TCB and TLS at its top. A "
        "gmpt thread is a G record and a stack mapping of glibc's default "
        "size (8 MiB of address space, of which only touched pages count); "
        "with per-G TLS also its own TCB and static TLS block from the "
        "loader. Every stack being its own 8 MiB mapping, each needs its own "
        "page-table page (4 KiB) for its first touched page, native and "
        "gmpt alike. A goroutine is a g record and a 2 KiB stack (grown by "
        "copying when needed) carved "
        "from the heap, so many share pages and page tables."
    ),
}

# Why a system call (or fault) shows up more in one column than another.
CALL_WHY = {
    "arch_prctl": "the per-G TLS switch: moving the fs base to the next G's "
                  "TCB, a system call without FSGSBASE",
    "futex": "Ms sleeping in and woken from the kernel: an idle M woken to look "
             "for work (`wakep`, as in Go) that finds none and sleeps again",
    "page-faults": "first touches of fresh memory (new stacks, TCBs, heap)",
    "context-switches": "kernel context switches",
    "io_uring_enter": "submitting the queued pipe operations to io_uring",
    "sched_yield": "an M spinning for work, backing off",
    "nanosleep": "an M spinning for work, backing off",
    "madvise": "stacks going back to the pool give their pages back",
    "mmap": "new stack mappings",
    "mprotect": "guard pages of new stack mappings",
    "munmap": "stack mappings returned",
    "epoll_wait": "the netpoller",
    "epoll_pwait": "the netpoller",
    "epoll_ctl": "registering fds with the netpoller",
    "read": "`read` calls (one that finds no data comes before every park on "
            "the netpoller)",
    "write": "`write` calls",
    "rt_sigprocmask": "signal mask changes",
    "clone3": "new kernel tasks",
    "clone": "new kernel tasks",
    "tgkill": "signals to other Ms",
    "timer_settime": "timer updates",
    "getpid": "`getpid` calls",
}


# ---- numbers ------------------------------------------------------------------------
def fmt_ns(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_num(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(v):
    if v >= 10:
        return f"{v:.0f}x"
    if v >= 1:
        return f"{v:.1f}x"
    return f"{v:.2f}x"


def med(vals):
    return statistics.median(vals) if vals else None


class Row:
    """One row of results.json with its statistics."""

    def __init__(self, spec, res, counts, machine, base):
        self.__dict__.update(spec)
        self.res = res
        self.counts = counts or {}
        self.machine = machine
        self.base = base  # the directory the count files are relative to

    def ok(self, col):
        return [r for r in self.res.get(col, []) if r["status"] == "ok"]

    def vals(self, col):
        return [r["value"] for r in self.ok(col)]

    def med(self, col):
        return med(self.vals(col))

    def kv(self, col, key):
        out = []
        for r in self.ok(col):
            try:
                out.append(float(r["kv"][key]))
            except (KeyError, ValueError):
                pass
        return out

    def kv_med(self, col, key):
        return med(self.kv(col, key))

    def problem(self, col):
        """'FAILED: why' / 'skipped: why' when a column has no result."""
        if self.ok(col):
            return None
        recs = self.res.get(col, [])
        fails = [r for r in recs if r["status"] == "fail"]
        if fails:
            return "FAILED: " + fails[0].get("why", "?")
        skips = [r for r in recs if r["status"] == "skip"]
        if skips:
            return "skipped: " + skips[0].get("why", "?")
        return "not run"

    def failures(self, col):
        return [r for r in self.res.get(col, []) if r["status"] == "fail"
                and not r.get("why", "").startswith("not run again")]

    def rounds(self, col):
        return {r["round"]: r["value"] for r in self.ok(col)}

    def ratios(self, col, ref="native"):
        """ref time / col time, round by round (> 1: col is faster, or for
        the rate rows does more)."""
        a, b = self.rounds(ref), self.rounds(col)
        return [a[k] / b[k] for k in sorted(a) if k in b and b[k] > 0]

    def ratio(self, col, ref="native"):
        return med(self.ratios(col, ref))

    def par(self, col):
        """How many of the row's threads run at once in a column: the
        per-thread time of an op is the wall time per op times this."""
        cpus = int(self.machine.get("nproc") or 1)
        if col != "native" and self.procs:
            cpus = min(cpus, int(self.procs))
        return max(1, min(int(self.threads or 1), cpus))

    def rounds_run(self):
        return max((len(self.res.get(c, [])) for c in COLS), default=0)

    # -- counts --
    def per_op(self, col):
        """(syscalls, {name: n}, page faults, context switches) per op, or None."""
        c = self.counts.get(col)
        if not c:
            return None
        # Parsed counts (results.json), or the stems of count files.
        base, run = c["base"], c["run"]
        if isinstance(base, str):
            base = parse_counts(os.path.join(self.base, base))
        if isinstance(run, str):
            run = parse_counts(os.path.join(self.base, run))
        try:
            ops = int(c.get("ops") or 0)
        except ValueError:
            ops = 0
        if not base or not run or ops <= 0:
            return None
        per = {}
        for k in set(base[1]) | set(run[1]):
            d = (run[1].get(k, 0) - base[1].get(k, 0)) / ops
            if abs(d) >= 0.005:
                per[k] = d
        ev = {}
        for k in ("page-faults", "context-switches"):
            if k in run[2] and k in base[2]:
                ev[k] = max(0.0, (run[2][k] - base[2][k]) / ops)
        return max(0.0, (run[0] - base[0]) / ops), per, ev.get("page-faults"), ev.get(
            "context-switches")


def parse_counts(stem):
    """(total syscalls, {call: n}, {event: n}) from perf stat -x, output
    (stem.perf) or an strace -c summary (stem.txt)."""
    if os.path.exists(stem + ".perf"):
        total, per, ev = None, {}, {}
        with open(stem + ".perf", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) < 3 or line.startswith("#"):
                    continue
                try:
                    n = int(parts[0])
                except ValueError:
                    continue
                name = parts[2]
                if name == "raw_syscalls:sys_enter":
                    total = n
                elif name.startswith("syscalls:sys_enter_"):
                    per[name[len("syscalls:sys_enter_"):]] = n
                else:
                    ev[name] = n
        return (total, per, ev) if total is not None else None
    if os.path.exists(stem + ".txt"):
        total, per = None, {}
        with open(stem + ".txt", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 5 or parts[0].startswith(("%", "-")):
                    continue
                try:
                    calls = int(parts[3])
                except ValueError:
                    continue
                if parts[-1] == "total":
                    total = calls
                else:
                    per[parts[-1]] = per.get(parts[-1], 0) + calls
        return (total if total is not None else sum(per.values()), per, {})
    return None


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    rows = [Row(spec, doc["results"].get(spec["id"], {}), doc["counts"].get(spec["id"]),
                doc["machine"], base) for spec in doc["rows"]]
    return doc, rows


# ---- cells --------------------------------------------------------------------------------
def short_problem(row, col):
    p = row.problem(col)
    if not p:
        return None
    return "FAILED" if p.startswith("FAILED") else ("skipped" if p.startswith("skipped")
                                                     else p)


def ratio_cell(row, col, ref="native"):
    rs = row.ratios(col, ref)
    if not rs:
        return short_problem(row, col) or short_problem(row, ref) or "–"
    s = f"**{fmt_ratio(med(rs))}**"
    if len(rs) > 1:
        s += f" ({fmt_ratio(min(rs))}–{fmt_ratio(max(rs))})"
    return s


def value_cell(row, col, conv=fmt_ns, key=None):
    p = short_problem(row, col)
    if p:
        return p
    v = row.kv_med(col, key) if key else row.med(col)
    return conv(v) if v is not None else "–"


def table(head, align, lines):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def micro_tables(rows):
    rs = [r for r in rows if r.group == "micro"]
    if not rs:
        return []
    t1 = table(["benchmark"] + [f"{HEAD[c]} ns/op" for c in COLS],
               ["---"] + ["---:"] * 4,
               [[r.label] + [value_cell(r, c) for c in COLS] for r in rs])
    t2 = table(["benchmark", "gmpt vs native", "gmpt shared TLS vs native", "Go vs native",
                "gmpt vs Go", "gmpt shared TLS vs Go"],
               ["---"] * 6,
               [[r.label, ratio_cell(r, "gmpt"), ratio_cell(r, "shared"), ratio_cell(r, "go"),
                 ratio_cell(r, "gmpt", "go"), ratio_cell(r, "shared", "go")] for r in rs])
    return [t1, t2]


def parked_tables(rows):
    rs = [r for r in rows if r.group == "parked"]
    if not rs:
        return []

    def us(v):
        return fmt_num(v / 1e3, 1) if v is not None else "–"

    def memcell(r, c):
        p = short_problem(r, c)
        if p:
            return p
        rss = r.kv_med(c, "rss_kib_per_thread")
        kern = sum(x for x in (r.kv_med(c, "pte_kib_per_thread"),
                               r.kv_med(c, "kstack_kib_per_thread")) if x and x > 0)
        return f"{fmt_num(rss, 1)} + {fmt_num(kern, 1)}"

    t1 = table(["threads"] + [f"{HEAD[c]} µs/thread" for c in COLS], ["---:"] * 5,
               [[f"{r.n:,}"] + [value_cell(r, c, us) for c in COLS] for r in rs])
    t2 = table(["threads"] + [f"{HEAD[c]} KiB/thread" for c in COLS], ["---:"] * 5,
               [[f"{r.n:,}"] + [memcell(r, c) for c in COLS] for r in rs])
    t3 = table(["threads"] + [f"{HEAD[c]} µs/thread" for c in COLS], ["---:"] * 5,
               [[f"{r.n:,}"] + [value_cell(r, c, lambda v: fmt_num(v / 1e3, 1) if v >= 0
                                           else "not measured", "wake_ns_per_thread")
                                for c in COLS] for r in rs])
    return [t1, t2, t3]


def sleepers_table(rows):
    rs = [r for r in rows if r.prog == "sleepers"]
    if not rs:
        return []

    def lat(r, c):
        p = short_problem(r, c)
        if p:
            return p
        return (f"{fmt_num(r.kv_med(c, 'p50_us'), 0)} / "
                f"{fmt_num(r.kv_med(c, 'p99_us'), 0)}")

    return [table(["timers"] + [f"{HEAD[c]} wake-ups/s" for c in COLS]
                  + ["gmpt vs native", "shared vs native", "Go vs native"],
                  ["---"] + ["---:"] * 4 + ["---"] * 3,
                  [[r.label] + [value_cell(r, c, fmt_num, "wakes_per_s") for c in COLS]
                   + [ratio_cell(r, c) for c in ("gmpt", "shared", "go")] for r in rs]),
            table(["lateness p50 / p99 µs"] + [HEAD[c] for c in COLS], ["---"] + ["---:"] * 4,
                  [[r.label] + [lat(r, c) for c in COLS] for r in rs])]


def echo_tables(rows):
    rs = [r for r in rows if r.kind == "echo"]
    if not rs:
        return []

    def lat(r, c):
        p = short_problem(r, c)
        if p:
            return p
        return " / ".join(fmt_num(r.kv_med(c, k), 0) for k in ("p50_us", "p99_us", "p999_us"))

    return [table(["echo server"] + [f"{HEAD[c]} req/s" for c in COLS]
                  + ["gmpt vs native", "shared vs native", "Go vs native"],
                  ["---"] + ["---:"] * 4 + ["---"] * 3,
                  [[r.label] + [value_cell(r, c, fmt_num, "rps") for c in COLS]
                   + [ratio_cell(r, c) for c in ("gmpt", "shared", "go")] for r in rs]),
            table(["latency p50 / p99 / p999 µs"] + [HEAD[c] for c in COLS],
                  ["---"] + ["---:"] * 4,
                  [[r.label] + [lat(r, c) for c in COLS] for r in rs])]


def server_rate(r, c):
    if r.prog == "mariadbd":
        return f"{fmt_num(r.kv_med(c, 'tps'))} tps"
    return f"{fmt_num(r.kv_med(c, 'rps'))} req/s"


def server_p99(r, c):
    v = r.kv_med(c, "p99_ms")
    return f"{v:.1f}" if v is not None else "–"


def server_tables(rows):
    """MariaDB under sysbench, Apache under wrk: native and gmpt only."""
    cols = ("native", "gmpt")

    def lat(r, c, keys):
        p = short_problem(r, c)
        if p:
            return p
        return " / ".join(f"{r.kv_med(c, k):.1f}" if r.kv_med(c, k) is not None else "–"
                          for k in keys)

    out = []
    db = [r for r in rows if r.kind == "server" and r.prog == "mariadbd"]
    if db:
        out.append(table(["sysbench"] + [f"{HEAD[c]} tps" for c in cols]
                         + ["gmpt vs native"] + [f"{HEAD[c]} p95 / p99 ms" for c in cols],
                         ["---"] + ["---:"] * 2 + ["---"] + ["---:"] * 2,
                         [[r.label] + [value_cell(r, c, fmt_num, "tps") for c in cols]
                          + [ratio_cell(r, "gmpt")]
                          + [lat(r, c, ("p95_ms", "p99_ms")) for c in cols] for r in db]))
    web = [r for r in rows if r.kind == "server" and r.prog == "apache2"]
    if web:
        out.append(table(["wrk"] + [f"{HEAD[c]} req/s" for c in cols]
                         + ["gmpt vs native"] + [f"{HEAD[c]} p50 / p99 ms" for c in cols],
                         ["---"] + ["---:"] * 2 + ["---"] + ["---:"] * 2,
                         [[r.label] + [value_cell(r, c, fmt_num, "rps") for c in cols]
                          + [ratio_cell(r, "gmpt")]
                          + [lat(r, c, ("p50_ms", "p99_ms")) for c in cols] for r in web]))
    return out


def idle_table(rows):
    rs = [r for r in rows if r.kind == "idle"]
    if not rs:
        return []
    return [table(["idle server"] + [f"{HEAD[c]} CPU ms/s" for c in COLS],
                  ["---"] + ["---:"] * 4,
                  [[r.label] + [value_cell(r, c, lambda v: f"{v:.3f}", "cpu_ms_per_s")
                                for c in COLS] for r in rs])]


def top_calls(per, n=3):
    items = [(k, v) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.01][:n]
    return ", ".join(f"{k} {v:.2f}" for k, v in items)


def count_tables(rows):
    rs = [r for r in rows if any(r.per_op(c) for c in COLS)]
    if not rs:
        return []

    def sc(r, c):
        x = r.per_op(c)
        if not x:
            return "–"
        t = top_calls(x[1])
        return f"{x[0]:.2f}" + (f" ({t})" if t and x[0] >= 0.05 else "")

    def ev(r, c):
        x = r.per_op(c)
        if not x:
            return "–"
        return f"{fmt_ev(x[3])} / {fmt_ev(x[2])}"

    return [table(["system calls per op"] + [HEAD[c] for c in COLS], ["---"] + ["---"] * 4,
                  [[r.label] + [sc(r, c) for c in COLS] for r in rs]),
            table(["context switches / page faults per op"] + [HEAD[c] for c in COLS],
                  ["---"] + ["---:"] * 4, [[r.label] + [ev(r, c) for c in COLS] for r in rs])]


def fmt_ev(v):
    if v is None:
        return "–"
    return f"{v:.2f}" if v < 100 else f"{v:,.0f}"


# ---- explanations ---------------------------------------------------------------------------
def unit_cost(name, m):
    """The measured cost in ns of one call or event, or None."""
    if name == "arch_prctl":
        return m.get("arch_prctl_ns")
    if name == "page-faults":
        return m.get("page_fault_ns")
    if name == "context-switches":
        return None  # inside the system calls that block
    return m.get("syscall_ns")


def extra_work(row, col, ref):
    """What col does per op that ref does not: [(name, extra per op, ns)]."""
    a, b = row.per_op(col), row.per_op(ref)
    if not a or not b:
        return []
    names = set(a[1]) | set(b[1])
    items = []
    for k in names:
        d = a[1].get(k, 0.0) - b[1].get(k, 0.0)
        if d >= 0.05:
            c = unit_cost(k, row.machine)
            items.append((k, d, d * c if c else None))
    if a[2] is not None and b[2] is not None and a[2] - b[2] >= 0.05:
        d = a[2] - b[2]
        c = unit_cost("page-faults", row.machine)
        items.append(("page-faults", d, d * c if c else None))
    # Calls counted one by one are in the total too; the rest, unnamed.
    named_a = sum(v for v in a[1].values() if v > 0)
    named_b = sum(v for v in b[1].values() if v > 0)
    other = (a[0] - named_a) - (b[0] - named_b)
    if other >= 0.1:
        c = row.machine.get("syscall_ns")
        items.append(("other system calls", other, other * c if c else None))
    items.sort(key=lambda t: -(t[2] or 0))
    return items


def loss_text(row, col, ref):
    """Why col is slower than ref on this row, from the counts."""
    items = extra_work(row, col, ref)
    if not items:
        if row.per_op(col) and row.per_op(ref):
            return (f"The counts show no system call or page fault that {HEAD[col]} makes "
                    f"and {HEAD[ref]} does not: the difference is in user space.")
        return ""
    parts = []
    total = 0.0
    for k, d, ns in items[:4]:
        what = "page faults" if k == "page-faults" else f"`{k}`"
        s = f"{what} +{d:.2f}"
        if ns:
            s += f" (≈{fmt_ns(ns)} ns)"
            total += ns
        why = CALL_WHY.get(k)
        if why:
            s += f": {why}"
        parts.append(s)
    s = f"Per op {HEAD[col]} makes more of: " + "; ".join(parts)
    # And what it saves: the calls the other side makes more of.
    saved = 0.0
    fewer = []
    for k, d, ns in extra_work(row, ref, col)[:2]:
        what = "page faults" if k == "page-faults" else f"`{k}`"
        fewer.append(f"{what} −{d:.2f}" + (f" (≈{fmt_ns(ns)} ns)" if ns else ""))
        saved += ns or 0.0
    if fewer:
        s += "; and fewer of: " + ", ".join(fewer)
    s += "."
    t_col, t_ref = row.med(col), row.med(ref)
    if total and t_col and t_ref and row.group in ("micro", "parked"):
        # Per-thread time per op: wall time per op times the threads that
        # run at once.
        d = t_col * row.par(col) - t_ref * row.par(ref)
        if d > 0:
            net = (f"≈{fmt_ns(total)} ns more per op" + (
                f" and ≈{fmt_ns(saved)} ns less, net ≈{fmt_ns(total - saved)} ns"
                if saved else ""))
            s += (f" At the measured costs (each call timed alone, best of 3) that is {net}, "
                  f"against {fmt_ns(d)} ns by which each op takes a thread longer.")
    return s

MUTEX_WHY = (
    "All columns spend nearly all their time in the lock and unlock themselves, the "
    "lock's cache line moving between the 2 CPUs (a profile shows glibc's "
    "`pthread_mutex_lock`/`unlock` natively, gmpt's `lock_common`/`release_word` "
    "preloaded), and none makes system calls here. gmpt's uncontended path is the "
    "same compare-and-swap on glibc's lock word; when the lock is taken it spins "
    "briefly and then parks the G, which the unlock must ready, where a native "
    "thread waits in the kernel only in the rare overlap. The difference is a few "
    "ns per op and varies from run to run (see the range).")

WAKE_TEXT = (
    "Natively each waiter woken is a futex wake and a kernel context switch, and each "
    "exit a kernel task torn down. Under gmpt each is a G made runnable and a user-level "
    "switch, but each exiting G's stack goes back to the pool, and past the 64 hottest "
    "it gives its pages back with `madvise(MADV_DONTNEED)`: a system call and a TLB "
    "shootdown of the other CPU, which a profile at 50,000 threads shows as most of "
    "gmpt's wake phase on this VM (with the page faults of the next stacks). At "
    "1,000,000 waiters a profile showed gmpt's `waitq_wake` (the scan of a wait-queue "
    "bucket) taking 98% of the time for over ten minutes: that size exits without "
    "waking its threads, and waking a million waiters at once is a known gmpt "
    "weakness. A goroutine's stack goes back to Go's heap without a system call.")

# Hand-written reasons for the known losses, by (row prefix, column).
KNOWN_LOSS = {
    ("create_join", "gmpt"): (
        "With per-G TLS each create also resets the pooled TCB for the new thread "
        "(glibc's `_dl_deallocate_tls` and `_dl_allocate_tls`, which clear the static "
        "TLS block and the DTV), and the switches to the child and back each move the "
        "fs base ({fs})."),
    ("yield_p1", "gmpt"): (
        "With one P the two threads share one M, so every yield is a switch between Gs "
        "and, with per-G TLS, a move of the fs base ({fs}); with two Ps each thread keeps its own M "
        "and a yield finds nothing else to run, so no switch is made (the row above)."),
    ("pingpong", "gmpt"): (
        "Every handoff is a switch between Gs, and with per-G TLS each switch moves "
        "the fs base ({fs})."),
    ("pingpong_p1", "gmpt"): (
        "Every handoff is a switch between Gs, and with per-G TLS each switch moves "
        "the fs base ({fs})."),
    ("pipe_ring", "gmpt"): (
        "Each hop is a switch between Gs (with per-G TLS a move of the fs base: {fs}) "
        "and an "
        "`io_uring_enter` by the M that runs out of Gs; natively a hop is a `read` "
        "and a `write`, the kernel's wakeup being part of them."),
    ("pipe_ring", "shared"): (
        "Each hop still needs the kernel once (`io_uring_enter`, in which the write "
        "and the next thread's read complete) besides the user-level switch; natively "
        "a hop is a `read` and a `write` and a kernel switch: on two CPUs the kernel's "
        "path is nearly as short."),
    ("sleepers", "gmpt"): (
        "Every expiry is a switch to the woken G: with per-G TLS a move of the fs base "
        "each ({fs}), so the Ms keep up with fewer expiries per second than with "
        "shared TLS."),
    ("mutex_contended", "gmpt"): MUTEX_WHY,
    ("mutex_contended", "shared"): MUTEX_WHY,
    ("parked", "gmpt"): (
        "Starting a thread costs page faults here (about "
        "{pf} ns each on this VM, more with a new page-table page): the new stack's "
        "top page, its page-table page and, with per-G TLS, the pages of a new TCB; "
        "so does a native thread, whose stack also comes fresh from `mmap`. With "
        "per-G TLS each G also holds a TCB and its static TLS block (the extra KiB "
        "per thread against shared TLS)."),
    ("parked", "shared"): (
        "Starting a thread costs page faults here (about {pf} ns each on this VM, more "
        "with a new page-table page): the new stack's top page and its page-table page, "
        "as for a native thread, whose stack also comes fresh from `mmap`."),
    ("echo", "gmpt"): (
        "Each request costs gmpt a `read`, a `write` and the `read` that finds the "
        "socket empty before the G parks (Go's model: readiness is learnt from "
        "`EAGAIN`), plus its share of an `epoll_wait`, and with per-G TLS the switch "
        "to the connection's G moves the fs base ({fs}), "
        "where a native request is a `read` and a `write`.{few}"),
    ("echo", "shared"): (
        "Each request costs gmpt a `read`, a `write` and the `read` that finds the "
        "socket empty before the G parks, plus its share of an `epoll_wait`, where a "
        "native request is a `read` and a `write`.{few}"),
}

# Added to the echo texts at low connection counts.
FEW_CONNS = (" With few connections few requests share each `epoll_wait`, so its cost "
             "is not amortised.")

# Where gmpt (shared TLS, its best case) loses to Go, and why.
KNOWN_GO = {
    "create_join": (
        "A goroutine starts on a 2 KiB stack cut from the heap and a g from the P's "
        "free list; a gmpt thread is a full pthread: its stack is a mapping of "
        "glibc's default size from the pool, and its start and exit do what glibc's "
        "do (signal mask, cancellation and cleanup state, TSD, the thread record)."),
    "pingpong": (
        "Go's handoff is a goroutine switch that saves 3 registers (its calling "
        "convention leaves the rest to the caller); gmpt's switch saves the C "
        "callee-saved registers, the signal mask when the Gs' masks differ, and "
        "errno, and goes through the pthread condvar protocol (glibc-compatible "
        "mutex and condvar words)."),
    "pingpong_p1": (
        "Go's handoff is a goroutine switch that saves 3 registers; gmpt's switch "
        "saves the C callee-saved registers and errno and goes through the pthread "
        "condvar protocol."),
    "yield": (
        "Both are a user-level switch to the same goroutine or G; the difference is "
        "the length of each scheduler's path."),
    "yield_p1": (
        "Both are a user-level switch; the difference is the length of each "
        "scheduler's path."),
    "mutex_contended": (
        "Both spin and then park; the difference is how long each spins before it "
        "parks and how waiters are handed the lock."),
    "pipe_ring": (
        "Go learns readiness from `EAGAIN` and `epoll`; gmpt hands each pipe "
        "operation to io_uring."),
    "parked": (
        "A goroutine is a g record (about 400 bytes) and a 2 KiB stack cut from the "
        "heap, so thousands share one page-table page; a gmpt thread has its own "
        "stack mapping (one touched page and one page-table page at least) and a G "
        "record, and with per-G TLS a TCB; and every page touched first costs a page "
        "fault, expensive on this VM."),
    "echo": (
        "Go's net package reads until `EAGAIN` and parks on its netpoller just as "
        "gmpt does (the counts show both making about two `read`s and a `write` per "
        "request, and their share of an `epoll_wait`); the difference is in how each "
        "scheduler hands the connections one poll readies to its Ps and Ms"),
    "sleepers": (
        "Both keep timers in per-P heaps; the difference is in how each wakes the "
        "Ms and how many expiries one pass of the scheduler runs."),
}


# The known reasons that name a system call hold only where the counts (when
# there are any) show that call: the text is left out otherwise.
NEEDS_CALL = {"arch_prctl": "`arch_prctl`", "io_uring_enter": "`io_uring_enter`"}


def fs_switch(m):
    """What moving the fs base costs on the machine the rows ran on: gmpt
    uses wrfsbase where the kernel enabled FSGSBASE, arch_prctl otherwise."""
    if m.get("wrfsbase_ns"):
        return f"a `wrfsbase` instruction, {fmt_ns(m.get('wrfsbase_ns'))} ns here"
    return f"an `arch_prctl` system call, {fmt_ns(m.get('arch_prctl_ns'))} ns here"


def known(table, row, col=None, ref="native"):
    for key in (row.id, row.prog, row.group, row.kind):
        k = (key, col) if col else key
        if k not in table:
            continue
        text = table[k].format(pf=fmt_ns(row.machine.get("page_fault_ns")),
                               ap=fmt_ns(row.machine.get("arch_prctl_ns")),
                               fs=fs_switch(row.machine),
                               few=FEW_CONNS if (row.n or 0) <= 500 else "")
        a, b = (row.per_op(col), row.per_op(ref)) if col else (None, None)
        if a and b:
            for call, mark in NEEDS_CALL.items():
                if mark in text and a[1].get(call, 0.0) - b[1].get(call, 0.0) < 0.1:
                    return ""
        return text
    return ""


def verdict(row, col, ref="native"):
    """'gmpt is **3.0x faster** than native (range ...)', or None."""
    r = row.ratio(col, ref)
    if r is None:
        return None
    rs = row.ratios(col, ref)
    spread = f" (range {fmt_ratio(min(rs))}–{fmt_ratio(max(rs))} over {len(rs)} rounds)" \
        if len(rs) > 1 else " (one round)"
    if r < 0.95 and not (row.kind in ("echo", "server") or row.prog == "sleepers") \
            and len(rs) > 1:
        # "N times slower": the range as times, in the same terms.
        ts = [1 / x for x in rs]
        spread = (f" (it took {fmt_ratio(min(ts))}–{fmt_ratio(max(ts))} {HEAD[ref]}'s time "
                  f"over {len(rs)} rounds)")
    if 0.95 <= r <= 1.05:
        return f"{HEAD[col]} is on par with {HEAD[ref]} ({fmt_ratio(r)}){spread}"
    if row.kind in ("echo", "server") or row.prog == "sleepers":
        what = ("wake-ups per second" if row.prog == "sleepers" else
                "transactions per second" if row.prog == "mariadbd" else "requests per second")
        return f"{HEAD[col]} makes **{fmt_ratio(r)}** the {what} of {HEAD[ref]}{spread}"
    if r > 1:
        return f"{HEAD[col]} is **{fmt_ratio(r)} faster** than {HEAD[ref]}{spread}"
    return f"{HEAD[col]} is **{fmt_ratio(1 / r)} slower** than {HEAD[ref]}{spread}"


def measured_text(row):
    vals = []
    for c in COLS:
        p = row.problem(c)
        if p:
            vals.append(f"{HEAD[c]} {p}")
            continue
        if row.kind == "server":
            vals.append(f"{HEAD[c]} {server_rate(row, c)} (p99 {server_p99(row, c)} ms)")
        elif row.kind == "echo":
            vals.append(f"{HEAD[c]} {fmt_num(row.kv_med(c, 'rps'))} req/s (p99 "
                        f"{fmt_num(row.kv_med(c, 'p99_us'))} µs)")
        elif row.kind == "idle":
            vals.append(f"{HEAD[c]} {row.kv_med(c, 'cpu_ms_per_s') or 0:.3f} ms of CPU per s")
        elif row.prog == "sleepers":
            vals.append(f"{HEAD[c]} {fmt_num(row.kv_med(c, 'wakes_per_s'))} wake-ups/s "
                        f"(lateness p99 {fmt_num(row.kv_med(c, 'p99_us'))} µs)")
        elif row.group == "parked":
            kern = sum(x for x in (row.kv_med(c, "pte_kib_per_thread"),
                                   row.kv_med(c, "kstack_kib_per_thread")) if x and x > 0)
            vals.append(f"{HEAD[c]} {fmt_num(row.med(c) / 1e3, 1)} µs and "
                        f"{fmt_num(row.kv_med(c, 'rss_kib_per_thread'), 1)} KiB RSS "
                        f"(+{fmt_num(kern, 1)} KiB in the kernel) per thread")
        else:
            vals.append(f"{HEAD[c]} {fmt_ns(row.med(c))} ns/op")
    return "Measured (medians): " + "; ".join(vals) + "."


def why(row, seen=None):
    """The row's paragraph; the mechanism is told once per benchmark (seen:
    the ones told already)."""
    key = row.prog if row.prog in MECHANISM else (
        "echo" if row.kind == "echo" else "idle" if row.kind == "idle" else row.group)
    parts = []
    if seen is None or key not in seen:
        parts.append(MECHANISM.get(key, ""))
        if seen is not None:
            seen.add(key)
    if row.id.endswith("_p1"):
        parts.append("With one P (`GMPT_PROCS=1`, `GOMAXPROCS=1`) all threads share one "
                     "M, so every handoff is a switch between them; the native side is "
                     "the same unpinned program as in the row above.")
    parts.append(measured_text(row))
    if row.kind == "idle":
        return " ".join(p for p in parts if p)
    verdicts = [v for v in (verdict(row, c) for c in ("gmpt", "shared", "go")) if v]
    if verdicts:
        parts.append("; ".join(verdicts) + ".")
    # Where gmpt loses to native.
    for col in ("gmpt", "shared"):
        r = row.ratio(col)
        if r is not None and r < 0.95:
            parts.append(f"**Where gmpt loses ({HEAD[col]} against native):** "
                         + " ".join(p for p in (known(KNOWN_LOSS, row, col),
                                                loss_text(row, col, "native")) if p))
    # The echo rows' tail latency.
    for col in ("gmpt", "shared"):
        worse = p99_worse(row, col)
        if worse:
            parts.append(f"**Where gmpt loses ({HEAD[col]}, p99 latency):** {worse} "
                         + P99_WHY.format(few=FEW_CONNS if (row.n or 0) <= 500 else ""))
    # gmpt's best column against Go.
    r = row.ratio("shared", "go")
    if r is not None and r < 0.95:
        parts.append(f"**Against Go:** {verdict(row, 'shared', 'go')}. "
                     + " ".join(p for p in (known(KNOWN_GO, row),
                                            loss_text(row, "shared", "go")) if p))
    for col in COLS:
        for f in row.failures(col):
            parts.append(f"**{HEAD[col]} failed in round {f.get('round')}:** {f.get('why')}.")
        notes = sorted({n for r in row.res.get(col, []) for n in r.get("notes", [])})
        if notes:
            parts.append(f"{HEAD[col]} said: " + "; ".join(f"`{n}`" for n in notes[:3]) + ".")
    return " ".join(p for p in parts if p)


P99_WHY = (
    "A connection readied by one poll waits behind every G already queued on its P, "
    "where natively the kernel runs each woken thread on whichever CPU frees first; "
    "and each request costs gmpt a `read` more than natively (the one that finds the "
    "socket empty before the G parks: Go's model, readiness learnt from `EAGAIN`) "
    "plus its share of an `epoll_wait`.{few} Handing socket reads to io_uring as whole "
    "operations would drop the `EAGAIN` `read`, but each completion then costs a "
    "task_work interrupt of the submitting thread, which measured worse on this VM "
    "(docs/design.md, Netpoller).")


def p99_worse(row, col):
    """'p99 X µs against native's Y µs.' when col's p99 is 10% or more above
    native's on an echo row, else ''."""
    if row.kind != "echo":
        return ""
    a, b = row.kv_med(col, "p99_us"), row.kv_med("native", "p99_us")
    if a is None or b is None or a <= 1.1 * b:
        return ""
    return f"p99 {fmt_num(a)} µs against native's {fmt_num(b)} µs."


def losses(rows):
    """One line per row where gmpt (either TLS mode) loses to native."""
    out = []
    for row in rows:
        if row.kind == "idle":
            continue
        for col in ("gmpt", "shared"):
            r = row.ratio(col)
            if r is not None and r < 0.95:
                what = ("the rate" if row.kind in ("echo", "server") or row.prog == "sleepers"
                        else "the time")
                out.append(f"- **{row.label}**, {HEAD[col]}: {fmt_ratio(r)} native ({what}); "
                           f"see [Why](#why).")
            worse = p99_worse(row, col)
            if worse:
                out.append(f"- **{row.label}**, {HEAD[col]}: {worse}")
    return out


# ---- plots ------------------------------------------------------------------------------------
def gnuplot_quote(s):
    return '"' + s.replace('"', "'") + '"'


def plots(rows, outdir, runs):
    """Draws the PNGs with gnuplot; returns {name: file} of those drawn, or
    an error string."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (Debian: gnuplot-nox), so no plots were drawn"
    os.makedirs(outdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="gmpt-plots.")
    drawn = {}
    style = ("set terminal pngcairo size 1000,560 font 'sans,10'\n"
             "set termoption noenhanced\nset datafile missing 'NaN'\nset grid ytics\n"
             "set key top left\n")

    def num(v):
        return "NaN" if v is None else f"{v:.6g}"

    def lt(c):
        return f"lc rgb '{COLOUR[c]}'"

    micro = [r for r in rows if r.group == "micro"]
    if micro:
        with open(os.path.join(tmp, "micro.dat"), "w", encoding="utf-8") as f:
            for r in micro:
                f.write(gnuplot_quote(r.label) + " "
                        + " ".join(num(r.med(c)) for c in COLS) + "\n")
        out = os.path.join(outdir, "micro.png")
        script = style + (
            f"set output '{out}'\n"
            f"set title 'Microbenchmarks: ns per op, median of up to {runs} rounds "
            "(lower is better; log scale)'\n"
            "set style data histogram\nset style histogram clustered gap 1\n"
            "set style fill solid 0.9 border -1\nset logscale y\nset yrange [1:*]\n"
            "set key above horizontal\n"
            "set ylabel 'ns per op'\nset xtics rotate by -20 scale 0 font ',9'\n"
            "set bmargin 6\n"
            "plot " + ", ".join(
                f"'{tmp}/micro.dat' using {i + 2}{':xtic(1)' if i == 0 else ''} "
                f"title '{HEAD[c]}' {lt(c)}" for i, c in enumerate(COLS)) + "\n")
        if run_gnuplot(script, tmp, "micro"):
            drawn["micro"] = out

    parked = [r for r in rows if r.group == "parked"]
    if parked:
        with open(os.path.join(tmp, "parked.dat"), "w", encoding="utf-8") as f:
            for r in parked:
                f.write(f"{r.n} " + " ".join(num(r.kv_med(c, "rss_kib_per_thread"))
                                             for c in COLS) + " "
                        + " ".join(num(r.med(c) / 1e3 if r.med(c) else None) for c in COLS)
                        + "\n")
        out = os.path.join(outdir, "parked.png")
        d = f"'{tmp}/parked.dat'"
        script = style + (
            f"set output '{out}'\nset multiplot layout 1,2 title 'Parked threads "
            "(each waits on a condition variable)'\n"
            "set logscale x\nset xrange [500:2e6]\nset xlabel 'threads'\n"
            "set format x '%.0s%c'\n"
            "set ylabel 'RSS per thread, KiB'\nset yrange [0:*]\n"
            "set title 'memory per parked thread (RSS)'\n"
            "plot " + ", ".join(f"{d} using 1:{i + 2} title '{HEAD[c]}' "
                                f"with linespoints pt 7 {lt(c)}" for i, c in enumerate(COLS)) + "\n"
            "set ylabel 'µs per thread'\nset logscale y\nset yrange [*:*]\n"
            "set title 'time to start a thread and park it'\n"
            "plot " + ", ".join(f"{d} using 1:{i + 6} title '{HEAD[c]}' "
                                f"with linespoints pt 7 {lt(c)}" for i, c in enumerate(COLS)) + "\n"
            "unset multiplot\n")
        if run_gnuplot(script, tmp, "parked"):
            drawn["parked"] = out

    echo = [r for r in rows if r.kind == "echo"]
    if echo:
        with open(os.path.join(tmp, "echo.dat"), "w", encoding="utf-8") as f:
            for r in echo:
                f.write(f"{r.n} " + " ".join(num(r.kv_med(c, "rps")) for c in COLS) + " "
                        + " ".join(num(r.kv_med(c, "p99_us") / 1e3
                                       if r.kv_med(c, "p99_us") else None) for c in COLS)
                        + "\n")
        out = os.path.join(outdir, "echo.png")
        d = f"'{tmp}/echo.dat'"
        script = style + (
            f"set output '{out}'\nset multiplot layout 1,2 title 'Echo server, one "
            "thread (goroutine) per connection, closed loop of 64-byte requests'\n"
            "set logscale x\nset xrange [60:16000]\nset xlabel 'connections'\n"
            "set xtics (100, 1000, 2000, 10000)\n"
            "set ylabel 'requests per second'\nset yrange [0:*]\n"
            "set title 'throughput (higher is better)'\n"
            "plot " + ", ".join(f"{d} using 1:{i + 2} title '{HEAD[c]}' "
                                f"with linespoints pt 7 {lt(c)}" for i, c in enumerate(COLS)) + "\n"
            "set ylabel 'p99 latency, ms'\nset logscale y\nset yrange [*:*]\n"
            "set title 'p99 latency (lower is better; log scale)'\n"
            "plot " + ", ".join(f"{d} using 1:{i + 6} title '{HEAD[c]}' "
                                f"with linespoints pt 7 {lt(c)}" for i, c in enumerate(COLS)) + "\n"
            "unset multiplot\n")
        if run_gnuplot(script, tmp, "echo"):
            drawn["echo"] = out
    shutil.rmtree(tmp, ignore_errors=True)
    return drawn


def run_gnuplot(script, tmp, name):
    path = os.path.join(tmp, name + ".gp")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    p = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(f"bench: gnuplot failed for {name}: {p.stderr.strip()[-500:]}", file=sys.stderr)
        return False
    return True


# ---- the document -------------------------------------------------------------------------------
def headline(rows):
    """A few sentences computed from the run: who wins where."""
    out = []
    for col in ("gmpt", "shared"):
        win, lose, par = [], [], []
        for r in rows:
            if r.kind == "idle":
                continue
            x = r.ratio(col)
            if x is None:
                continue
            (win if x > 1.05 else lose if x < 0.95 else par).append(r)
        if win or lose or par:
            best = max(win, key=lambda r: r.ratio(col), default=None)
            s = (f"- {HEAD[col]}: faster than native (or more throughput) on {len(win)} rows, "
                 f"on par on {len(par)}, behind on {len(lose)}")
            if best:
                s += f"; best: {best.label}, {fmt_ratio(best.ratio(col))}"
            if lose:
                worst = min(lose, key=lambda r: r.ratio(col))
                s += f"; worst: {worst.label}, {fmt_ratio(worst.ratio(col))}"
            out.append(s + ".")
    win = [r for r in rows if r.kind != "idle" and r.ratio("shared", "go") is not None]
    if win:
        ahead = [r for r in win if r.ratio("shared", "go") > 1.05]
        behind = [r for r in win if r.ratio("shared", "go") < 0.95]
        out.append(f"- Against Go, gmpt with shared TLS is ahead on {len(ahead)} rows and "
                   f"behind on {len(behind)} of {len(win)}"
                   + (f" (ahead: {', '.join(r.label for r in ahead)})" if ahead else "")
                   + ".")
    big = [r for r in rows if r.group == "parked"]
    if big:
        top = {}
        for c in COLS:
            ns = [r.n for r in big if r.ok(c)]
            top[c] = max(ns) if ns else None
        out.append("- Parked threads: the largest count that ran is "
                   + ", ".join(f"{HEAD[c]} {top[c]:,}" if top[c] else f"{HEAD[c]} none"
                               for c in COLS) + ".")
    return out


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def go_version(text):
    """'go version go1.19.8 linux/amd64' -> 'Go 1.19.8 (linux/amd64)'."""
    parts = (text or "").split()
    if len(parts) >= 4 and parts[2].startswith("go"):
        return f"Go {parts[2][2:]} ({parts[3]})"
    return text


def machine_lines(m, doc):
    lim = m.get("native_thread_limit")
    return [
        f"- CPU: {m.get('cpu')}, {m.get('nproc')} CPUs usable, {m.get('mem_gib')} GiB RAM; "
        f"kernel {m.get('kernel')}, glibc {m.get('glibc')}, "
        f"{go_version(m.get('go')) or 'Go not found'}",
        f"- AT_HWCAP2 {m.get('hwcap2') or '?'}: FSGSBASE {m.get('fsgsbase')}",
        f"- One system call (`getppid`) costs **{fmt_ns(m.get('syscall_ns'))} ns**, setting "
        f"the fs base (`arch_prctl(ARCH_SET_FS)`, what a per-G TLS switch costs without "
        f"FSGSBASE) **{fmt_ns(m.get('arch_prctl_ns'))} ns**"
        + (f", the same with `wrfsbase` (what gmpt uses here) "
           f"**{fmt_ns(m.get('wrfsbase_ns'))} ns**" if m.get("wrfsbase_ns") else "")
        + f", and a page fault on a fresh "
        f"anonymous page **{fmt_ns(m.get('page_fault_ns'))} ns** (`bench/syscall_cost`, "
        "best of 3). This is a virtual machine where entering the kernel is expensive: a "
        "thread operation that needs the kernel twice cannot beat a few microseconds "
        "natively, and anything that touches new memory pays for its page faults.",
        f"- Natively one process can start about {lim:,} threads here; the limit is "
        f"{m.get('native_thread_limit_why')}." if lim else "",
        f"- gmpt {m.get('revision')}, built {m.get('buildtype', '?')}; "
        f"default rows leave `GMPT_PROCS`/`GOMAXPROCS` unset "
        f"(both then use the {m.get('nproc')} CPUs)"
        + (f"; other settings in force: `{m['gmpt_env']}`" if m.get("gmpt_env") else "")
        + f". {plural(doc['runs'], 'round')} per row (a few long rows fewer: see the raw "
        f"results), {m.get('date')}, {plural(doc.get('elapsed_s', 0) // 60, 'minute')} in all.",
        load_line(doc.get("loadavg")),
    ]


def load_line(load):
    """How busy the machine was: its 1-minute load average after each row."""
    if not load:
        return ""
    return (f"- The machine's load average (1 min) went from {min(load):g} to {max(load):g} "
            f"during the run (median {statistics.median(load):g}; "
            "it has 2 CPUs): other jobs shared it, which is why the columns alternate "
            "round by round and why the ranges are wide.")


def markdown(doc, rows, drawn, plotdir_rel):
    m = doc["machine"]
    quick = " (quick mode: small sizes; not for publication)" if doc["quick"] else ""
    L = [
        "# gmpt performance",
        "",
        "<!-- Generated by scripts/bench; edits are overwritten on the next run. -->",
        "",
        "Every benchmark in `bench/` is an ordinary pthread program, built without "
        "any knowledge of gmpt, run in four columns: **native** (glibc's NPTL), **gmpt** "
        "(`LD_PRELOAD=libgmpt.so`, per-G TLS, the default), **gmpt, shared TLS** "
        "(`GMPT_TLS=shared`: threads share their M's TLS, so a switch never moves the "
        "fs base) and **Go**, the program's twin in `bench/go/` (goroutines with "
        "`sync.Mutex`, `sync.Cond`, channels, `os.Pipe`, `time.Sleep` and `net`, as "
        "a Go programmer would write it; Debian's Go, default settings). Each round "
        "runs every column once, in an order that rotates from round to round, so drift "
        "on this shared, noisy machine hits all columns alike; every ratio is taken "
        "between runs of the same round and given as the median with the range over "
        "rounds. \"A vs B\" is B's time / A's time (or A's rate / B's rate): above 1x "
        "A is faster.",
        "",
        "## Machine",
        "",
    ]
    L += [x for x in machine_lines(m, doc) if x]
    L += ["", "## Headlines" + quick, ""]
    L += headline(rows)
    lost = losses(rows)
    if lost:
        L += ["", "Rows where gmpt is behind native (each explained under [Why](#why)):", ""]
        L += lost
    probs = []
    for r in rows:
        for c in COLS:
            p = r.problem(c)
            if p and p.startswith("FAILED"):
                probs.append(f"- **{r.label}**, {HEAD[c]}: {p}")
    if probs:
        L += ["", "**Runs that failed** (their rows show FAILED; the logs were kept by "
              "scripts/bench):", ""] + probs
    L += ["", "## Microbenchmarks", "", "Median ns per op (lower is better):", ""]
    mt = micro_tables(rows)
    if mt:
        L += [mt[0], "", "Ratios, median (min–max over rounds):", "", mt[1], ""]
    if "micro" in drawn:
        L += [f"![ns per op per microbenchmark]({plotdir_rel}/micro.png)", ""]
    L += [
        "- **create_join**: create a thread that returns at once, join it; sequential. One "
        "op = one create+join.",
        "- **yield (2 threads)**: 2 threads each call `sched_yield()` (Go: "
        "`runtime.Gosched()`) N times; one op = one yield (wall time / all yields). **1 P**: "
        "the same with `GMPT_PROCS=1` / `GOMAXPROCS=1`.",
        "- **pingpong**: 2 threads pass a token with one mutex and two condition variables. "
        "One op = one one-way handoff.",
        "- **mutex_contended**: 64 threads each lock/increment/unlock one mutex M times; the "
        "final count is checked. One op = one lock+unlock.",
        "- **pipe_ring**: 64 threads in a ring of pipes pass a 1-byte token (blocking "
        "`read`, then `write` to the next pipe). One op = one hop.",
        "",
    ]
    pt = parked_tables(rows)
    if pt:
        nl = m.get("native_thread_limit")
        L += ["## Parked threads", "",
              "N threads (goroutines) each wait on one condition variable (`sync.Cond`). Time "
              "from the first create until all N wait, per thread:", "", pt[0], "",
              "Memory per waiting thread, KiB: the process's RSS + the kernel's share "
              "(page tables, `VmPTE`, and for native threads their kernel stacks, "
              "`KernelStack` in /proc/meminfo). Natively only up to the kernel's limit"
              + (f" (about {nl:,} threads here: {m.get('native_thread_limit_why')})"
                 if nl else "") + "; a size is skipped when the memory it would need is "
              "not available.", "", pt[1], "",
              "Time to wake them all (one broadcast) and join them, per thread (at "
              "1,000,000 the program exits with them still waiting):", "", pt[2], "",
              WAKE_TEXT, ""]
        if "parked" in drawn:
            L += [f"![memory and start time per parked thread]({plotdir_rel}/parked.png)", ""]
    st = sleepers_table(rows)
    if st:
        L += ["## Timers", "",
              "1000 threads each loop `nanosleep(1 ms)` (Go: `time.Sleep`): wake-ups per "
              "second in all (the ideal is 1,000,000), and lateness = time slept − 1 ms.",
              "", st[0], "", st[1], ""]
    et = echo_tables(rows)
    if et:
        L += ["## Echo server", "",
              "`bench/echo_server` (a thread per connection, blocking `read`/`write`) or "
              "its Go twin, driven by `bench/echo_load`, which always runs natively: one "
              "epoll thread, a closed loop of 64-byte requests on every connection; after "
              "a warm-up the requests completed in a fixed window are counted, latency = "
              "request sent to whole echo back. In a closed loop the latency is the "
              "number of connections divided by the throughput (Little's law), so at "
              "high connection counts the percentiles mostly restate req/s; what they "
              "add is the spread, i.e. fairness.", "", et[0], "", et[1], ""]
        if "echo" in drawn:
            L += [f"![echo server requests per second and p99 latency]({plotdir_rel}/echo.png)",
                  ""]
    it = idle_table(rows)
    if it:
        L += ["The same server holding 1000 idle connections: its CPU time per second of "
              "wall time (process CPU clock).", "", it[0], ""]
    svt = server_tables(rows)
    if svt:
        L += ["## Real servers", "",
              "`scripts/bench --servers`: Debian's MariaDB (`mariadbd`, default settings "
              "but `max_connections=400`) under `sysbench` (4 tables x 10,000 rows, "
              "`--time` as below, the thread count as the row says) and Apache httpd "
              "(`bench/httpd.conf`) serving one 4 KiB file to `wrk -t2` with keep-alive; "
              "the server preloaded, the clients native, on 127.0.0.1; native and gmpt "
              "only. p95 comes from sysbench's histogram (the bucket it falls in), p99 "
              "from its report; wrk's from its latency distribution.", ""]
        for t in svt:
            L += [t, ""]
    ct = count_tables(rows)
    if ct:
        meth = doc.get("count_method")
        L += ["## System calls, context switches and page faults", "",
              ("Counted with `perf stat` (`raw_syscalls:sys_enter` for the total, "
               "`syscalls:sys_enter_NAME` for the calls named, `context-switches`, "
               "`page-faults`): exact, in the kernel, without slowing the program"
               if meth == "perf" else
               "Counted under `strace -f -c` (perf did not work here; strace slows "
               "everything, so read the counts as shape)")
              + ", in separate runs: (run − baseline) / ops, the baseline being the "
              "same program with 0 iterations (for the echo server: the connections "
              "set up and closed without requests, the server alone being counted; for "
              "parked threads: 2,000 threads). Top calls in brackets.", "", ct[0], "",
              ct[1], ""]
    elif not doc["quick"]:
        L += ["## System calls", "", "Neither perf nor strace worked here: not counted.", ""]
    if isinstance(drawn, str):
        L += [f"(Plots: {drawn}.)", ""]
    L += ["## Why", ""]
    seen = set()
    for r in rows:
        L += [f"**{r.label}.** {why(r, seen)}", ""]
    L += [
        "## Reproduce",
        "",
        "```sh",
        "scripts/bench                      # installs what is missing, builds, rewrites "
        "this file and docs/perf/*.png",
        "scripts/bench --runs 9             # more rounds",
        "scripts/bench --quick --no-write   # smoke test (about a minute), prints only",
        "scripts/bench --only pingpong,echo_c100 --no-write   # some rows",
        "# this text again from the run's raw results (docs/perf/results.json):",
        "bench/bench_report.py --results docs/perf/results.json --write docs/perf.md",
        "```",
        "",
        "One program by hand, in each column (the Go twins are built into "
        "`build/bench/go/`):",
        "",
        "```sh",
        "build/bench/pingpong 25000",
        "LD_PRELOAD=$PWD/build/libgmpt.so build/bench/pingpong 25000",
        "LD_PRELOAD=$PWD/build/libgmpt.so GMPT_TLS=shared build/bench/pingpong 25000",
        "build/bench/go/pingpong 25000",
        "```",
        "",
        "Sizes used: " + "; ".join(
            f"{r.label}: `{r.prog} {r.args}`" if r.kind in ("prog", "server") else
            f"{r.label}: `echo_load {r.args}` against `{r.prog}`" for r in rows) + ".",
        "",
        "<details><summary>Raw results per round</summary>",
        "",
        "| benchmark | unit | " + " | ".join(HEAD[c] for c in COLS) + " |",
        "|---|---|" + "---|" * len(COLS),
    ]
    for r in rows:
        unit, conv = raw_unit(r)
        cells = []
        for c in COLS:
            vals = []
            for x in r.res.get(c, []):
                if x["status"] == "ok":
                    vals.append(conv(x))
                elif x["status"] == "fail" and not x.get("why", "").startswith("not run"):
                    vals.append("FAILED")
            cells.append(", ".join(vals) or (short_problem(r, c) or "–"))
        L.append(f"| {r.label} | {unit} | " + " | ".join(cells) + " |")
    L += ["", "</details>", ""]
    return "\n".join(L)


def raw_unit(r):
    if r.kind == "server":
        key = "tps" if r.prog == "mariadbd" else "rps"
        return ("tps" if key == "tps" else "req/s"), lambda x: fmt_num(float(x["kv"].get(key, 0)))
    if r.kind == "echo":
        return "req/s", lambda x: fmt_num(float(x["kv"].get("rps", 0)))
    if r.kind == "idle":
        return "CPU ms/s", lambda x: x["kv"].get("cpu_ms_per_s", "?")
    if r.prog == "sleepers":
        return "wake-ups/s", lambda x: fmt_num(float(x["kv"].get("wakes_per_s", 0)))
    if r.group == "parked":
        return "µs/thread, KiB/thread", lambda x: (
            f"{x['value'] / 1e3:.1f} µs {float(x['kv'].get('rss_kib_per_thread', 0)):.1f} KiB")
    return "ns/op", lambda x: fmt_ns(x["value"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="results.json from bench/bench_run.py")
    ap.add_argument("--write", default="", help="the markdown file to write")
    ap.add_argument("--plots", default="", help="the directory for the PNG plots")
    args = ap.parse_args()

    doc, rows = load(args.results)
    for t in (micro_tables(rows) + parked_tables(rows) + sleepers_table(rows)
              + echo_tables(rows) + idle_table(rows) + server_tables(rows)
              + count_tables(rows)):
        print(t)
        print()
    for line in losses(rows):
        print(line)
    drawn = {}
    if args.write:
        plotdir = args.plots or os.path.join(os.path.dirname(os.path.abspath(args.write)), "perf")
        drawn = plots(rows, plotdir, doc["runs"])
        rel = os.path.relpath(plotdir, os.path.dirname(os.path.abspath(args.write)))
        text = markdown(doc, rows, drawn, rel)
        tmp = args.write + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.write)
        print(f"bench: wrote {args.write}"
              + (f" and {', '.join(sorted(os.path.basename(p) for p in drawn.values()))}"
                 if isinstance(drawn, dict) and drawn else ""), file=sys.stderr)
        if isinstance(drawn, str):
            print(f"bench: {drawn}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
