#!/usr/bin/env python3
"""tests/dump/fork_dump_test.py LIB PROG - GMPT_DUMP_SIGNAL in forked
children (a server's workers are fork children of the process that loaded
gmpt).

PROG (fork_dump.c) runs preloaded with GMPT_DUMP_SIGNAL=SIGUSR1: a parent
with a thread, its forked child with three, the child's forked grandchild
with two. The test sends the signal to the child, the grandchild, then the
parent, one at a time, and reads each one's dump from the stderr they
share: it must come, and list that process's threads, by name, and none of
the others' (a child must not show its parent's threads, which do not
exist in it). Without a working dump in fork children no dump comes from
the child and the test fails.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

LIMIT = 60  # seconds to wait for a dump (a state, not a timing)
ENTRY = re.compile(r'^G\d+ "([^"]*)" ')
END = 'gmpt: end of thread dump'

THREADS = {
    'parent': {'parent-worker'},
    'child': {'child-worker-0', 'child-worker-1', 'child-worker-2'},
    'grandchild': {'grandchild-0', 'grandchild-1'},
}


def main():
    lib, prog = os.path.abspath(sys.argv[1]), sys.argv[2]
    env = dict(os.environ, LD_PRELOAD=lib, GMPT_DUMP_SIGNAL='SIGUSR1')
    p = subprocess.Popen([prog], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    dumps, cv = [], threading.Condition()

    def read_stderr():
        cur = None
        for raw in p.stderr:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            sys.stderr.write(line + '\n')
            if line.startswith('gmpt: thread dump ('):
                cur = []
            elif line == END and cur is not None:
                with cv:
                    dumps.append(cur)
                    cv.notify_all()
                cur = None
            elif cur is not None:
                m = ENTRY.match(line)
                if m:
                    cur.append(m.group(1))

    threading.Thread(target=read_stderr, daemon=True).start()
    pids = {}
    while len(pids) < 3:
        line = p.stdout.readline().decode()
        if not line:
            break
        role, pid = line.split()
        pids[role] = int(pid)
    failures = []
    if len(pids) < 3:
        failures.append('only %s started' % sorted(pids))
    for role in ('child', 'grandchild', 'parent'):
        if role not in pids:
            continue
        with cv:
            before = len(dumps)
        os.kill(pids[role], signal.SIGUSR1)
        deadline = time.monotonic() + LIMIT
        with cv:
            while len(dumps) == before and time.monotonic() < deadline:
                cv.wait(deadline - time.monotonic())
            if len(dumps) == before:
                failures.append('no dump from the %s within %d s' % (role, LIMIT))
                continue
            names = set(dumps[before])
        missing = THREADS[role] - names
        others = set().union(*(t for r, t in THREADS.items() if r != role)) & names
        if missing:
            failures.append('the %s\'s dump lacks %s' % (role, sorted(missing)))
        if others:
            failures.append('the %s\'s dump lists other processes\' threads %s' %
                            (role, sorted(others)))
        if not missing and not others:
            print('ok: the %s\'s dump lists its threads: %s' % (role, sorted(names)))
    p.stdin.close()
    status = p.wait(timeout=LIMIT)
    if status != 0:
        failures.append('the program exited with status %d' % status)
    for f in failures:
        print('FAIL: ' + f, file=sys.stderr)
    sys.exit(1 if failures else 0)


main()
