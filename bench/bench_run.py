#!/usr/bin/env python3
"""The benchmark runner behind scripts/bench (stdlib only).

Runs every benchmark in four columns, in rounds:

  native   the C program, glibc's NPTL threads
  gmpt     the same binary with LD_PRELOAD=libgmpt.so (per-G TLS, the default)
  shared   the same with GMPT_TLS=shared (threads share their M's TLS)
  go       the Go twin of the program (bench/go/NAME.go), goroutines

In every round each column runs once, in an order that rotates from round
to round, so drift on a shared, noisy machine hits all columns alike; the
report computes every ratio pair by pair inside a round.  Every run is
bounded by a timeout; a run that fails, hangs or prints no RESULT line is
recorded with the reason (and its logs kept) and the column is not run
again for that row.  Afterwards the system calls, page faults and context
switches per op are counted in separate runs (perf stat, or strace -f -c
without perf).  Everything goes to WORKDIR/results.json, from which
bench/bench_report.py writes the tables, docs/perf.md and the plots.

scripts/bench builds the programs and calls this; run that instead.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from bench_report import parse_counts  # noqa: E402 (after the line above)
import bench_servers  # noqa: E402

COLUMNS = ("native", "gmpt", "shared", "go")

# Sizes of the parked-threads rows, and the rounds each gets at most (a
# million threads take minutes under gmpt on this VM: one round).
PARKED_STEPS = ((1000, None), (10000, None), (20000, 3), (100000, 2), (1000000, 1))
PARKED_STEPS_QUICK = ((1000, None), (5000, None))
# The rows whose system calls --quick counts (a smoke test of the counting).
QUICK_COUNTED = ("pingpong", "echo_c100")


class Row:
    """One benchmark row.

    kind: prog (run PROG ARGS, read its RESULT line), echo (start the
    PROG server, drive it with the native echo_load ARGS), idle (the same
    with echo_load -i).  count: the arguments of the syscall-count run
    (its baseline is the same with 0 iterations, or echo_load -n 0), None
    for no count.  procs: GMPT_PROCS / GOMAXPROCS for the row (None: the
    default, all CPUs).  threads: how many of the program's threads can
    run at once (for the per-thread arithmetic of the report)."""

    def __init__(self, rid, label, group, prog, args, quick, count=None, procs=None,
                 threads=1, timeout=120, kind="prog", runs=None, n=None):
        self.id, self.label, self.group, self.prog = rid, label, group, prog
        self.args, self.quick, self.count = args, quick, count
        self.procs, self.threads, self.timeout = procs, threads, timeout
        self.kind, self.runs, self.n = kind, runs, n

    def spec(self, quick):
        return {
            "id": self.id, "label": self.label, "group": self.group,
            "prog": self.prog, "args": self.quick if quick else self.args,
            "count": self.count, "procs": self.procs, "threads": self.threads,
            "kind": self.kind, "n": self.n,
        }


def rows_for(quick):
    rows = [
        Row("create_join", "create_join", "micro", "create_join", "10000", "2000", "1000"),
        Row("yield", "yield (2 threads)", "micro", "yield", "100000", "20000", "5000",
            threads=2),
        Row("yield_p1", "yield (2 threads, 1 P)", "micro", "yield", "100000", "20000",
            "5000", procs=1, threads=2),
        Row("pingpong", "pingpong", "micro", "pingpong", "25000", "5000", "2000"),
        Row("pingpong_p1", "pingpong (1 P)", "micro", "pingpong", "25000", "5000", "2000",
            procs=1),
        Row("mutex_contended", "mutex_contended (64 threads)", "micro", "mutex_contended",
            "200000", "20000", "2000", threads=64),
        Row("pipe_ring", "pipe_ring (64 threads)", "micro", "pipe_ring", "100000", "10000",
            "5000", timeout=60),
        Row("sleepers", "sleepers (1000 threads x 1 ms)", "timers", "sleepers", "2000",
            "500", "500", threads=1000, timeout=60),
        Row("echo_c100", "echo, 100 connections", "echo", "echo_server",
            "-c 100 -w 1 -d 3", "-c 100 -w 0.3 -d 1 -T 10", "-c 100 -n 300",
            threads=2, timeout=60, kind="echo", n=100),
        Row("echo_c2000", "echo, 2000 connections", "echo", "echo_server",
            "-c 2000 -w 1 -d 3", "-c 2000 -w 0.3 -d 1 -T 10", threads=2, timeout=90,
            kind="echo", n=2000),
        Row("echo_c10000", "echo, 10000 connections", "echo", "echo_server",
            "-c 10000 -w 2 -d 4", "-c 10000 -w 0.3 -d 0.5 -T 10", threads=2, timeout=120,
            kind="echo", runs=3, n=10000),
        Row("echo_idle", "idle, 1000 connections", "idle", "echo_server", "-c 1000 -i 2",
            "-c 1000 -i 0.5 -T 10", threads=1, timeout=60, kind="idle", runs=3, n=1000),
    ]
    for n, runs in (PARKED_STEPS_QUICK if quick else PARKED_STEPS):
        # The 10k row's counts (of 2,000 threads) explain the start-up cost.
        # A million are not woken at the end (gmpt's wake-up of that many
        # waiters on one mutex takes many minutes): the process exits.
        args = f"{n} 0" if n >= 1000000 else str(n)
        rows.append(Row(f"parked_{n}", f"parked threads, {n:,}", "parked", "parked",
                        args, args, count="2000" if n == 10000 else None, threads=1,
                        kind="prog", runs=runs, n=n, timeout=max(120, n // 1250)))
    return rows


# The real servers (scripts/bench --servers): only the native and gmpt
# columns (the binaries are Debian's; there is no Go twin, and shared TLS
# is not what these rows are about). args: "WORKLOAD THREADS" for MariaDB
# under sysbench, "MPM CONNECTIONS" for Apache under wrk.
SERVER_COLUMNS = ("native", "gmpt")


def server_rows():
    rows = []
    for w in ("oltp_point_select", "oltp_read_write"):
        for t in (16, 64, 256):
            rows.append(Row(f"mariadb_{w[5:]}_{t}", f"MariaDB {w}, {t} threads", "servers",
                            "mariadbd", f"{w} {t}", f"{w} {t}", threads=t, timeout=240,
                            kind="server", runs=3, n=t))
    for mpm in ("worker", "event"):
        for c in (100, 1000):
            rows.append(Row(f"apache_{mpm}_c{c}", f"Apache mpm_{mpm}, wrk -c{c}", "servers",
                            "apache2", f"{mpm} {c}", f"{mpm} {c}", threads=c, timeout=180,
                            kind="server", runs=3, n=c))
    return rows


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def read_file(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def read_int(path, default=None):
    try:
        return int(read_file(path).split()[0])
    except (IndexError, ValueError):
        return default


def meminfo_kib(key):
    m = re.search(rf"^{key}:\s+(\d+)", read_file("/proc/meminfo"), re.M)
    return int(m.group(1)) if m else None


def tail(path, n=1):
    lines = [ln for ln in read_file(path).splitlines() if ln.strip()]
    return " | ".join(ln.strip()[:200] for ln in lines[-n:])


def parse_result(path):
    """The key=value pairs of the first RESULT line in path, or None."""
    for line in read_file(path).splitlines():
        if line.startswith("RESULT "):
            kv = {}
            for tok in line.split()[1:]:
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    kv[k] = v
            return kv
    return None


def gmpt_notes(path):
    return [ln.strip() for ln in read_file(path).splitlines() if ln.startswith("gmpt: ")]


def not_preloaded(path):
    """ld.so's complaint when LD_PRELOAD names a library it cannot load (it
    then runs the program natively), or ''."""
    for ln in read_file(path).splitlines():
        if "LD_PRELOAD" in ln and "cannot be preloaded" in ln:
            return ln.strip()
    return ""


def kill_group(proc, grace=5.0):
    """SIGTERM to the process group of proc, SIGKILL after grace seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def run_bounded(argv, env, timeout, out, err):
    """Runs argv in its own process group with stdout/stderr to files.
    Returns (exit status, timed out?, wall seconds)."""
    t0 = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(argv, env=env, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout)
            return rc, False, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return proc.returncode, True, time.monotonic() - t0


def status_text(rc):
    if rc is not None and rc < 0:
        try:
            return "killed by " + signal.Signals(-rc).name
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.build = os.path.abspath(opts.build)
        self.lib = os.path.join(self.build, "libgmpt.so")
        self.bindir = os.path.join(self.build, "bench")
        self.godir = os.path.join(self.build, "bench", "go")
        self.work = opts.workdir
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.failed = False
        self.load = [round(os.getloadavg()[0], 1)]  # after each row
        base = {k: v for k, v in os.environ.items()
                if k != "LD_PRELOAD" and not k.startswith("GMPT_") and k != "GOMAXPROCS"}
        self.base_env = base
        # GMPT_* settings of the caller other than the two each row sets
        # are passed on to the gmpt columns (and recorded in the report).
        self.gmpt_extra = {k: v for k, v in os.environ.items()
                           if k.startswith("GMPT_") and k not in ("GMPT_PROCS", "GMPT_TLS")}
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    def cap(self, timeout):
        return min(timeout, self.opts.timeout) if self.opts.timeout else timeout

    # ---- environments and commands ------------------------------------------
    def env_vars(self, col, procs):
        """The variables a column adds to the base environment."""
        add = {}
        if col in ("gmpt", "shared"):
            add.update(self.gmpt_extra)
            add["LD_PRELOAD"] = self.lib
            if procs:
                add["GMPT_PROCS"] = str(procs)
            if col == "shared":
                add["GMPT_TLS"] = "shared"
        elif col == "go" and procs:
            add["GOMAXPROCS"] = str(procs)
        return add

    def env(self, col, procs):
        e = dict(self.base_env)
        e.update(self.env_vars(col, procs))
        return e

    def binary(self, col, prog):
        return os.path.join(self.godir if col == "go" else self.bindir, prog)

    def repro(self, col, row, args):
        """A command line that reproduces one run by hand."""
        add = self.env_vars(col, row.procs)
        pre = " ".join(f"{k}={v}" for k, v in add.items())
        if row.kind == "prog":
            cmd = f"{self.binary(col, row.prog)} {args}"
            return f"{pre} {cmd}".strip()
        return (f"ulimit -n {self.nofile}; {pre} {self.binary(col, row.prog)} /tmp/echo.port & "
                f"{self.bindir}/echo_load -P /tmp/echo.port {args}; kill %1").strip()

    # ---- one timed run ----------------------------------------------------------
    def run_prog(self, row, col, args, stem, timeout):
        argv = [self.binary(col, row.prog)] + args.split()
        rc, hung, wall = run_bounded(argv, self.env(col, row.procs), timeout,
                                     stem + ".out", stem + ".err")
        kv = parse_result(stem + ".out")
        rec = {"wall_s": round(wall, 3), "notes": gmpt_notes(stem + ".err")}
        bad = not_preloaded(stem + ".err")
        if bad:
            rec.update(status="fail", why=f"ran natively: {bad}")
        elif hung:
            rec.update(status="fail", why=f"timeout after {timeout} s")
        elif rc != 0:
            e = tail(stem + ".err")
            rec.update(status="fail", why=status_text(rc) + (f": {e}" if e else ""))
        elif not kv or "ns_per_op" not in kv:
            rec.update(status="fail", why="no RESULT line")
        else:
            rec.update(status="ok", value=float(kv["ns_per_op"]), kv=kv)
        return rec

    def run_echo(self, row, col, args, stem, timeout):
        conns = row.n or 0
        if self.nofile < conns + 64:
            return {"status": "skip",
                    "why": f"{conns} connections need {conns + 64} fds on each side; "
                           f"ulimit -n is at most {self.nofile} here"}
        pf = stem + ".port"
        for p in (pf, pf + ".tmp"):
            if os.path.exists(p):
                os.unlink(p)
        with open(stem + ".server.out", "wb") as so, open(stem + ".server.err", "wb") as se:
            server = subprocess.Popen([self.binary(col, row.prog), pf],
                                      env=self.env(col, row.procs), stdout=so, stderr=se,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc, hung, wall = run_bounded([os.path.join(self.bindir, "echo_load"), "-P", pf]
                                         + args.split(), self.base_env, timeout,
                                         stem + ".out", stem + ".err")
        finally:
            early = server.poll() is not None
            if not early:
                kill_group(server)
        kv = parse_result(stem + ".out")
        rec = {"wall_s": round(wall, 3), "notes": gmpt_notes(stem + ".server.err")}
        bad = not_preloaded(stem + ".server.err")
        if bad:
            rec.update(status="fail", why=f"the server ran natively: {bad}")
        elif hung:
            rec.update(status="fail", why=f"timeout after {timeout} s")
        elif early:
            e = tail(stem + ".server.err")
            rec.update(status="fail", why="the server exited during the run ("
                       + status_text(server.returncode) + ")" + (f": {e}" if e else ""))
        elif rc != 0:
            rec.update(status="fail", why="echo_load " + status_text(rc) + ": "
                       + tail(stem + ".err"))
        elif not kv or "ns_per_op" not in kv:
            rec.update(status="fail", why="no RESULT line from echo_load")
        else:
            rec.update(status="ok", value=float(kv["ns_per_op"]), kv=kv)
        return rec

    def run_server(self, row, col, args, stem, timeout):
        what, n = args.split()
        secs = self.opts.server_time
        env = self.env(col, row.procs)
        t0 = time.monotonic()
        if row.prog == "mariadbd":
            rec = self.mariadb.run(env, what, int(n), secs, stem, self.work)
        else:
            rec = bench_servers.run_apache(env, what, int(n), secs, stem, self.work,
                                           self.base_env)
        rec["wall_s"] = round(time.monotonic() - t0, 3)
        # mariadbd points its stderr at its error log once it runs.
        rec["notes"] = gmpt_notes(stem + ".server.err") + gmpt_notes(stem + ".server.log")
        bad = not_preloaded(stem + ".server.err")
        if bad:
            rec.update(status="fail", why=f"the server ran natively: {bad}")
        return rec

    def prepare_servers(self):
        """Why the server rows cannot run, or ''; makes MariaDB's datadir."""
        miss = bench_servers.missing_programs()
        if miss:
            return (f"{', '.join(miss)} not installed (scripts/install-deps installs "
                    "mariadb-server, mariadb-client, sysbench, apache2, wrk)")
        self.mariadb = bench_servers.MariaDB(os.path.join(self.build, "bench", "servers-cache"),
                                             self.base_env)
        log("preparing MariaDB's sysbench tables (once per build directory)...")
        return self.mariadb.prepare(self.logs)

    def preflight(self):
        """Why the suite cannot run at all (the library does not preload, a
        program is missing), or ''."""
        for col in COLUMNS:
            for prog in ("create_join", "echo_server"):
                if not os.access(self.binary(col, prog), os.X_OK):
                    return f"{self.binary(col, prog)} is missing (scripts/bench builds it)"
        stem = os.path.join(self.logs, "preflight")
        rc, hung, _ = run_bounded([self.binary("gmpt", "create_join"), "1"],
                                  self.env("gmpt", None), 60, stem + ".out", stem + ".err")
        bad = not_preloaded(stem + ".err")
        if bad:
            return f"{self.lib} does not preload: {bad}"
        if hung or rc != 0 or not parse_result(stem + ".out"):
            return (f"create_join 1 under gmpt failed ({'timeout' if hung else status_text(rc)}"
                    f"): {tail(stem + '.err', 3)}")
        return ""

    # ---- limits --------------------------------------------------------------
    def native_thread_limit(self):
        """How many threads one process can start natively here, and what
        sets the limit: the kernel's pid and thread limits, the map count
        (every NPTL stack is two mappings, the stack and its guard page),
        RLIMIT_NPROC and the cgroup's pids.max."""
        tasks = 0
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    tasks += len(os.listdir(f"/proc/{d}/task"))
                except OSError:
                    pass
        cands = []
        pid_max = read_int("/proc/sys/kernel/pid_max")
        if pid_max:
            cands.append((pid_max - tasks, f"kernel.pid_max, {pid_max:,} pids, of which "
                                           f"{tasks:,} were in use"))
        tmax = read_int("/proc/sys/kernel/threads-max")
        if tmax:
            cands.append((tmax - tasks, f"kernel.threads-max, {tmax:,}"))
        maps = read_int("/proc/sys/vm/max_map_count")
        if maps:
            cands.append((maps // 2, f"vm.max_map_count, {maps:,} mappings, two per "
                                     "thread stack"))
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if nproc != resource.RLIM_INFINITY:
            cands.append((nproc - tasks, f"ulimit -u, {nproc:,}"))
        pids = read_file("/sys/fs/cgroup/pids.max").strip()
        if pids.isdigit():
            cur = read_int("/sys/fs/cgroup/pids.current", 0)
            cands.append((int(pids) - cur, f"the cgroup's pids.max, {int(pids):,}"))
        if not cands:
            return None, "unknown"
        return min(cands)

    def parked_skip(self, row, col, est):
        """Why a parked-threads run must be skipped, or None."""
        n = row.n
        if col == "native" and self.native_limit and n > 0.8 * self.native_limit[0]:
            return (f"natively one process can start about {self.native_limit[0]:,} threads "
                    f"here ({self.native_limit[1]}); {n:,} is past that")
        per = est.get(col)
        avail = meminfo_kib("MemAvailable")
        if per and avail:
            need = per * n * 1.1 + 1024 * 1024
            if need > avail:
                return (f"needs about {need / 1048576:.1f} GiB ({per:.1f} KiB per thread "
                        f"measured at the previous size), {avail / 1048576:.1f} GiB available")
        return None

    # ---- the rounds -------------------------------------------------------------
    def run_rows(self, rows):
        results = {}
        est = {}  # parked rows: KiB per thread (RSS + page tables) per column
        total = len(rows)
        for idx, row in enumerate(rows, 1):
            args = row.quick if self.opts.quick else row.args
            runs = min(self.opts.runs, row.runs) if row.runs else self.opts.runs
            timeout = min(row.timeout, 30) if self.opts.quick else row.timeout
            if self.opts.timeout:
                timeout = min(timeout, self.opts.timeout)
            what = (f"'{row.prog} {args}'" if row.kind == "prog"
                    else f"'{row.prog}' ({args}, {self.opts.server_time} s)"
                    if row.kind == "server"
                    else f"'{row.prog}' driven by 'echo_load {args}'")
            log(f"[{idx}/{total}] {row.label}: {runs} round{'s' if runs > 1 else ''} of "
                f"{'/'.join(COLUMNS)}, {what}...")
            res = {c: [] for c in COLUMNS}
            dead = {}
            t_row = time.monotonic()
            for r in range(runs):
                order = COLUMNS[r % 4:] + COLUMNS[:r % 4]
                for col in order:
                    if col in dead:
                        res[col].append({"status": dead[col][0], "why": dead[col][1],
                                         "round": r + 1})
                        continue
                    skip = self.parked_skip(row, col, est) if row.group == "parked" else None
                    if row.kind == "server" and col not in SERVER_COLUMNS:
                        skip = "not measured for Debian's servers"
                    elif row.kind == "server" and self.server_skip:
                        skip = self.server_skip
                    if skip:
                        rec = {"status": "skip", "why": skip}
                    else:
                        stem = os.path.join(self.logs, f"{row.id}.{col}.{r + 1}")
                        if row.kind == "prog":
                            rec = self.run_prog(row, col, args, stem, timeout)
                        elif row.kind == "server":
                            rec = self.run_server(row, col, args, stem, timeout)
                        else:
                            rec = self.run_echo(row, col, args, stem, timeout)
                        rec["log"] = os.path.relpath(stem, self.work)
                    rec["round"] = r + 1
                    res[col].append(rec)
                    if rec["status"] == "fail":
                        self.failed = True
                        log(f"  {row.label}: {col} run {r + 1} FAILED: {rec['why']}")
                        log(f"    reproduce: {self.repro(col, row, args)}")
                        log(f"    logs: {os.path.join(self.work, rec['log'])}.*")
                        dead[col] = ("fail", "not run again after a failure in round "
                                     f"{r + 1}")
                    elif rec["status"] == "skip":
                        dead[col] = ("skip", rec["why"])
                    elif row.group == "parked":
                        try:
                            kv = rec["kv"]
                            est[col] = (float(kv["rss_kib_per_thread"])
                                        + float(kv["pte_kib_per_thread"]))
                        except (KeyError, ValueError):
                            pass
            results[row.id] = res
            self.load.append(round(os.getloadavg()[0], 1))
            log(f"[{idx}/{total}] {row.label}: {self.summary(row, res)} "
                f"({time.monotonic() - t_row:.0f} s)")
        return results

    def summary(self, row, res):
        parts = []
        for col in COLUMNS:
            vals = [x["value"] for x in res[col] if x["status"] == "ok"]
            if not vals:
                st = {x["status"] for x in res[col]}
                parts.append(f"{col} {'skipped' if st == {'skip'} else 'FAILED'}")
                continue
            v = statistics.median(vals)
            if row.kind == "server":
                kv = [x["kv"] for x in res[col] if x["status"] == "ok"]
                p99 = statistics.median(k.get("p99_ms", 0) for k in kv)
                unit = "tps" if row.prog == "mariadbd" else "req/s"
                parts.append(f"{col} {1e9 / v:,.0f} {unit} p99 {p99:g} ms")
            elif row.kind == "echo":
                parts.append(f"{col} {1e9 / v:,.0f} req/s")
            elif row.kind == "idle":
                parts.append(f"{col} {v / 1e3:.3f} CPU ms/s")
            elif row.prog == "sleepers":
                parts.append(f"{col} {1e9 / v:,.0f} wake-ups/s")
            elif row.group == "parked":
                rss = statistics.median(float(x["kv"]["rss_kib_per_thread"])
                                        for x in res[col] if x["status"] == "ok")
                parts.append(f"{col} {v / 1e3:,.1f} us + {rss:.1f} KiB")
            else:
                parts.append(f"{col} {v:,.1f} ns/op")
        return " | ".join(parts) + " (medians)"

    # ---- syscall counts -------------------------------------------------------------
    def perf_events(self):
        if not shutil.which("perf"):
            return None
        probe = ["perf", "stat", "-x,", "-o", "/dev/null", "-e"]
        base = "raw_syscalls:sys_enter,page-faults,context-switches"
        if subprocess.run(probe + [base, "--", "true"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=self.base_env).returncode != 0:
            return None
        events = base
        tracefs = next((d for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
                        if os.path.isdir(d + "/events/syscalls")), None)
        if tracefs:
            names = ("read write readv writev recvfrom sendto recvmsg sendmsg accept "
                     "accept4 epoll_wait epoll_pwait epoll_ctl poll ppoll io_uring_enter "
                     "futex nanosleep clock_nanosleep sched_yield rt_sigprocmask "
                     "rt_sigreturn tgkill timer_settime arch_prctl mmap munmap mprotect "
                     "madvise clone clone3 close getpid pipe2").split()
            more = [f"syscalls:sys_enter_{s}" for s in names
                    if os.path.isdir(f"{tracefs}/events/syscalls/sys_enter_{s}")]
            cand = ",".join([base] + more)
            if subprocess.run(probe + [cand, "--", "true"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=self.base_env).returncode == 0:
                events = cand
        return events

    def counter(self, out):
        if self.events:
            return ["perf", "stat", "-x,", "-e", self.events, "-o", out + ".perf", "--"]
        return ["strace", "-f", "-c", "-q", "-o", out + ".txt"]

    def count_rows(self, rows, results):
        self.events = self.perf_events()
        if not self.events and not shutil.which("strace"):
            log("neither perf nor strace works here: no system call counts")
            return {}, None
        method = "perf" if self.events else "strace"
        cdir = os.path.join(self.work, "counts")
        os.makedirs(cdir, exist_ok=True)
        counts = {}
        for row in rows:
            if not row.count or (self.opts.quick and row.id not in QUICK_COUNTED):
                continue
            log(f"{row.label}: counting system calls with {method}...")
            counts[row.id] = {}
            for col in COLUMNS:
                if not any(x["status"] == "ok" for x in results[row.id][col]):
                    continue  # failed or skipped: nothing to count
                got = {}
                for k in ("base", "run"):
                    out = os.path.join(cdir, f"{row.id}.{col}.{k}")
                    why = self.count_one(row, col, k, out)
                    if why:
                        log(f"  {row.label}: {col} {k} count run failed ({why}); "
                            "its column stays empty")
                        break
                    got[k] = out
                else:
                    kv = parse_result(got["run"] + ".out") or {}
                    # Parsed here, so that results.json stands alone.
                    base, run = parse_counts(got["base"]), parse_counts(got["run"])
                    if base and run:
                        counts[row.id][col] = {"base": base, "run": run, "ops": kv.get("ops")}
        return counts, method

    def count_one(self, row, col, k, out):
        """One counted run (k: base or run); returns why it failed, or ''."""
        # The counter must not be preloaded itself: env(1) sets the
        # column's variables for the program only (env is counted in both
        # the base and the run, so it cancels).
        wrap = ["env"] + [f"{a}={b}" for a, b in self.env_vars(col, row.procs).items()]
        prog = self.binary(col, row.prog)
        if row.kind == "prog":
            arg = row.count if k == "run" else "0"
            rc, hung, _ = run_bounded(self.counter(out) + wrap + [prog, arg], self.base_env,
                                      self.cap(120), out + ".out", out + ".err")
            if hung:
                return "timeout"
            if not_preloaded(out + ".err"):
                return "ran natively: " + not_preloaded(out + ".err")
            return "" if rc == 0 else status_text(rc) + ": " + tail(out + ".err")
        largs = row.count if k == "run" else re.sub(r"-n \d+", "-n 0", row.count)
        pf = out + ".port"
        # The server exits by itself once all its connections closed, so
        # that the counter can report.
        with open(out + ".server.out", "wb") as so, open(out + ".server.err", "wb") as se:
            server = subprocess.Popen(self.counter(out) + wrap + [prog, pf, str(row.n)],
                                      env=self.base_env, stdout=so, stderr=se,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        rc, hung, _ = run_bounded([os.path.join(self.bindir, "echo_load"), "-P", pf]
                                  + largs.split(), self.base_env, self.cap(120), out + ".out",
                                  out + ".err")
        try:
            src = server.wait(10)
        except subprocess.TimeoutExpired:
            kill_group(server)
            return "the server did not exit within 10 s of the last close"
        if hung or rc != 0:
            return "echo_load " + ("timeout" if hung else status_text(rc)) + ": " + tail(
                out + ".err")
        if src != 0:
            return "server " + status_text(src) + ": " + tail(out + ".server.err")
        if not_preloaded(out + ".server.err"):
            return "the server ran natively: " + not_preloaded(out + ".server.err")
        # The ops of an echo count are the requests echo_load made.
        return ""

    # ---- machine facts -------------------------------------------------------------------
    def machine(self):
        cpu = re.search(r"^model name\s*:\s*(.*)$", read_file("/proc/cpuinfo"), re.M)
        mem = meminfo_kib("MemTotal")
        auxv = subprocess.run(["/bin/true"], env=dict(self.base_env, LD_SHOW_AUXV="1"),
                              capture_output=True, text=True).stdout
        m = re.search(r"^AT_HWCAP2:\s*(\S+)", auxv, re.M)
        hwcap2 = m.group(1) if m else ""
        try:
            fsgsbase = "enabled" if int(hwcap2, 0) & 2 else "not enabled by the kernel"
        except ValueError:
            fsgsbase = "unknown"

        def cmd(argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True,
                                      env=self.base_env, timeout=30).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return ""

        rev = cmd(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
        if cmd(["git", "status", "--porcelain", "--untracked-files=no"]):
            rev += " with uncommitted changes"
        log("measuring the cost of a system call and of a page fault (best of 3)...")
        best = {}
        for i in range(3):
            stem = os.path.join(self.logs, f"syscall_cost.{i + 1}")
            run_bounded([os.path.join(self.bindir, "syscall_cost")], self.base_env, 60,
                        stem + ".out", stem + ".err")
            for line in read_file(stem + ".out").splitlines():
                mm = re.match(r"RESULT name=(\S+) ns_per_op=([0-9.]+)", line)
                if mm:
                    v = float(mm.group(2))
                    best[mm.group(1)] = min(v, best.get(mm.group(1), v))
        self.native_limit = self.native_thread_limit()
        limit = self.native_limit
        opts = {}
        try:
            with open(os.path.join(self.build, "meson-info", "intro-buildoptions.json"),
                      encoding="utf-8") as f:
                opts = {o["name"]: o["value"] for o in json.load(f)}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return {
            "cpu": cpu.group(1).strip() if cpu else "unknown",
            "nproc": len(os.sched_getaffinity(0)),
            "mem_gib": round(mem / 1048576, 1) if mem else None,
            "kernel": os.uname().release,
            "glibc": (os.confstr("CS_GNU_LIBC_VERSION") or "").replace("glibc ", ""),
            "go": cmd([self.opts.go, "version"]),
            "gnuplot": cmd(["gnuplot", "--version"]),
            "hwcap2": hwcap2, "fsgsbase": fsgsbase,
            "syscall_ns": best.get("syscall_getppid"),
            "arch_prctl_ns": best.get("syscall_arch_prctl_set_fs"),
            "wrfsbase_ns": best.get("fs_base_wrfsbase"),
            "page_fault_ns": best.get("page_fault_first_touch"),
            "native_thread_limit": limit[0], "native_thread_limit_why": limit[1],
            "max_map_count": read_int("/proc/sys/vm/max_map_count"),
            "stack_kib": resource.getrlimit(resource.RLIMIT_STACK)[0] // 1024
            if resource.getrlimit(resource.RLIMIT_STACK)[0] > 0 else None,
            "nofile": self.nofile,
            "revision": rev,
            "buildtype": (f"meson buildtype {opts.get('buildtype')} "
                          f"(-O{opts.get('optimization')})" if opts else "unknown"),
            "gmpt_env": " ".join(f"{k}={v}" for k, v in sorted(self.gmpt_extra.items())),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the meson build directory")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated row ids (for debugging)")
    ap.add_argument("--go", default="go")
    ap.add_argument("--servers", action="store_true",
                    help="also the real-server rows (MariaDB under sysbench, Apache under wrk)")
    ap.add_argument("--server-time", type=int, default=0,
                    help="seconds of load per server run (default 10; 3 with --quick)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="cap every run's timeout at this many seconds (for tests)")
    opts = ap.parse_args()

    if not opts.server_time:
        opts.server_time = 3 if opts.quick else 10
    rows = rows_for(opts.quick)
    # Named in --only, a server row runs without --servers too.
    srows = server_rows()
    want = set(opts.only.split(",")) if opts.only else set()
    if opts.servers or want & {r.id for r in srows}:
        rows += srows
    if opts.only:
        want = set(opts.only.split(","))
        unknown = want - {r.id for r in rows}
        if unknown:
            ids = ", ".join(r.id for r in rows)
            sys.exit(f"bench: unknown row(s) {', '.join(sorted(unknown))}; rows: {ids}")
        rows = [r for r in rows if r.id in want]
    runner = Runner(opts)
    why = runner.preflight()
    if why:
        log(why)
        return 2
    runner.server_skip = ""
    if any(r.kind == "server" for r in rows):
        runner.server_skip = runner.prepare_servers()
        if runner.server_skip:
            log("the server rows are skipped: " + runner.server_skip)
    t0 = time.monotonic()
    machine = runner.machine()
    log(f"{machine['nproc']} CPUs ({machine['cpu']}), kernel {machine['kernel']}, glibc "
        f"{machine['glibc']}, {machine['go']}; a system call costs "
        f"{machine['syscall_ns'] or 0:,.0f} ns, arch_prctl(ARCH_SET_FS) "
        f"{machine['arch_prctl_ns'] or 0:,.0f} ns"
        + (f", wrfsbase {machine['wrfsbase_ns']:,.1f} ns" if machine.get("wrfsbase_ns") else "")
        + ", a page fault "
        f"{machine['page_fault_ns'] or 0:,.0f} ns")
    results = runner.run_rows(rows)
    counts, method = runner.count_rows(rows, results)
    doc = {
        "machine": machine, "runs": opts.runs, "quick": opts.quick,
        "columns": list(COLUMNS), "rows": [r.spec(opts.quick) for r in rows],
        "results": results, "counts": counts, "count_method": method,
        "elapsed_s": round(time.monotonic() - t0),
        "loadavg": runner.load,
    }
    with open(os.path.join(opts.workdir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    log(f"all runs done in {doc['elapsed_s'] // 60} min {doc['elapsed_s'] % 60} s")
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
