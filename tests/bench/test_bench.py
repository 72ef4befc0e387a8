#!/usr/bin/env python3
"""scripts/bench's runner and report, checked without running a benchmark.

The runner (bench/bench_run.py) is pointed at a fake build directory whose
"benchmarks" are shell scripts that answer like the real ones, except that
some columns fail, hang or print nothing: the runner must bound every run,
record each failure with its reason, keep going, and exit 1.  The report
(bench/bench_report.py) then has to show those failures, take every ratio
round by round, and explain a loss from the counted system calls.  No
timing is asserted: performance never gates CI.

usage: test_bench.py SOURCE-ROOT
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = None

# A fake benchmark: answers like the real program, per column.  The column
# is told by the environment the runner gives it: GMPT_TLS=shared, or
# LD_PRELOAD (gmpt), or the Go directory it lives in, or neither (native).
FAKE = r"""#!/bin/sh
name=$(basename "$0")
col=native
case "$0" in */go/*) col=go ;; esac
[ -n "$LD_PRELOAD" ] && col=gmpt
[ "$GMPT_TLS" = shared ] && col=shared
[ -n "$FAKE_LOG" ] && echo "$name $col ${1:-}" >>"$FAKE_LOG"
case "$name" in
syscall_cost)
    echo "RESULT name=syscall_getppid ns_per_op=1000.0 ops=1 elapsed_ns=1"
    echo "RESULT name=syscall_arch_prctl_set_fs ns_per_op=3000.0 ops=1 elapsed_ns=1"
    echo "RESULT name=page_fault_first_touch ns_per_op=20000.0 ops=1 elapsed_ns=1"
    exit 0 ;;
esac
# pingpong's columns misbehave in three different ways.
if [ "$name" = pingpong ] && [ "${1:-}" != 0 ] && [ "${1:-}" != 1 ]; then
    case "$col" in
    shared) exec sleep 600 ;;                      # hangs
    go) echo "fake: go twin crashed" >&2; exit 3 ;; # fails
    esac
fi
# ns/op per column: the gmpt column is slower than native.
case "$col" in
native) ns=1000 ;; gmpt) ns=4000 ;; shared) ns=100 ;; go) ns=200 ;;
esac
echo "RESULT name=$name ns_per_op=$ns.0 ops=${1:-1} elapsed_ns=1"
"""


def make_fake_build(d):
    """A build directory the runner accepts: libgmpt.so (any loadable
    library: glibc's libdl stub) and the programs as fake scripts."""
    os.makedirs(os.path.join(d, "bench", "go"))
    lib = None
    for cand in ("/lib/x86_64-linux-gnu/libdl.so.2", "/usr/lib/x86_64-linux-gnu/libdl.so.2",
                 "/lib64/libdl.so.2"):
        if os.path.exists(cand):
            lib = cand
            break
    if not lib:
        raise unittest.SkipTest("no libdl.so.2 to stand in for libgmpt.so")
    shutil.copy(lib, os.path.join(d, "libgmpt.so"))
    for sub in ("bench", os.path.join("bench", "go")):
        for name in ("create_join", "pingpong", "echo_server", "syscall_cost"):
            p = os.path.join(d, sub, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(FAKE)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class RunnerAndReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gmpt-test-bench.")
        cls.build = os.path.join(cls.tmp, "build")
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(cls.work)
        make_fake_build(cls.build)
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        cls.log = os.path.join(cls.tmp, "order.log")
        env["FAKE_LOG"] = cls.log
        cls.proc = subprocess.run(
            [sys.executable, os.path.join(ROOT, "bench", "bench_run.py"), "--build", cls.build,
             "--workdir", cls.work, "--runs", "2", "--quick", "--only",
             "create_join,pingpong", "--timeout", "2"],
            capture_output=True, text=True, timeout=300, env=env)
        path = os.path.join(cls.work, "results.json")
        cls.doc = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                cls.doc = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_runner_exit_status_says_runs_failed(self):
        self.assertEqual(self.proc.returncode, 1, self.proc.stderr)

    def test_hung_run_is_bounded_and_reported(self):
        recs = self.doc["results"]["pingpong"]["shared"]
        self.assertEqual(recs[0]["status"], "fail")
        self.assertIn("timeout after 2", recs[0]["why"])
        # Not run again after the failure, and said so.
        self.assertEqual(len(recs), 2)
        self.assertIn("not run again", recs[1]["why"])
        self.assertIn("pingpong: shared run 1 FAILED: timeout", self.proc.stderr)

    def test_failed_run_keeps_its_reason(self):
        rec = self.doc["results"]["pingpong"]["go"][0]
        self.assertEqual(rec["status"], "fail")
        self.assertIn("exit status 3", rec["why"])
        self.assertIn("go twin crashed", rec["why"])

    def test_other_columns_still_ran(self):
        for col in ("native", "gmpt"):
            recs = self.doc["results"]["pingpong"][col]
            self.assertEqual([r["status"] for r in recs], ["ok", "ok"], col)
        for col in ("native", "gmpt", "shared", "go"):
            recs = self.doc["results"]["create_join"][col]
            self.assertEqual([r["status"] for r in recs], ["ok", "ok"], col)

    def test_rounds_rotate_the_column_order(self):
        self.assertIn("2 rounds of native/gmpt/shared/go", self.proc.stderr)
        with open(self.log, encoding="utf-8") as f:
            # create_join's timed runs (quick size 2000; the counted runs
            # have other sizes).
            order = [ln.split()[1] for ln in f if ln.split()[0] == "create_join"
                     and ln.split()[2:] == ["2000"]]
        self.assertEqual(order, ["native", "gmpt", "shared", "go",
                                 "gmpt", "shared", "go", "native"])

    def test_report_shows_failures_and_ratios(self):
        out = os.path.join(self.tmp, "perf.md")
        plots = os.path.join(self.tmp, "perf")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_report.py"),
                            "--results", os.path.join(self.work, "results.json"), "--write",
                            out, "--plots", plots], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8") as f:
            md = f.read()
        # Failures are in the document with their reasons, not dropped.
        self.assertIn("**Runs that failed**", md)
        self.assertIn("pingpong**, gmpt, shared TLS: FAILED: timeout after 2", md)
        self.assertIn("pingpong**, Go: FAILED: exit status 3", md)
        # Ratios: native 1000 ns against gmpt 4000 ns in every round.
        self.assertIn("| create_join | **0.25x** (0.25x–0.25x) | **10x** (10x–10x) | "
                      "**5.0x** (5.0x–5.0x) |", md)
        # A loss against native is listed and explained.
        self.assertIn("- **create_join**, gmpt: 0.25x native", md)
        self.assertIn("**Where gmpt loses (gmpt against native):**", md)
        # Every column has its header.
        for head in ("native (NPTL) ns/op", "gmpt ns/op", "gmpt, shared TLS ns/op",
                     "Go ns/op"):
            self.assertIn(head, md)
        if shutil.which("gnuplot"):
            with open(os.path.join(plots, "micro.png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


class ReportCounts(unittest.TestCase):
    """The loss explanation weighs the extra system calls at their cost."""

    def test_extra_calls_are_costed(self):
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        import bench_report  # noqa: E402  (the path is set just above)

        tmp = tempfile.mkdtemp(prefix="gmpt-test-report.")
        try:
            def perf(name, total, arch):
                with open(os.path.join(tmp, name + ".perf"), "w", encoding="utf-8") as f:
                    f.write(f"{total},,raw_syscalls:sys_enter,1,100.00,,\n"
                            f"{arch},,syscalls:sys_enter_arch_prctl,1,100.00,,\n"
                            "0,,page-faults,1,100.00,,\n0,,context-switches,1,100.00,,\n")
            perf("n.base", 10, 0)
            perf("n.run", 10, 0)
            perf("g.base", 10, 0)
            perf("g.run", 1010, 1000)
            spec = {"id": "pingpong", "label": "pingpong", "group": "micro",
                    "prog": "pingpong", "args": "1", "count": "1000", "procs": None,
                    "threads": 1, "kind": "prog", "n": None}
            res = {c: [{"status": "ok", "value": v, "round": 1, "kv": {}}]
                   for c, v in (("native", 1000.0), ("gmpt", 4000.0), ("shared", 100.0),
                                ("go", 200.0))}
            counts = {"native": {"base": "n.base", "run": "n.run", "ops": "1000"},
                      "gmpt": {"base": "g.base", "run": "g.run", "ops": "1000"}}
            row = bench_report.Row(spec, res, counts, {"syscall_ns": 1000.0,
                                                       "arch_prctl_ns": 3000.0,
                                                       "nproc": 2}, tmp)
            text = bench_report.loss_text(row, "gmpt", "native")
            self.assertIn("`arch_prctl` +1.00 (≈3,000 ns)", text)
            self.assertIn("against 3,000 ns by which each op takes a thread longer", text)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ROOT = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    unittest.main(verbosity=2)
