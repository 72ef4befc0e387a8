#!/usr/bin/env python3
"""tests/dump/stderr_lines_test.py LIB PROG - thread dumps and the program's
own stderr lines do not tear each other.

PROG (stderr_lines.c) runs preloaded with GMPT_DUMP_SIGNAL=SIGUSR1, its
threads writing whole lines to stderr (a pipe) without pause. The test asks
for DUMPS dumps, one after the other (each once the previous one has
ended), then stops the program, and parses every line of the captured
stderr: each must be a whole program line (its length and letters as the
line itself announces) or a whole dump line (header, entry, frame, note,
end marker), and each dump must list as many entries as its header says.
A dump written in pieces that cut lines lets program lines land inside dump
lines, which this catches.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

DUMPS = 30
LIMIT = 60  # seconds to wait for one dump (a state, not a timing)

PROG_LINE = re.compile(r'^prog t=(\d+) n=(\d+) len=(\d+) ([a-z]*) end$')
HEADER = re.compile(r'^gmpt: thread dump \((\d+) threads?\)$')
ENTRY = re.compile(r'^G\d+ "[^"]*" (runnable|running|syscall|waiting)( \S.*)?$')
FRAME = re.compile(r'^  #\d+ \S+ \([^)]*\)$')
NOTE = re.compile(r'^  \(.*\)$|^  \.\.\.$')
END = 'gmpt: end of thread dump'


def main():
    lib, prog = os.path.abspath(sys.argv[1]), sys.argv[2]
    env = dict(os.environ, LD_PRELOAD=lib, GMPT_DUMP_SIGNAL='SIGUSR1')
    p = subprocess.Popen([prog], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    lines, ends = [], [0]
    cv = threading.Condition()

    def read_stderr():
        for raw in p.stderr:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            with cv:
                lines.append(line)
                if line == END:
                    ends[0] += 1
                    cv.notify_all()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    failures = []
    if p.stdout.readline().strip() != b'ready':
        failures.append('the program did not start')
    for i in range(DUMPS):
        if failures:
            break
        os.kill(p.pid, signal.SIGUSR1)
        deadline = time.monotonic() + LIMIT
        with cv:
            while ends[0] <= i and time.monotonic() < deadline:
                cv.wait(deadline - time.monotonic())
            if ends[0] <= i:
                failures.append('dump %d did not come within %d s' % (i + 1, LIMIT))
    p.stdin.close()
    status = p.wait(timeout=LIMIT)
    reader.join(timeout=LIMIT)
    if status != 0:
        failures.append('the program exited with status %d' % status)

    prog_lines = dumps = 0
    open_dump = None  # [announced, entries, header line number]
    for no, line in enumerate(lines, 1):
        m = PROG_LINE.match(line)
        if m:
            tid, length, text = int(m.group(1)), int(m.group(3)), m.group(4)
            if len(text) != length or text != chr(ord('a') + tid) * length:
                failures.append('line %d: a torn program line: %r' % (no, line))
            prog_lines += 1
            continue
        m = HEADER.match(line)
        if m:
            if open_dump:
                failures.append('line %d: a dump starts inside another' % no)
            open_dump = [int(m.group(1)), 0, no]
            continue
        if line == END:
            if not open_dump:
                failures.append('line %d: an end marker without a dump' % no)
            elif open_dump[0] != open_dump[1]:
                failures.append('dump at line %d: %d entries, its header says %d' %
                                (open_dump[2], open_dump[1], open_dump[0]))
            open_dump = None
            dumps += 1
            continue
        if ENTRY.match(line):
            if not open_dump:
                failures.append('line %d: an entry outside a dump: %r' % (no, line))
            else:
                open_dump[1] += 1
            continue
        if (FRAME.match(line) or NOTE.match(line)) and open_dump:
            continue
        failures.append('line %d: neither a whole program line nor a dump line: %r' %
                        (no, line))
    if dumps != DUMPS:
        failures.append('%d whole dumps, expected %d' % (dumps, DUMPS))
    if prog_lines == 0:
        failures.append('no program line')
    for f in failures[:20]:
        print('FAIL: ' + f, file=sys.stderr)
    if failures:
        sys.exit(1)
    print('ok: %d dumps and %d program lines, none torn' % (dumps, prog_lines))


main()
