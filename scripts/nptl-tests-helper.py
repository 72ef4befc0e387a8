#!/usr/bin/env python3
"""Helper of scripts/nptl-tests: plans, builds the make rules for, and runs
glibc's own nptl tests against the installed glibc, natively and with
libgmpt.so preloaded.

  nptl-tests-helper.py plan SRC BUILD        write BUILD/plan.json, BUILD/build.mk
  nptl-tests-helper.py run BUILD GMPT_LIB [REGEX]
                                             run the built tests, print the table
  nptl-tests-helper.py table BUILD           print the last results again

The test list and each test's flags come from glibc's own makefiles
(nptl/Makefile and sysdeps/pthread/Makefile), evaluated by GNU make with a
stub Makeconfig and Rules: glibc's build system itself cannot run outside a
configured glibc tree, but its per-test variables (CFLAGS-t.c, LDFLAGS-t,
t-ENV, t-ARGS, the modules a test links or loads) are plain make variables.
Nothing of glibc is copied: the sources are compiled where they lie.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

# Directories a test's source may live in, in glibc's sysdeps search order
# for x86_64 Linux (the first hit wins, as with glibc's vpath); only tests
# whose source is in nptl/ or sysdeps/pthread/ are taken.
SEARCH = [
    "sysdeps/unix/sysv/linux/x86_64/64",
    "sysdeps/unix/sysv/linux/x86_64",
    "sysdeps/unix/sysv/linux/x86",
    "sysdeps/x86/nptl",
    "sysdeps/x86_64/nptl",
    "sysdeps/unix/sysv/linux",
    "sysdeps/nptl",
    "sysdeps/pthread",
    "sysdeps/x86_64",
    "sysdeps/x86",
    "nptl",
]
OWN_DIRS = ("nptl", "sysdeps/pthread")

# The stub that stands for glibc's configured Makeconfig: the answers a
# shared, C++-capable x86_64 build gives, whose tests run as ordinary
# programs, not through an explicit ld.so (build-hardcoded-path-in-tests:
# tst-pthread-gdb-attach then lets gdb find the program's symbols itself).  @OBJ@ marks the build directory
# and @PROG@ the test program's own command line, both put in at run time.
STUB_MAKECONFIG = """\
build-shared := yes
build-hardcoded-path-in-tests := yes
have-z-execstack := yes
have-cxx-thread_local := yes
CXX := g++
run-built-tests := yes
objpfx := @OBJ@/
common-objpfx := @OBJ@/
host-test-program-cmd := @PROG@
libpthread-routines-var := routines
"""

# The stub Rules: glibc's Rules pulls in the sysdeps makefiles after the
# subdirectory's own first part (so their "tests +=" add to its "tests =").
STUB_RULES = """\
include $(SRC)/sysdeps/pthread/Makefile
"""

# Read after the whole subdirectory makefile (some per-test variables follow
# its "include ../Rules"): prints every variable this helper needs, one per
# line, for the names given in NAMES.  "<" is set to the test's source so
# that patterns such as tst-initializers1's "-std=$(patsubst ...,$<)" expand
# as they do in glibc's compile rule.
STUB_PRINT = """\
LISTS := tests tests-internal tests-static tests-container xtests xtests-static \\
  modules-names libsupport-routines
$(foreach v,$(LISTS),$(info LIST $(v)=$(strip $($(v)))))
define show
$(eval <:=$(1).c)
$(info VAR $(1) CFLAGS=$(strip $(CFLAGS-$(1).c) $(CPPFLAGS-$(1).c) $(CFLAGS-$(1).o)))
$(info VAR $(1) LDFLAGS=$(strip $(LDFLAGS-$(1)) $(LDFLAGS-$(1).so)))
$(info VAR $(1) LDLIBS=$(strip $(LDLIBS-$(1))))
$(info VAR $(1) ARGS=$(strip $($(1)-ARGS)))
$(info VAR $(1) ENV=$(strip $($(1)-ENV)))
endef
$(foreach t,$(NAMES),$(call show,$(t)))
all: ;
"""

SUPPORT_PATHS = {
    # support_paths.c wants the paths of a glibc build and install; these
    # are the installed glibc's.
    "OBJDIR_PATH": "@BUILD@",
    "OBJDIR_ELF_LDSO_PATH": "/lib64/ld-linux-x86-64.so.2",
    "INSTDIR_PATH": "/",
    "LIBDIR_PATH": "/usr/lib/x86_64-linux-gnu",
    "BINDIR_PATH": "/usr/bin",
    "SBINDIR_PATH": "/usr/sbin",
    "SLIBDIR_PATH": "/lib/x86_64-linux-gnu",
    "ROOTSBINDIR_PATH": "/sbin",
    "COMPLOCALEDIR_PATH": "/usr/lib/locale",
}

# A shim for the few glibc-internal macros the support library's and the
# tests' headers use; glibc's include/ wrappers are reached only after the
# installed headers (-idirafter), so they fill in headers that are not
# installed (array_length.h, intprops.h, ...) and never replace one that is.
SHIM_H = """\
/* Written by gmpt's scripts/nptl-tests-helper.py: stands in for the
   configured glibc tree glibc's tests are normally built in.  */
#include <limits.h>
#define libc_hidden_proto(...)
#define libc_hidden_def(...)
#define attribute_hidden
"""
CONFIG_H = "/* the installed glibc's configuration is in its headers */\n"


def make_vars(src, work, makefile, names=""):
    os.makedirs(os.path.join(work, "sub"), exist_ok=True)
    with open(os.path.join(work, "Makeconfig"), "w") as f:
        f.write(STUB_MAKECONFIG)
    with open(os.path.join(work, "Rules"), "w") as f:
        f.write(STUB_RULES)
    with open(os.path.join(work, "print.mk"), "w") as f:
        f.write(STUB_PRINT)
    out = subprocess.run(
        ["make", "-s", "-p", "-f", os.path.join(src, makefile),
         "-f", os.path.join(work, "print.mk"), "SRC=" + src,
         "NAMES=" + names, "all"],
        cwd=os.path.join(work, "sub"), capture_output=True, text=True)
    lists, vars_, deps = {}, {}, {}
    for line in out.stdout.splitlines():
        if line.startswith("LIST "):
            k, _, v = line[5:].partition("=")
            lists[k] = v.split()
        elif line.startswith("VAR "):
            name, _, rest = line[4:].partition(" ")
            k, _, v = rest.partition("=")
            vars_.setdefault(name, {})[k] = v
        else:
            # The rule database: "@OBJ@/t: prereqs" (what t links) and
            # "@OBJ@/t.out: prereqs" (what t loads when run).
            m = re.match(r"^@OBJ@/([^\s:]+):\s+(.*)$", line)
            if m and not line.startswith("#"):
                deps.setdefault(m.group(1), set()).update(
                    p[len("@OBJ@/"):] for p in m.group(2).split()
                    if p.startswith("@OBJ@/"))
    return lists, vars_, deps


def find_source(src, name):
    for d in SEARCH:
        for ext in (".c", ".cc"):
            p = os.path.join(src, d, name + ext)
            if os.path.exists(p):
                return d, p
    return None, None


def plan(src, build):
    src = os.path.abspath(src)
    build = os.path.abspath(build)
    work = os.path.join(build, "mk")
    lists, _, _ = make_vars(src, work, "nptl/Makefile")
    static = set(lists.get("tests-static", []) + lists.get("xtests-static", []))
    kinds = {}
    for kind in ("tests", "tests-internal", "tests-container", "xtests"):
        for t in lists.get(kind, []):
            kinds.setdefault(t, kind)
    modules = lists.get("modules-names", [])
    names = " ".join(list(kinds) + modules)
    _, vars_, deps = make_vars(src, work, "nptl/Makefile", names)
    sup_lists, _, _ = make_vars(src, work + "-support", "support/Makefile")
    routines = sup_lists.get("libsupport-routines", [])

    tests, skipped = [], []
    for t, kind in kinds.items():
        d, path = find_source(src, t)
        if t in static:
            skipped.append((t, "statically linked: LD_PRELOAD cannot apply"))
            continue
        if path is None:
            skipped.append((t, "no source file (generated or a script)"))
            continue
        if d not in OWN_DIRS:
            skipped.append((t, "source outside nptl/ and sysdeps/pthread/ (%s)" % d))
            continue
        v = vars_.get(t, {})
        d_ = deps.get(t, set())
        out_deps = sorted(x for x in deps.get(t + ".out", set())
                          if x.endswith(".so"))
        tests.append({
            "name": t, "kind": kind, "src": path, "dir": d,
            "cxx": path.endswith(".cc"),
            "cflags": v.get("CFLAGS", ""), "ldflags": v.get("LDFLAGS", ""),
            "ldlibs": v.get("LDLIBS", ""), "args": v.get("ARGS", ""),
            "env": v.get("ENV", ""),
            "link": sorted(x for x in d_ if x.endswith((".so", ".o"))),
            "load": out_deps,
            "timeout": test_timeout(path),
        })
    mods = []
    for m in modules:
        d, path = find_source(src, m)
        if path is None:
            continue
        v = vars_.get(m, {})
        mods.append({"name": m, "src": path, "dir": d,
                     "cflags": v.get("CFLAGS", ""),
                     "ldflags": v.get("LDFLAGS", ""),
                     "link": sorted(x for x in deps.get(m + ".so", set())
                                    if x.endswith(".so"))})
    # Loaded objects that are copies of a module (tst-stack4 loads 400
    # copies of tst-stack4mod.so under other names).
    modnames = {m["name"] + ".so" for m in mods}
    copies = {}
    for t in tests:
        for x in t["load"]:
            if x.endswith(".so") and x not in modnames:
                base = next((m for m in modnames
                             if x.startswith(m[:-3] + "-")), None)
                if base:
                    copies[x] = base
    p = {"src": src, "build": build, "tests": tests, "modules": mods,
         "copies": copies, "support": routines, "skipped": skipped}
    with open(os.path.join(build, "plan.json"), "w") as f:
        json.dump(p, f, indent=1)
    write_makefile(p)
    print("planned %d tests, %d modules, %d support routines; %d not planned"
          % (len(tests), len(mods), len(routines), len(skipped)))


def test_timeout(path):
    """The test's own TIMEOUT (seconds, support/test-driver.h), default 20."""
    try:
        with open(path, errors="replace") as f:
            m = re.search(r"^#\s*define\s+TIMEOUT\s+\(?\s*(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else 20
    except OSError:
        return 20


def write_makefile(p):
    src, build = p["src"], p["build"]
    shim = os.path.join(build, "shim")
    os.makedirs(os.path.join(shim, "inc"), exist_ok=True)
    with open(os.path.join(shim, "shim.h"), "w") as f:
        f.write(SHIM_H)
    with open(os.path.join(shim, "config.h"), "w") as f:
        f.write(CONFIG_H)
    # <support/x.h> must resolve without putting glibc's source root (with
    # its own bits/ and sys/ trees) before the installed headers.
    link = os.path.join(shim, "inc", "support")
    if os.path.islink(link):
        os.unlink(link)
    os.symlink(os.path.join(src, "support"), link)
    after = " ".join("-idirafter " + os.path.join(src, d) for d in (
        "support", "include", "sysdeps/x86_64", "sysdeps/x86",
        "sysdeps/generic", ""))
    common = ("-D_GNU_SOURCE -pthread -O1 -g -DTIMEOUTFACTOR=1 "
              "-I%s -I%s -include %s/shim.h %s"
              % (os.path.join(shim, "inc"), shim, shim, after))
    paths = " ".join("'-D%s=\"%s\"'" % (k, v.replace("@BUILD@", build))
                     for k, v in SUPPORT_PATHS.items())
    paths += " '-DSRCDIR_PATH=\"%s\"'" % src
    L = []
    w = L.append
    w("# Generated by scripts/nptl-tests-helper.py; every target logs to log/.")
    w("B := " + build)
    w("COMMON := " + common)
    w(".DELETE_ON_ERROR:")
    objs = []
    for r in p["support"]:
        o = "$(B)/support/%s.o" % r
        objs.append(o)
        w("%s: %s/support/%s.c $(B)/build.mk\n\t@mkdir -p $(B)/support $(B)/log\n"
          "\t-@gcc -c -fPIC $(COMMON) %s -o $@ $< >$(B)/log/support-%s.log 2>&1"
          % (o, src, r, paths, r))
    # libsupport.a holds whatever compiled; a test needing a routine that
    # did not fails to link, and that is recorded with the test.
    w("$(B)/libsupport.a: %s\n\trm -f $@; ar rcs $@ $$(for o in $^; do "
      "[ -f $$o ] && echo $$o; done)" % " ".join(objs))
    allt = ["$(B)/libsupport.a"]
    for m in p["modules"]:
        so = "$(B)/%s.so" % m["name"]
        links = " ".join("$(B)/" + x for x in m["link"])
        w("%s: %s %s $(B)/build.mk\n\t@mkdir -p $(B)/log\n\t-@gcc -shared -fPIC $(COMMON) "
          "-iquote %s %s -o $@ $< %s %s >$(B)/log/%s.log 2>&1"
          % (so, m["src"], links, os.path.join(src, m["dir"]), m["cflags"],
             links, m["ldflags"].replace("@OBJ@", build), m["name"]))
        allt.append(so)
    for copy, base in sorted(p["copies"].items()):
        w("$(B)/%s: $(B)/%s\n\t-@cp -f $< $@" % (copy, base))
        allt.append("$(B)/" + copy)
    # "" includes are searched like glibc's -I list: the test's directory,
    # then nptl/, sysdeps/pthread/ and the sysdeps directories (the
    # thread-affinity tests include a skeleton from sysdeps/unix/sysv/linux).
    iq = " ".join("-iquote " + os.path.join(src, d) for d in
                  list(OWN_DIRS) + [d for d in SEARCH if d not in OWN_DIRS])
    for t in p["tests"]:
        exe = "$(B)/bin/%s" % t["name"]
        links = " ".join("$(B)/" + x for x in t["link"])
        cc = "g++" if t["cxx"] else "gcc"
        extra = "-lstdc++" if t["cxx"] else ""
        # Link-time objects named in the rules (tst-cleanup4aux.o) are
        # compiled from their own source beside the test.
        for x in t["link"]:
            if x.endswith(".o"):
                d, s = find_source(src, x[:-2])
                if s:
                    w("$(B)/%s: %s\n\t-@gcc -c $(COMMON) %s -o $@ $< "
                      ">$(B)/log/%s.log 2>&1" % (x, s, iq, x))
        w("%s: %s $(B)/libsupport.a %s $(B)/build.mk\n\t@mkdir -p $(B)/bin $(B)/log\n"
          "\t-@%s $(COMMON) -iquote %s %s %s -o $@ $< %s $(B)/libsupport.a "
          "-Wl,-rpath,$(B) %s %s -lrt -ldl %s >$(B)/log/%s.build.log 2>&1"
          % (exe, t["src"], links, cc, os.path.join(src, t["dir"]), iq,
             t["cflags"], links, t["ldflags"].replace("@OBJ@", build),
             t["ldlibs"], extra, t["name"]))
        allt.append(exe)
    w("all: " + " ".join(allt))
    w(".DEFAULT_GOAL := all")
    # Rewritten only when it changes: every object depends on it, so new
    # flags rebuild, and an unchanged plan keeps the cache.
    text = "\n".join(L) + "\n"
    mk = os.path.join(build, "build.mk")
    try:
        with open(mk) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    with open(mk, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- running

def kill_session(sid):
    """SIGKILL every process of the session the test started: the test
    driver forks the test into its own process group, so killing one group
    would leave it running."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            pass


def run_one(cmd, env, limit, log, cwd):
    t0 = time.monotonic()
    with open(log, "wb") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=cwd,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_session(p.pid)
            p.wait()
            return "TIMEOUT", time.monotonic() - t0
        # The test driver's own children may outlive it (a hung fork).
        kill_session(p.pid)
    dt = time.monotonic() - t0
    if rc == 0:
        return "PASS", dt
    if rc == 77:
        return "UNSUPPORTED", dt
    if rc < 0:
        return "SIG" + signal.Signals(-rc).name[3:], dt
    return "FAIL(%d)" % rc, dt


def command(t, build, exe):
    prog = exe
    args = t["args"].replace("@PROG@", prog).replace("@OBJ@/", build + "/")
    env = {}
    for kv in shlex.split(t["env"].replace("@OBJ@//malloc/libc_malloc_debug.so",
                                           "libc_malloc_debug.so.0")
                          .replace("@OBJ@/", build + "/")):
        k, _, v = kv.partition("=")
        env[k] = v
    return [exe] + shlex.split(args), env


def run(build, gmpt, only):
    with open(os.path.join(build, "plan.json")) as f:
        p = json.load(f)
    # The test driver's TIMEOUTFACTOR for native runs: on a shared, loaded
    # machine some tests (tst-pthread-timedlock-lockloop) need more than
    # their nominal 20 s natively.
    native_scale = int(os.environ.get("NPTL_NATIVE_SCALE", "3"))
    # glibc runs its tests from the subdirectory's source directory:
    # tst-cancel4 opens "Makefile" there, and tst-pthread-gdb-attach loads
    # the build's nptl_db/libthread_db.so.1.  A run directory of links stands
    # in for both, so the source tree is never written.
    rundir = os.path.join(build, "run")
    os.makedirs(rundir, exist_ok=True)
    os.makedirs(os.path.join(build, "nptl_db"), exist_ok=True)
    for link, target in (
            (os.path.join(rundir, "Makefile"),
             os.path.join(p["src"], "nptl", "Makefile")),
            (os.path.join(build, "nptl_db", "libthread_db.so.1"),
             "/lib/x86_64-linux-gnu/libthread_db.so.1")):
        if not os.path.lexists(link):
            os.symlink(target, link)
    logdir = os.path.join(build, "log")
    rows = []
    for t in p["tests"]:
        name = t["name"]
        if only and not re.search(only, name):
            continue
        exe = os.path.join(build, "bin", name)
        if not os.path.exists(exe):
            row = {"name": name, "kind": t["kind"], "native": "BUILD-FAIL",
                   "gmpt": "-", "procs1": "-"}
            rows.append(row)
            print_row(row, flush=True)
            continue
        cmd, tenv = command(t, build, exe)
        base = dict(os.environ)
        base.pop("LD_PRELOAD", None)
        base.pop("TIMEOUTFACTOR", None)
        base.update({"LC_ALL": "C", "LD_LIBRARY_PATH": build})
        nenv = dict(base, TIMEOUTFACTOR=str(native_scale), **tenv)
        # Natively the test driver's own alarm (TIMEOUT, default 20 s, times
        # TIMEOUTFACTOR) is the limit; the outer one only catches a driver
        # that hangs.
        nlim = t["timeout"] * native_scale + 10
        res_n, dt = run_one(cmd, nenv, nlim, os.path.join(logdir, name + ".native.out"), rundir)
        # Preloaded: 5 times the native run plus 10 s; the driver's alarm is
        # pushed out of the way so the outer limit is the one that acts.
        glim = max(dt, 0.1) * 5 + 10
        res = {}
        for col, extra in (("gmpt", {}), ("procs1", {"GMPT_PROCS": "1"})):
            env = dict(nenv, **extra)
            env["TIMEOUTFACTOR"] = "100"
            pre = tenv.get("LD_PRELOAD")
            env["LD_PRELOAD"] = gmpt + (" " + pre if pre else "")
            res[col], _ = run_one(cmd, env, glim,
                                  os.path.join(logdir, "%s.%s.out" % (name, col)), rundir)
        row = {"name": name, "kind": t["kind"], "native": res_n,
               "native_s": round(dt, 2), **res}
        rows.append(row)
        print_row(row, flush=True)
    # A run of some tests (--only) updates their rows of the last full run.
    path = os.path.join(build, "results.json")
    if only and os.path.exists(path):
        with open(path) as f:
            old = {r["name"]: r for r in json.load(f)}
        old.update({r["name"]: r for r in rows})
        rows = [old[t["name"]] for t in p["tests"] if t["name"] in old]
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    summary(rows, p)


def print_row(r, flush=False):
    print("%-36s %-14s %-12s %-12s %-12s" % (
        r["name"], r["kind"], r["native"], r["gmpt"], r["procs1"]), flush=flush)


def summary(rows, p):
    built = [r for r in rows if r["native"] != "BUILD-FAIL"]
    npass = [r for r in built if r["native"] == "PASS"]
    print()
    print("tests planned: %d (not planned: %d, see plan.json 'skipped')"
          % (len(rows), len(p["skipped"])))
    print("built: %d   build failures: %d" % (len(built), len(rows) - len(built)))
    print("pass natively: %d   unsupported natively: %d" % (
        len(npass), sum(r["native"] == "UNSUPPORTED" for r in built)))
    for col in ("gmpt", "procs1"):
        ok = [r for r in npass if r[col] == "PASS"]
        print("%-7s pass: %d of the %d native passes" % (col, len(ok), len(npass)))
    print()
    print("native PASS, gmpt (default or GMPT_PROCS=1) not:")
    for r in npass:
        if r["gmpt"] != "PASS" or r["procs1"] != "PASS":
            print_row(r)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "plan":
        plan(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]),
            sys.argv[4] if len(sys.argv) > 4 else "")
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        build = os.path.abspath(sys.argv[2])
        with open(os.path.join(build, "plan.json")) as f:
            p = json.load(f)
        with open(os.path.join(build, "results.json")) as f:
            rows = json.load(f)
        for r in rows:
            print_row(r)
        summary(rows, p)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
