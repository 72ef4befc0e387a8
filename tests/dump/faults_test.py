#!/usr/bin/env python3
"""tests/dump/faults_test.py LIB PROG - SIGSEGV with and without gmpt.

PROG is faults.c. Each case runs natively and preloaded (default Ps and
GMPT_PROCS=1), with core dumps off:

  overflow    both die of SIGSEGV; preloaded, stderr has exactly one line
              'gmpt: thread G<n> "recurser" overflowed its 65536-byte
              stack (guard page hit at 0x<addr>)'; natively, none;
  overflow-off-main
              the same on a kernel thread other than the first (main
              blocks the first in a read; GMPT_PROCS=2 preloaded);
  overflow-crash-handler, overflow-altstack-handler
              the same with the program's own SIGSEGV handler: without a
              signal stack both die of SIGSEGV, with one the handler runs
              (exit 42); preloaded, the report comes first;
  overflow-past-guards
              natively dies of SIGSEGV; preloaded, of SIGABRT after
              'gmpt: fatal: stack overflow in thread ...' (the stack has a
              canary, not a guard page: past a quarter of vm.max_map_count
              threads);
  wild-write  both die of SIGSEGV; no overflow report;
  sent        both die of SIGSEGV; no overflow report;
  handled     both exit 0 printing "recovered 4": the program's own
              SIGSEGV handler runs (and siglongjmps) under gmpt too.

Without the overflow report the overflow case fails; with a SIGSEGV
handler that swallowed or misrouted faults the others would.
"""
import os
import re
import resource
import signal
import subprocess
import sys

REPORT = re.compile(r'^gmpt: thread G(\d+) "recurser" overflowed its 65536-byte stack '
                    r'\(guard page hit at 0x[0-9a-f]+\)$')
failures = []


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(prog, mode, env):
    # stdin: a pipe kept open and never written (overflow-off-main blocks
    # reading it).
    rfd, wfd = os.pipe()
    try:
        r = subprocess.run([prog, mode], env=env, capture_output=True, timeout=120,
                           preexec_fn=no_core, stdin=rfd)
    finally:
        os.close(rfd)
        os.close(wfd)
    return r.returncode, r.stdout.decode(errors='replace'), r.stderr.decode(errors='replace')


def check(label, cond, detail):
    if cond:
        print('ok: ' + label)
    else:
        failures.append(label)
        print('FAIL: %s: %s' % (label, detail), file=sys.stderr)


def main():
    lib, prog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    native = dict(os.environ)
    native.pop('LD_PRELOAD', None)
    runs = [('native', native)]
    for extra in ({}, {'GMPT_PROCS': '1'}):
        env = dict(native)
        env['LD_PRELOAD'] = lib
        env.update(extra)
        runs.append(('preloaded' + ''.join(' %s=%s' % kv for kv in extra.items()), env))
    segv = -int(signal.SIGSEGV)
    for name, env in runs:
        pre = name != 'native'
        st, out, err = run(prog, 'overflow', env)
        reports = [l for l in err.splitlines() if 'overflowed' in l]
        check('%s overflow: dies of SIGSEGV' % name, st == segv,
              'status %d, stderr %s' % (st, err))
        if pre:
            check('%s overflow: one report' % name,
                  len(reports) == 1 and REPORT.match(reports[0]), 'stderr: %s' % err)
        else:
            check('%s overflow: no report' % name, not reports, 'stderr: %s' % err)
        # On a kernel thread other than the first (its own signal stack).
        off_env = dict(env)
        if pre:
            off_env['GMPT_PROCS'] = '2'
        st, out, err = run(prog, 'overflow-off-main', off_env)
        reports = [l for l in err.splitlines() if 'overflowed' in l]
        check('%s overflow-off-main: dies of SIGSEGV, %s report' % (name, 'one' if pre else 'no'),
              st == segv and len(reports) == (1 if pre else 0) and
              (not pre or REPORT.match(reports[0])), 'status %d, stderr %s' % (st, err))
        # The program's own SIGSEGV handler does not hide the report.
        for mode, want in (('overflow-crash-handler', segv), ('overflow-altstack-handler', 42)):
            st, out, err = run(prog, mode, env)
            reports = [l for l in err.splitlines() if 'overflowed' in l]
            ran = "the program's handler ran" in err
            check('%s %s: status %d' % (name, mode, want), st == want and ran == (want == 42),
                  'status %d, stderr %s' % (st, err))
            check('%s %s: %s report' % (name, mode, 'one' if pre else 'no'),
                  len(reports) == (1 if pre else 0) and (not pre or REPORT.match(reports[0])),
                  'stderr: %s' % err)
        st, out, err = run(prog, 'overflow-past-guards', env)
        if pre:
            check('%s overflow-past-guards: dies of SIGABRT with the canary report' % name,
                  st == -int(signal.SIGABRT) and 'gmpt: fatal: stack overflow in thread' in err,
                  'status %d, stderr %s' % (st, err))
        else:
            check('%s overflow-past-guards: dies of SIGSEGV' % name, st == segv,
                  'status %d, stderr %s' % (st, err))
        for mode in ('wild-write', 'sent'):
            st, out, err = run(prog, mode, env)
            check('%s %s: dies of SIGSEGV, no report' % (name, mode),
                  st == segv and 'overflowed' not in err, 'status %d, stderr %s' % (st, err))
        st, out, err = run(prog, 'handled', env)
        check('%s handled: the program\'s handler recovers' % name,
              st == 0 and out == 'recovered 4\n' and 'gmpt' not in err,
              'status %d, stdout %r, stderr %s' % (st, out, err))
    if failures:
        print('%d failure(s)' % len(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
