#!/usr/bin/env python3
"""tests/gdb/gdb_threads.py - scripts/gmpt-gdb.py against a live process and
its core file.

    gdb_threads.py LIBGMPT PROGRAM SCRIPT [--mutant NAME]

Runs PROGRAM (tests/gdb/parked_threads.c) preloaded with LIBGMPT under
`gdb -batch`, stops at all_threads_parked, sources SCRIPT and runs
"gmpt threads" and "gmpt bt" (plus "bt" before and after, which must agree:
the script must leave the threads as it found them), then writes a core
file and runs the same commands on it in a fresh gdb. The checks:

  - "gmpt threads" lists exactly main and the five threads, by name, each
    with its status: the four parked ones waiting with a wait reason, the
    spinner and main running on an M, main marked as gdb's thread;
  - "gmpt bt" of each shows its distinctive function (and the pthread call
    it is blocked in), frames numbered from #0, each in a known function,
    and, for a created thread, reaches the first frame of the G's stack
    (arch_context_trampoline);
  - "gmpt bt 3" agrees with G 3's part of "gmpt bt", also when run on the
    spinner's kernel thread, whose innermost frame is an inline one ("gmpt
    bt 3 2": two frames). G 3 is the first parked thread, as main is G 1
    and the spinner G 2.

With --mutant NAME the checks run twice: with SCRIPT, which must pass, then
with a copy of it that tells one deliberate lie (see MUTANTS), which must
not: the proof that the checks can fail.

There is no skip: gdb missing, or unable to run the program (ptrace not
permitted), fails the test.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

GDB_TIMEOUT = 120

# name: (text in gmpt-gdb.py, the lie that replaces it)
MUTANTS = {
    # Every G reported as waiting.
    "status": ('return {int(f.enumval): f.name[2:].lower() for f in t.fields()}',
               'return {int(f.enumval): "waiting" for f in t.fields()}'),
    # The saved return address read one word too low (the rbp slot).
    "saved-rip": ("_SAVED_RIP = 8", "_SAVED_RIP = 7"),
    # A running G's backtrace taken on gdb's thread, not on its M's.
    "no-switch": ("    th.switch()\n", "    pass\n"),
    # A parked G's backtrace that does not look past inline frames.
    "inline": ("    while real.type() == gdb.INLINE_FRAME and real.older() is not None:\n",
               "    while False:\n"),
    # Names made up.
    "name": ("def _g_name(g):\n", 'def _g_name(g):\n    return "x"\n'),
}

# Thread name -> (status, functions its backtrace must show).
EXPECTED = {
    "cond-waiter": ("waiting", ["waiting_in_cond_wait", "pthread_cond_wait"]),
    "mutex-waiter": ("waiting", ["waiting_for_mutex", "pthread_mutex_lock"]),
    "joiner": ("waiting", ["waiting_in_join", "pthread_join"]),
    "sleeper": ("waiting", ["waiting_in_sleep", "sleep"]),
    "spinner": ("running", ["spin_until_released", "spinning_on_a_p"]),
}
MAIN_FUNCTIONS = ["all_threads_parked", "main"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run_gdb(args, what):
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=GDB_TIMEOUT, text=True,
                           errors="replace")
    except subprocess.TimeoutExpired as e:
        fail("%s: gdb did not finish in %ds:\n%s" % (what, GDB_TIMEOUT, e.stdout or ""))
    return r.stdout


def sections(out):
    """The output between "@@NAME" markers, by NAME."""
    parts = {}
    name = None
    for line in out.splitlines():
        m = re.fullmatch(r"@@(\S+)", line.strip())
        if m:
            name = m.group(1)
            parts[name] = []
        elif name:
            parts[name].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}


def marker(name):
    return ["-ex", "echo @@%s\\n" % name]


# Selects the spinner's kernel thread, whose innermost frame is inline.
SELECT_SPINNER = ("python ts = [t for t in gdb.selected_inferior().threads() "
                  "if (t.switch() or gdb.newest_frame().name()) == 'spin_until_released']; "
                  "ts[0].switch()")


def commands(script):
    return (["-ex", "source " + script] + marker("bt-before") + ["-ex", "bt"] +
            marker("threads") + ["-ex", "gmpt threads"] +
            marker("info-threads") + ["-ex", "info gmpt-threads"] +
            marker("gmpt-bt") + ["-ex", "gmpt bt"] +
            marker("bt-after") + ["-ex", "bt"] +
            ["-ex", SELECT_SPINNER] + marker("spinner-bt") + ["-ex", "bt"] +
            marker("from-spinner") + ["-ex", "gmpt bt 3"] + marker("end"))


def parse_threads(text, problems):
    """Rows of "gmpt threads": name -> (id, status, rest, current)."""
    lines = [l for l in text.splitlines() if l.strip()]
    rows = {}
    if not lines or not re.match(r"\s*G\s+status\b", lines[0]):
        problems.append("no 'gmpt threads' header in:\n" + text)
        return rows
    for line in lines[1:]:
        current = line.startswith("*")
        words = line.lstrip("* ").split()
        if len(words) < 3 or not words[0].isdigit():
            problems.append("bad 'gmpt threads' line %r" % line)
            continue
        name = words[-1]
        if name in rows:
            problems.append("two threads named %r in:\n%s" % (name, text))
        rows[name] = (int(words[0]), words[1], words[2:-1], current)
    return rows


def check_threads(text, comm, problems):
    rows = parse_threads(text, problems)
    want = set(EXPECTED) | {comm}
    if set(rows) != want:
        problems.append("gmpt threads lists %s, expected %s" % (sorted(rows), sorted(want)))
    for name, (status, _) in EXPECTED.items():
        if name not in rows:
            continue
        gid, st, rest, current = rows[name]
        if st != status:
            problems.append("%s is %r, expected %r" % (name, st, status))
        if status == "waiting" and not rest:
            problems.append("%s: waiting without a wait reason" % name)
        if status == "running" and not any(re.fullmatch(r"M\d+", w) for w in rest):
            problems.append("%s: running but no M shown: %r" % (name, rest))
        if current:
            problems.append("%s marked as gdb's current thread" % name)
    if comm in rows:
        gid, st, rest, current = rows[comm]
        if st != "running" or not current:
            problems.append("main (%s) should be running and marked '*': %r"
                            % (comm, rows[comm]))
    return {name: row[0] for name, row in rows.items()}


def split_bt(text):
    """"gmpt bt" output: G id -> (header, frames)."""
    blocks = {}
    gid = None
    for line in text.splitlines():
        m = re.match(r"G (\d+) \S+.*:$", line)
        if m:
            gid = int(m.group(1))
            blocks[gid] = (line, [])
        elif gid is not None and line.startswith("#"):
            blocks[gid][1].append(line)
    return blocks


def frame_function(line):
    m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", line)
    return m.group(1) if m else None


def check_frames(who, frames, functions, thread_bottom, problems):
    if not frames:
        problems.append("%s: no frames" % who)
        return
    levels = [int(re.match(r"#(\d+)", f).group(1)) for f in frames]
    if levels != list(range(len(frames))):
        problems.append("%s: frames not numbered from #0: %s" % (who, levels))
    names = [frame_function(f) for f in frames]
    if None in names or "??" in names:
        problems.append("%s: frames without a function:\n  %s" % (who, "\n  ".join(frames)))
    for fn in functions:
        if fn not in names:
            problems.append("%s: no frame in %s:\n  %s" % (who, fn, "\n  ".join(frames)))
    if thread_bottom and names[-1] != "arch_context_trampoline":
        problems.append("%s: does not reach the G's first frame:\n  %s"
                        % (who, "\n  ".join(frames)))


def untimed(text):
    """gmpt threads output without the times waited (they move on)."""
    return [re.sub(r"\b\d+\.\d+s\b", "", l).split() for l in text.splitlines()]


def check_session(out, what, comm, problems):
    if "@@end" not in out:
        fail("%s: gdb did not get through the commands (is ptrace permitted? "
             "CI runs as root):\n%s" % (what, out))
    s = sections(out)
    before = [frame_function(l) for l in s.get("bt-before", "").splitlines()
              if l.startswith("#")]
    if before[:2] != MAIN_FUNCTIONS:
        fail("%s: gdb did not stop in all_threads_parked (is ptrace permitted? "
             "CI runs as root):\n%s" % (what, out))
    for name in ("threads", "info-threads", "gmpt-bt", "bt-after"):
        s.setdefault(name, "")
        if "Python Exception" in s[name] or "Error" in s[name]:
            problems.append("%s: error in %s:\n%s" % (what, name, s[name]))
    if untimed(s["threads"]) != untimed(s["info-threads"]):
        problems.append("%s: 'info gmpt-threads' differs from 'gmpt threads'" % what)
    if s["bt-after"] != s["bt-before"]:
        problems.append("%s: 'bt' changed after gmpt bt:\n%s\n---\n%s"
                        % (what, s["bt-before"], s["bt-after"]))
    ids = check_threads(s["threads"], comm, problems)
    blocks = split_bt(s["gmpt-bt"])
    if set(blocks) != set(ids.values()):
        problems.append("%s: gmpt bt shows Gs %s, gmpt threads %s"
                        % (what, sorted(blocks), sorted(ids.values())))
    for name, gid in ids.items():
        if gid not in blocks:
            continue
        header, frames = blocks[gid]
        if name == comm:
            check_frames("%s: main (G %d)" % (what, gid), frames, MAIN_FUNCTIONS, False,
                         problems)
        elif name in EXPECTED:
            if '"%s"' % name not in header:
                problems.append("%s: gmpt bt header %r lacks the name %s" % (what, header, name))
            check_frames("%s: %s (G %d)" % (what, name, gid), frames, EXPECTED[name][1], True,
                         problems)
    # gmpt bt of a parked G from a thread whose innermost frame is inline.
    spinner = [frame_function(l) for l in s.get("spinner-bt", "").splitlines()
               if l.startswith("#")]
    if spinner[:2] != EXPECTED["spinner"][1]:
        problems.append("%s: could not select the spinner's thread, or its frame 0 is "
                        "not inline:\n%s" % (what, s.get("spinner-bt")))
    if split_bt(s.get("from-spinner", "")).get(3) != blocks.get(3):
        problems.append("%s: 'gmpt bt 3' on the spinner's thread differs from G 3 in "
                        "'gmpt bt':\n%s" % (what, s.get("from-spinner")))
    return ids, blocks


def run_and_check(lib, prog, script, comm, tmp):
    """Both sessions with SCRIPT; the problems found. Exits at once when
    gdb could not run the program to the breakpoint."""
    core = os.path.join(tmp, "core")
    if os.path.exists(core):
        os.unlink(core)
    base = [shutil.which("gdb"), "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "set width 0"]
    live = run_gdb(
        base + ["-ex", "set startup-with-shell off",
                "-ex", "set environment LD_PRELOAD=" + lib,
                "-ex", "set environment GMPT_PROCS=2",
                "-ex", "set environment GMPT_PREEMPT=0",
                "-ex", "break all_threads_parked", "-ex", "run"] +
        commands(script) + ["-ex", "gmpt bt 3 2"] + marker("end-two-frames") +
        ["-ex", "generate-core-file " + core, "-ex", "kill", "--args", prog], "live")
    problems = []
    ids, blocks = check_session(live, "live", comm, problems)
    two = sections(live).get("end", "")  # "gmpt bt 3 2"
    if [f[:3] for f in split_bt(two).get(3, ("", []))[1]] != ["#0 ", "#1 "]:
        problems.append("live: 'gmpt bt 3 2' does not show two frames:\n" + two)
    if not os.path.exists(core):
        fail("live: gdb wrote no core file:\n" + live)
    dead = run_gdb(base + commands(script) + [prog, core], "core")
    check_session(dead, "core", comm, problems)
    if problems:
        problems.append("live session:\n%s\ncore session:\n%s" % (live, dead))
    return problems


def main():
    args = sys.argv[1:]
    mutant = None
    if len(args) == 5 and args[3] == "--mutant":
        mutant = args[4]
        args = args[:3]
    if len(args) != 3 or (mutant and mutant not in MUTANTS):
        print("usage: gdb_threads.py LIBGMPT PROGRAM SCRIPT [--mutant %s]"
              % "|".join(MUTANTS), file=sys.stderr)
        sys.exit(2)
    lib, prog, script = (os.path.abspath(a) for a in args)
    if not shutil.which("gdb"):
        fail("gdb is not installed (scripts/install-deps installs it)")
    comm = os.path.basename(prog)[:15]

    with tempfile.TemporaryDirectory(prefix="gmpt-gdb-") as tmp:
        problems = run_and_check(lib, prog, script, comm, tmp)
        if problems:
            fail("\n".join(problems))
        if not mutant:
            print("ok: gmpt threads and gmpt bt right on the live process and on its core")
            return
        # The same run with a script that lies must fail the checks.
        text = open(script).read()
        old, new = MUTANTS[mutant]
        if old not in text:
            fail("mutant %s: %r is no longer in %s: update MUTANTS" % (mutant, old, script))
        lying = os.path.join(tmp, "gmpt-gdb-mutant.py")
        with open(lying, "w") as f:
            f.write(text.replace(old, new))
        problems = run_and_check(lib, prog, lying, comm, tmp)
        if not problems:
            fail("mutant %s: the checks did not notice the lie" % mutant)
        print("ok: the script passes; mutant %s is caught (%d problems, first: %s)"
              % (mutant, len(problems) - 1, problems[0].splitlines()[0]))


if __name__ == "__main__":
    main()
