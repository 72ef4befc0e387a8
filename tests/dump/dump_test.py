#!/usr/bin/env python3
"""tests/dump/dump_test.py LIB PROG [--procs N] - GMPT_DUMP_SIGNAL.

Runs PROG (dump_threads.c) preloaded with GMPT_DUMP_SIGNAL=SIGUSR1 and:

parked: sends SIGUSR1 to the process until a dump shows every thread at
  its wait (threads announce themselves just before they block, so the
  first dumps may catch one on its way; this waits for a state, it does
  not time anything), then checks that dump line by line: one entry per
  thread, with the name each gave itself, its state, its wait reason, how
  long it has waited, and a backtrace through its distinctive function
  below the pthread entry point it blocks in. Then main dumps itself
  ("s" on its stdin): its own entry must say "(dumping)" with a backtrace through
  main_dumps_itself_zq. Then the program must finish normally.

all-parked: every thread is parked (main joins a thread reading a pipe),
  so the signal lands on a kernel thread in its scheduler, running no G:
  the dump lists both, none "(dumping)", with their backtraces.

storm: dumps again and again while threads are created, park and end:
  the program finishes correctly and every dump is complete and well
  formed.

own-handler: the program installs its own handler for SIGUSR1 and sends
  it to itself: the handler runs, no dump is printed, and gmpt prints one
  notice that the signal is now the program's.

ignored: SIGUSR1 is ignored when the program starts (as nohup leaves
  SIGHUP): it stays ignored (the process survives it), with one notice.

Without the feature there is no dump and the parked case fails.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time

LIMIT = 60  # seconds before a case gives up waiting for a state

ENTRY = re.compile(r'^G(\d+) "([^"]*)" (runnable|running|syscall|waiting)(.*)$')
FRAME = re.compile(r'^  #(\d+) (\S+?)(?:\+0x[0-9a-f]+)? \(([^)]*)\)$')

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg, file=sys.stderr)


def parse_dump(lines):
    """lines of one dump (header to end marker) -> (count, {name: entry})."""
    m = re.match(r'^gmpt: thread dump \((\d+) threads?\)$', lines[0])
    if not m:
        raise ValueError('bad dump header: %r' % lines[0])
    count = int(m.group(1))
    entries = []
    for line in lines[1:-1]:
        e = ENTRY.match(line)
        if e:
            # The rest is [ reason][ N ms][ on MK][ (dumping)]: take the
            # suffixes off from the end; what is left is the reason.
            rest, fields = e.group(4), {}
            for key, pat in (('dumping', r' \(dumping\)$'), ('m', r' on M(\d+)$'),
                             ('ms', r' (\d+) ms$')):
                m = re.search(pat, rest)
                fields[key] = m.group(m.lastindex or 0) if m else None
                rest = rest[:m.start()] if m else rest
            if rest and not rest.startswith(' '):
                raise ValueError('bad entry line: %r' % line)
            entries.append({
                'id': int(e.group(1)), 'name': e.group(2), 'state': e.group(3),
                'reason': rest[1:] or None, 'ms': fields['ms'], 'm': fields['m'],
                'dumping': fields['dumping'] is not None, 'frames': [], 'notes': [],
                'line': line})
            continue
        f = FRAME.match(line)
        if f and entries:
            entries[-1]['frames'].append((int(f.group(1)), f.group(2), f.group(3)))
            continue
        if line.startswith('  ') and entries:
            entries[-1]['notes'].append(line.strip())
            continue
        raise ValueError('unexpected dump line: %r' % line)
    return count, entries


class Prog:
    def __init__(self, lib, prog, args, env):
        self.p = subprocess.Popen([prog] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env)
        self.err = b''
        self.out = b''

    def read_until(self, stream, pred, deadline):
        fd = stream.fileno()
        while time.time() < deadline:
            buf = self.out if stream is self.p.stdout else self.err
            text = buf.decode(errors='replace')
            if pred(text):
                return text
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                if stream is self.p.stdout:
                    self.out += chunk
                else:
                    self.err += chunk
        return None

    def dumps(self):
        """Every complete dump in stderr so far, as lists of lines."""
        lines = self.err.decode(errors='replace').split('\n')
        out, cur = [], None
        for line in lines:
            if line.startswith('gmpt: thread dump ('):
                cur = [line]
            elif cur is not None:
                cur.append(line)
                if line == 'gmpt: end of thread dump':
                    out.append(cur)
                    cur = None
        return out


MAIN = 'dump_threads'  # main's name: the process's, as it never sets one
EXPECT = {  # name -> (wait reason, distinctive function)
    'cond-waiter': ('cond', 'wait_in_cond_zq'),
    'mutex-waiter': ('mutex', 'wait_for_mutex_zq'),
    'joiner': ('join', 'wait_in_join_zq'),
    'sleeper': ('sleep', 'wait_in_sleep_zq'),
}
NO_BT = ['(no backtrace: running on another kernel thread)']


def all_parked(entries):
    by = {e['name']: e for e in entries}
    return MAIN in by and all(n in by and by[n]['state'] == 'waiting' and
                              any(f[1] == EXPECT[n][1] for f in by[n]['frames'])
                              for n in EXPECT)


def check_entry_frames(e, fn, in_gmpt_first, label):
    """fn is in e's backtrace, in the program's module; with
    in_gmpt_first, the backtrace starts with exactly one gmpt frame (the
    function the program called, where gmpt's own frames are cut) and fn
    is the frame right below it."""
    names = [f[1] for f in e['frames']]
    if [f[0] for f in e['frames']] != list(range(len(e['frames']))):
        fail('%s: frames not numbered from #0: %s' % (label, e['frames']))
    if fn not in names:
        fail('%s: no frame %s in its backtrace: %s' % (label, fn, names))
        return
    i = names.index(fn)
    if e['frames'][i][2] != 'dump_threads':
        fail('%s: %s is not in module dump_threads: %s' % (label, fn, e['frames'][i]))
    if in_gmpt_first and (e['frames'][0][2] != 'libgmpt.so' or i != 1):
        fail('%s: want one gmpt frame, then %s: %s' % (label, fn, e['frames']))


def case_parked(lib, prog, env):
    print('== parked (%s)' % ' '.join('%s=%s' % (k, v) for k, v in env.items()
                                       if k.startswith('GMPT_')))
    p = Prog(lib, prog, ['parked', str(int(signal.SIGUSR1))], env)
    deadline = time.time() + LIMIT
    if p.read_until(p.p.stdout, lambda t: 'ready\n' in t, deadline) is None:
        fail('parked: the program never said ready; stderr: %s' % p.err.decode())
        p.p.kill()
        return
    good = None
    while time.time() < deadline and good is None:
        n_before = len(p.dumps())
        os.kill(p.p.pid, signal.SIGUSR1)
        if p.read_until(p.p.stderr, lambda t: len(p.dumps()) > n_before,
                        deadline) is None:
            break
        count, entries = parse_dump(p.dumps()[-1])
        if all_parked(entries):
            good = (count, entries, p.dumps()[-1])
        else:
            time.sleep(0.05)
    if good is None:
        fail('parked: no dump showed every thread at its wait; stderr:\n%s'
             % p.err.decode(errors='replace'))
        p.p.kill()
        return
    count, entries, text = good
    print('\n'.join(text))
    names = [e['name'] for e in entries]
    if count != len(entries) or count != 6:
        fail('parked: header says %d threads, %d entries (want 6): %s'
             % (count, len(entries), names))
    if [e['id'] for e in entries] != sorted(e['id'] for e in entries):
        fail('parked: entries not by id')
    by = {e['name']: e for e in entries}
    for name, (reason, fn) in EXPECT.items():
        e = by[name]
        if e['reason'] != reason:
            fail('parked: %s waits for %r, expected %r: %s' % (name, e['reason'], reason, e['line']))
        if e['ms'] is None:
            fail('parked: %s: no time waited: %s' % (name, e['line']))
        if e['m'] is not None:
            fail('parked: %s is waiting but names an M: %s' % (name, e['line']))
        check_entry_frames(e, fn, name != MAIN, 'parked: ' + name)
    # The spinner runs on another kernel thread (no backtrace), or the
    # signal landed on it (its backtrace, from where it was interrupted),
    # or it was preempted (its backtrace, through the preemption
    # trampoline).
    sp = by.get('spinner')
    if sp is None:
        fail('parked: no spinner entry')
    elif sp['state'] == 'running' and not sp['dumping']:
        if sp['m'] is None or sp['frames'] or sp['notes'] != NO_BT:
            fail('parked: running spinner: %s %s' % (sp['line'], sp['frames']))
    elif sp['state'] in ('running', 'runnable'):
        check_entry_frames(sp, 'spin_zq', False, 'parked: spinner')
        # Preempted in its loop: spin_zq is #0, no gmpt frame above it,
        # not even the preemption trampoline. (Interrupted by the signal,
        # it may be in a handler of gmpt's, above spin_zq.)
        if sp['state'] == 'runnable' and (not sp['frames'] or sp['frames'][0][1] != 'spin_zq'):
            fail('parked: spinner: #0 is not spin_zq: %s' % sp['frames'])
        if (sp['state'] == 'running') != (sp['m'] is not None):
            fail('parked: spinner: %s' % sp['line'])
    else:
        fail('parked: spinner is %s' % sp['line'])
    # main reads its stdin, an inherited pipe that gmpt did not open, so
    # with a plain blocking system call ("syscall" on its M, or "running"
    # around it, as when a signal made it restart the call), unless the
    # signal landed on it (its own backtrace).
    e = by[MAIN]
    if e['dumping']:
        check_entry_frames(e, 'main', False, 'parked: main (dumping)')
    elif e['state'] not in ('syscall', 'running') or e['m'] is None or e['frames'] or \
            e['notes'] != NO_BT:
        fail('parked: main: %s %s %s' % (e['line'], e['frames'], e['notes']))
    if sum(e['dumping'] for e in entries) > 1:
        fail('parked: more than one thread dumping')

    # main dumps itself from main_dumps_itself_zq.
    n_before = len(p.dumps())
    p.p.stdin.write(b's')
    p.p.stdin.flush()
    # The dump is written by gmpt's dumper thread after the handler
    # returned: wait for it.
    if p.read_until(p.p.stderr, lambda t: 'self dump done' in t and
                    len(p.dumps()) > n_before, deadline) is None:
        fail('parked: no self dump; stderr: %s' % p.err.decode(errors='replace'))
    elif len(p.dumps()) != n_before + 1:
        fail('parked: the self dump is not one complete dump')
    else:
        print('\n'.join(p.dumps()[-1]))
        count, entries = parse_dump(p.dumps()[-1])
        me = [e for e in entries if e['dumping']]
        if len(me) != 1 or me[0]['name'] != MAIN or me[0]['state'] != 'running':
            fail('parked: self dump: the dumping thread is %s' % [e['line'] for e in me])
        else:
            check_entry_frames(me[0], 'main_dumps_itself_zq', False, 'parked: self')
            names = [f[1] for f in me[0]['frames']]
            if 'main' not in names or names.index('main') < names.index('main_dumps_itself_zq'):
                fail('parked: self dump: main is not below main_dumps_itself_zq: %s' % names)
    p.p.stdin.write(b'q')
    p.p.stdin.flush()
    try:
        p.p.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        p.p.kill()
        fail('parked: the program did not finish after quit')
        return
    rest = p.p.stdout.read()
    if p.p.returncode != 0 or b'done' not in p.out + rest:
        fail('parked: exit status %d after quit' % p.p.returncode)


def case_all_parked(lib, prog, env):
    """Every thread parked: the signal lands on a kernel thread that runs
    no G, and the dump lists both threads with their backtraces."""
    print('== all-parked')
    p = Prog(lib, prog, ['all-parked', str(int(signal.SIGUSR1))], env)
    deadline = time.time() + LIMIT
    if p.read_until(p.p.stdout, lambda t: 'ready\n' in t, deadline) is None:
        fail('all-parked: the program never said ready; stderr: %s' % p.err.decode())
        p.p.kill()
        return
    want = {MAIN: ('join', 'main', True), 'pipe-reader': ('fd read', 'wait_on_pipe_zq', True)}
    good = None
    while time.time() < deadline and good is None:
        n_before = len(p.dumps())
        os.kill(p.p.pid, signal.SIGUSR1)
        if p.read_until(p.p.stderr, lambda t: len(p.dumps()) > n_before, deadline) is None:
            break
        count, entries = parse_dump(p.dumps()[-1])
        by = {e['name']: e for e in entries}
        if all(n in by and by[n]['state'] == 'waiting' and
               any(f[1] == want[n][1] for f in by[n]['frames']) for n in want):
            good = (count, entries)
        else:
            time.sleep(0.05)
    if good is None:
        fail('all-parked: no dump showed both threads parked; stderr:\n%s'
             % p.err.decode(errors='replace'))
        p.p.kill()
        return
    count, entries = good
    print('\n'.join(p.dumps()[-1]))
    by = {e['name']: e for e in entries}
    if count != 2 or len(entries) != 2:
        fail('all-parked: want 2 threads: %s' % [e['line'] for e in entries])
    if any(e['dumping'] for e in entries):
        fail('all-parked: a parked thread is marked dumping')
    for name, (reason, fn, first) in want.items():
        if by[name]['reason'] != reason:
            fail('all-parked: %s: reason %r, expected %r' % (name, by[name]['reason'], reason))
        check_entry_frames(by[name], fn, first, 'all-parked: ' + name)
    os.kill(p.p.pid, signal.SIGUSR2)
    try:
        p.p.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        p.p.kill()
        fail('all-parked: the program did not finish after SIGUSR2')
        return
    if p.p.returncode != 0:
        fail('all-parked: exit status %d' % p.p.returncode)


def case_storm(lib, prog, env):
    """Dumps while threads are created, run, park and end: the program
    must finish with the right result, and every dump must be complete and
    well formed."""
    print('== storm')
    p = Prog(lib, prog, ['storm', str(int(signal.SIGUSR1))], env)
    deadline = time.time() + LIMIT
    if p.read_until(p.p.stdout, lambda t: 'ready\n' in t, deadline) is None:
        fail('storm: the program never said ready')
        p.p.kill()
        return
    # Signals as fast as dumps come, until 20 complete dumps are in.
    sent = 0
    while len(p.dumps()) < 20 and p.p.poll() is None and time.time() < deadline:
        os.kill(p.p.pid, signal.SIGUSR1)
        sent += 1
        p.read_until(p.p.stderr, lambda t: False, time.time() + 0.01)
    try:
        p.p.stdin.write(b'q')
        p.p.stdin.flush()
        out, err = p.p.communicate(timeout=LIMIT)
    except (subprocess.TimeoutExpired, BrokenPipeError):
        p.p.kill()
        fail('storm: the program did not finish')
        return
    p.out += out
    p.err += err
    if p.p.returncode != 0 or b'done ok' not in p.out:
        fail('storm: status %d, stdout %r' % (p.p.returncode, p.out))
    dumps = p.dumps()
    for d in dumps:
        try:
            count, entries = parse_dump(d)
        except ValueError as e:
            fail('storm: %s' % e)
            continue
        ids = [e['id'] for e in entries]
        if ids != sorted(set(ids)):
            fail('storm: entries not by id, or one listed twice: %s' % ids)
    starts = p.err.decode(errors='replace').count('gmpt: thread dump (')
    # The last one may have been cut short by the program's exit.
    if starts - len(dumps) not in (0, 1):
        fail('storm: %d dumps begun, %d complete' % (starts, len(dumps)))
    if len(dumps) < 20:
        fail('storm: %d dumps for %d signals' % (len(dumps), sent))
    print('%d signals sent, %d dumps, all well formed' % (sent, len(dumps)))


def case_own_handler(lib, prog, env):
    print('== own-handler')
    r = subprocess.run([prog, 'own-handler', str(int(signal.SIGUSR1))], env=env,
                       capture_output=True, timeout=LIMIT)
    err = r.stderr.decode(errors='replace')
    notices = [l for l in err.splitlines() if l.startswith('gmpt: GMPT_DUMP_SIGNAL: SIGUSR1 (10)'
                                                          ' is the program')]
    if r.returncode != 0 or r.stdout != b'handled\n':
        fail('own-handler: status %d, stdout %r, stderr %s' % (r.returncode, r.stdout, err))
    if 'gmpt: thread dump' in err:
        fail('own-handler: gmpt dumped on the program\'s signal: %s' % err)
    if len(notices) != 1:
        fail('own-handler: want one notice, stderr: %s' % err)
    print(err, end='')


def case_ignored(lib, prog, env):
    print('== ignored')

    def ignore_usr1():
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    # own-handler mode would install a handler: use a shell that sends
    # the ignored signal to itself and goes on.
    r = subprocess.run(['sh', '-c', 'kill -USR1 $$; echo alive'], env=env,
                       capture_output=True, timeout=LIMIT, preexec_fn=ignore_usr1)
    err = r.stderr.decode(errors='replace')
    if r.returncode != 0 or r.stdout != b'alive\n':
        fail('ignored: status %d stdout %r stderr %s' % (r.returncode, r.stdout, err))
    if err.count('gmpt: GMPT_DUMP_SIGNAL: SIGUSR1 (10) is the program\'s (it ignores it)') != 1:
        fail('ignored: want one notice, stderr: %s' % err)
    print(err, end='')


def main():
    lib, prog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    extra = sys.argv[3:]
    env = dict(os.environ)
    env['LD_PRELOAD'] = lib
    env['GMPT_DUMP_SIGNAL'] = 'SIGUSR1'
    for kv in extra:
        k, v = kv.split('=', 1)
        env[k] = v
    case_parked(lib, prog, env)
    case_all_parked(lib, prog, env)
    case_storm(lib, prog, env)
    case_own_handler(lib, prog, env)
    case_ignored(lib, prog, env)
    if failures:
        print('%d failure(s)' % len(failures), file=sys.stderr)
        sys.exit(1)
    print('ok')


if __name__ == '__main__':
    main()
