"""gmpt-gdb.py - gdb commands for gmpt's threads (Gs).

Under gmpt a pthread is a G: gdb's "info threads" shows only the kernel
threads (Ms), and a parked G is on no kernel thread at all. These commands
read the scheduler's list of every G (sched.allg) instead.

Usage (live process or core file; libgmpt.so must be loaded and have its
debug info, as the default debugoptimized build has):

    gdb -ex 'set startup-with-shell off' \
        -ex 'set environment LD_PRELOAD=/path/to/libgmpt.so' --args PROGRAM ARGS
    gdb -p PID                   (a running program, preloaded as usual)
    gdb PROGRAM CORE             (its core file)

    (gdb) source /path/to/gmpt/scripts/gmpt-gdb.py
    (gdb) gmpt threads            one line per live G
    (gdb) info gmpt-threads       the same
    (gdb) gmpt bt 7               backtrace of G 7
    (gdb) gmpt bt 7 full          ... with locals (any "bt" arguments)
    (gdb) gmpt bt                 backtraces of every live G
    (gdb) p *$gmpt_g(7)           G 7's struct g

"gmpt threads" prints, for each G that is not idle or dead: its id, status
(runnable, running, running/syscall, waiting), wait reason, how long it has
waited (live processes only), the M running it (id and kernel thread id)
and its name (pthread_setname_np's, or the one it inherited). A "*" marks
the G gdb's selected thread is running.

"gmpt bt ID": a G that is running is on its M's kernel thread; gdb switches
to that thread, runs "bt" and switches back. Any other G was switched out
by arch_context_switch, which left on the G's stack the callee-saved
registers and the return address (arch/x86_64/context_switch.S); a Python
unwinder hands those to gdb as the caller of the selected thread's
innermost frame, gdb unwinds from there with the usual debug info, and
that innermost frame (with any inlined into it) is dropped from the
output: frames are renumbered from #0. No register of the process is written, which is why this also
works on a core file.

A thread dump from a core file, without a prompt:

    gdb -batch -ex 'source scripts/gmpt-gdb.py' -ex 'gmpt threads' \
        -ex 'gmpt bt' PROGRAM CORE

(startup-with-shell off keeps the shell gdb starts the program with from
running preloaded too; it does no harm, it is only not needed.)
"""

import re
import time

import gdb
import gdb.unwinder

# enum g_status (sched/runtime.h); read from the debug info when present.
_STATUS_FALLBACK = {0: "idle", 1: "runnable", 2: "running", 3: "waiting", 4: "dead"}

# The frame arch_context_switch leaves at a G's saved ctx.sp, in 8-byte
# words from the low end (see arch/x86_64/context_switch.S): x87 control
# word, MXCSR, r15, r14, r13, r12, rbx, rbp, return address. Its `ret`
# leaves %rsp just above the return address.
_SAVED_REGS = (("r15", 2), ("r14", 3), ("r13", 4), ("r12", 5), ("rbx", 6), ("rbp", 7))
_SAVED_RIP = 8
_SAVED_WORDS = 9

# struct thread's magic ("gmpt-thr", shim/thread.h): the shim's record in a
# G's extension area, where the thread name lives.
_THREAD_MAGIC = 0x676D70742D746872


def _has_field(t, name):
    try:
        return any(f.name == name for f in t.strip_typedefs().fields())
    except TypeError:
        return False


def _sched():
    """The runtime's `struct sched sched`, from libgmpt's own symbols first
    (the program may have a `sched` of its own)."""
    sym = None
    for objfile in gdb.objfiles():
        if "libgmpt" not in objfile.filename:
            continue
        try:
            sym = objfile.lookup_global_symbol("sched") or objfile.lookup_static_symbol(
                "sched"
            )
        except AttributeError:  # gdb before 10
            sym = None
        if sym is not None:
            break
    if sym is None:
        sym = gdb.lookup_global_symbol("sched")
    if sym is None or not _has_field(sym.type, "allg"):
        raise gdb.GdbError(
            "gmpt: no 'struct sched sched' with debug info: is libgmpt.so loaded "
            "(start the program first) and built with -g?"
        )
    return sym.value()


def _status_names():
    try:
        t = gdb.lookup_type("enum g_status")
        return {int(f.enumval): f.name[2:].lower() for f in t.fields()}
    except gdb.error:
        return dict(_STATUS_FALLBACK)


def _string(v, length=-1):
    try:
        if v.type.strip_typedefs().code == gdb.TYPE_CODE_PTR and int(v) == 0:
            return ""
        return v.string(length=length, errors="replace")
    except gdb.error:
        return "<unreadable>"


def _array_string(v):
    """A char array field that may not be NUL-terminated."""
    try:
        raw = bytes(int(v[i]) & 0xFF for i in range(v.type.sizeof))
    except gdb.error:
        return "<unreadable>"
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


_thread_ptr_type = None


def _forget_types(event=None):
    """Another program or library loaded: look the types up again."""
    global _thread_ptr_type
    _thread_ptr_type = None


gdb.events.new_objfile.connect(_forget_types)
gdb.events.clear_objfiles.connect(_forget_types)


def _thread_record_type():
    """struct thread * (shim/thread.h), if the debug info has it."""
    global _thread_ptr_type
    if _thread_ptr_type is None:
        try:
            t = gdb.lookup_type("struct thread")
            if _has_field(t, "magic") and _has_field(t, "created_name"):
                _thread_ptr_type = t.pointer()
            else:
                _thread_ptr_type = False
        except gdb.error:
            _thread_ptr_type = False
    return _thread_ptr_type or None


def _g_name(g):
    """The G's name: a name field of struct g if there is one (and set),
    else the shim's record in the G's extension area."""
    if _has_field(g.type, "name"):
        f = g["name"]
        name = (
            _array_string(f)
            if f.type.strip_typedefs().code == gdb.TYPE_CODE_ARRAY
            else _string(f)
        )
        if name:
            return name
    tp = _thread_record_type()
    if tp is None or not _has_field(g.type, "ext"):
        return ""
    try:
        t = g["ext"].address.cast(tp).dereference()
        if int(t["magic"]) != _THREAD_MAGIC:
            return ""
        if _has_field(t.type, "name_set") and bool(t["name_set"]):
            return _array_string(t["name"])
        name = _array_string(t["created_name"])
        return name or _process_comm()
    except gdb.error:
        return ""


def _process_comm():
    """The name of a thread that never had one and whose creator had none
    (shim/thread_name.c): the process's comm, which Linux makes from the
    program's file name (15 bytes)."""
    path = gdb.current_progspace().filename or ""
    return path.rsplit("/", 1)[-1][:15]


def _is_live():
    """True for a native process (not a core file or a remote target):
    only then is the monotonic clock here the program's."""
    inf = gdb.selected_inferior()
    if inf.pid == 0:
        return False
    try:
        return inf.connection.type == "native"
    except AttributeError:
        return "core" not in gdb.execute("info target", to_string=True).lower()


def _all_gs():
    """Every G struct ever allocated (idle and dead ones included)."""
    sched = _sched()
    g = sched["allg"]
    limit = int(sched["allg_count"]) + 16 if _has_field(sched.type, "allg_count") else 1 << 24
    seen = set()
    while int(g) != 0 and len(seen) < limit:
        if int(g) in seen:
            raise gdb.GdbError("gmpt: sched.allg loops at %#x" % int(g))
        seen.add(int(g))
        gv = g.dereference()
        yield gv
        g = gv["allg_link"]


def _live(g, names):
    return names.get(int(g["status"]), "?") not in ("idle", "dead")


def _find_g(gid):
    names = _status_names()
    for g in _all_gs():
        if int(g["id"]) == gid and names.get(int(g["status"])) != "idle":
            return g
    raise gdb.GdbError("gmpt: no live G with id %d (see 'gmpt threads')" % gid)


def _running_m(g, names):
    """The M running g, or None if g is not running."""
    if names.get(int(g["status"])) != "running" or int(g["m"]) == 0:
        return None
    return g["m"].dereference()


def _gdb_thread_for_tid(tid):
    for th in gdb.selected_inferior().threads():
        if th.ptid[1] == tid or (th.ptid[1] == 0 and th.ptid[0] == tid):
            return th
    return None


def _current_g():
    """The G gdb's selected kernel thread is running, or None."""
    th = gdb.selected_thread()
    if th is None:
        return None
    names = _status_names()
    for g in _all_gs():
        m = _running_m(g, names)
        if m is not None and int(m["tid"]) == th.ptid[1] and int(m["curg"]) == int(g.address):
            return int(g["id"])
    return None


def _in_syscall(m):
    """The M is in a system call for its G: entered with sched_enter_syscall
    (syscall_depth), or with its P handed off (a blocking call, or sysmon
    took the P: m->p is NULL while the G runs)."""
    if _has_field(m.type, "syscall_depth") and int(m["syscall_depth"]) > 0:
        return True
    return _has_field(m.type, "p") and int(m["p"]) == 0


def _describe(g, names, live_now):
    st = names.get(int(g["status"]), "?")
    m = _running_m(g, names)
    if m is not None and _in_syscall(m):
        st = "running/syscall"
    reason = _string(g["wait_reason"]) if names.get(int(g["status"])) == "waiting" else ""
    waited = ""
    if reason and live_now and _has_field(g.type, "wait_since") and int(g["wait_since"]) > 0:
        waited = "%.3fs" % (max(0, live_now - int(g["wait_since"])) / 1e9)
    mtext = "M%d (tid %d)" % (int(m["id"]), int(m["tid"])) if m is not None else ""
    return st, reason, waited, mtext, _g_name(g)


class GmptPrefix(gdb.Command):
    """Commands for gmpt's threads (Gs): gmpt threads, gmpt bt [ID [bt-args]]."""

    def __init__(self):
        super().__init__("gmpt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class GmptThreads(gdb.Command):
    """List gmpt's live threads (Gs), one line each.
Usage: gmpt threads   (or: info gmpt-threads)
Columns: G id, status, wait reason, time waited (live processes), the M
running it (its id and kernel thread id), name. '*' marks the G gdb's
selected thread is running."""

    def __init__(self, name):
        super().__init__(name, gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        names = _status_names()
        live_now = time.monotonic_ns() if _is_live() else 0
        cur = _current_g()
        rows = []
        for g in _all_gs():
            if _live(g, names):
                rows.append((int(g["id"]),) + _describe(g, names, live_now))
        rows.sort()
        head = ("G", "status", "wait reason", "waited", "M", "name")
        table = [head] + [(str(r[0]),) + r[1:] for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        for n, row in enumerate(table):
            mark = "*" if n > 0 and rows[n - 1][0] == cur else " "
            cells = [row[i].ljust(widths[i]) for i in range(len(head))]
            gdb.write(("%s %s" % (mark, "  ".join(cells))).rstrip() + "\n")


class _FrameId:
    """A frame id for create_unwind_info (gdb.unwinder.FrameId is gdb 14+;
    gdb 13 wants gdb.Value attributes)."""

    def __init__(self, sp, pc):
        self.sp = gdb.Value(sp)
        self.pc = gdb.Value(pc)


class _SavedContextUnwinder(gdb.unwinder.Unwinder):
    """While `target` is set, makes the caller of the selected thread's
    innermost real frame the G whose saved registers `target` holds.

    The innermost real frame is frame 0, or the frame just above the
    inline frames at the same pc (gdb's inline unwinder takes those before
    any Python unwinder is asked)."""

    def __init__(self):
        super().__init__("gmpt-saved-context")
        # (its level, its rsp, its rip, {reg: value}, the G's saved sp)
        self.target = None

    def __call__(self, pending_frame):
        if self.target is None:
            return None
        level, rsp0, rip0, regs, gsp = self.target
        try:
            if pending_frame.level() != level:
                return None
        except AttributeError:  # gdb before 11: match the frame by its registers
            if (
                int(pending_frame.read_register("rsp")) != rsp0
                or int(pending_frame.read_register("rip")) != rip0
            ):
                return None
        # This frame's id gets the G's saved sp as its stack address:
        # below the G's first frame, so gdb's check that callers sit
        # higher on the stack holds even though the two frames are on
        # different stacks. The frame is dropped from the output anyway.
        info = pending_frame.create_unwind_info(_FrameId(gsp, rip0))
        for reg, value in regs.items():
            info.add_saved_register(reg, value)
        return info


_unwinder = _SavedContextUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _saved_registers(g):
    """rip, rsp, rbp, rbx, r12-r15 as arch_context_switch left them."""
    u64 = gdb.lookup_type("unsigned long")
    sp = int(g["ctx"]["sp"])
    if sp == 0:
        raise gdb.GdbError("gmpt: G %d has no saved context" % int(g["id"]))
    words = gdb.Value(sp).cast(u64.pointer())
    try:
        regs = {name: words[i] for name, i in _SAVED_REGS}
        regs["rip"] = words[_SAVED_RIP]
        regs["rsp"] = gdb.Value(sp + 8 * _SAVED_WORDS).cast(u64)
        for v in regs.values():
            v.fetch_lazy()
    except gdb.MemoryError:
        raise gdb.GdbError("gmpt: G %d's saved context at %#x is unreadable" % (int(g["id"]), sp))
    return regs, sp


def _renumbered(text, drop):
    """bt output without its first `drop` frames, the others renumbered
    from #0."""
    out = []
    dropping = True
    for line in text.splitlines(True):
        m = re.match(r"#(\d+)\s+", line)
        if m:
            level = int(m.group(1))
            dropping = level < drop
            if not dropping:
                line = "#%-2d %s" % (level - drop, line[m.end() :])
        if not dropping:
            out.append(line)
    return "".join(out)


def _bt_args_plus(args, drop):
    """bt's "N innermost frames" counts the dropped frames too."""
    out = []
    for a in args.split():
        out.append(str(int(a) + drop) if re.fullmatch(r"\d+", a) else a)
    return " ".join(out)


def _bt_saved(g, args):
    regs, gsp = _saved_registers(g)
    th = gdb.selected_thread()
    if th is None:
        raise gdb.GdbError("gmpt: no thread selected (is there a process or core file?)")
    real = gdb.newest_frame()
    while real.type() == gdb.INLINE_FRAME and real.older() is not None:
        real = real.older()
    drop = real.level() + 1
    target = (
        real.level(),
        int(real.read_register("rsp")),
        int(real.read_register("pc")),
        regs,
        gsp,
    )
    try:
        selected_level = gdb.selected_frame().level()
    except gdb.error:
        selected_level = 0
    _unwinder.target = target
    gdb.invalidate_cached_frames()
    try:
        text = gdb.execute("bt " + _bt_args_plus(args, drop), to_string=True)
    finally:
        _unwinder.target = None
        gdb.invalidate_cached_frames()
        frame = gdb.newest_frame()
        while frame is not None and frame.level() < selected_level:
            frame = frame.older()
        if frame is not None:
            frame.select()
    gdb.write(_renumbered(text, drop))


def _bt_running(g, m, args):
    tid = int(m["tid"])
    th = _gdb_thread_for_tid(tid)
    if th is None:
        raise gdb.GdbError(
            "gmpt: G %d runs on M%d, kernel thread %d, which gdb does not know"
            % (int(g["id"]), int(m["id"]), tid)
        )
    if int(m["curg"]) != int(g.address):
        gdb.write("(M%d's curg is not this G: it is between switches)\n" % int(m["id"]))
    prev = gdb.selected_thread()
    try:
        prev_level = gdb.selected_frame().level()
    except gdb.error:
        prev_level = 0
    th.switch()
    try:
        gdb.execute("bt " + args)
    finally:
        if prev is not None and prev.is_valid():
            prev.switch()
            frame = gdb.newest_frame()
            while frame is not None and frame.level() < prev_level:
                frame = frame.older()
            if frame is not None:
                frame.select()


def _bt_one(g, args):
    names = _status_names()
    gid = int(g["id"])
    st, reason, waited, mtext, name = _describe(g, names, 0)
    gdb.write(
        "G %d %s%s%s%s:\n"
        % (
            gid,
            st,
            " (%s)" % reason if reason else "",
            " on " + mtext if mtext else "",
            ' "%s"' % name if name else "",
        )
    )
    m = _running_m(g, names)
    if m is not None:
        _bt_running(g, m, args)
    else:
        _bt_saved(g, args)


class GmptBacktrace(gdb.Command):
    """Backtrace of gmpt thread (G) ID, or of every live G without an ID.
Usage: gmpt bt [ID [bt-arguments]]   e.g. gmpt bt 7 full, gmpt bt 7 5
A running G is shown from its kernel thread; any other from the context it
was switched out with."""

    def __init__(self):
        super().__init__("gmpt bt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        rest = words[1] if len(words) > 1 else ""
        if not words or words[0] == "all":
            names = _status_names()
            gs = sorted((g for g in _all_gs() if _live(g, names)), key=lambda g: int(g["id"]))
            for n, g in enumerate(gs):
                if n:
                    gdb.write("\n")
                try:
                    _bt_one(g, rest)
                except gdb.GdbError as e:
                    gdb.write("%s\n" % e)
            return
        try:
            gid = int(words[0], 0)
        except ValueError:
            raise gdb.GdbError("usage: gmpt bt [ID [bt-arguments]]")
        _bt_one(_find_g(gid), rest)


class GmptG(gdb.Function):
    """$gmpt_g(ID): the struct g * of gmpt thread (G) ID."""

    def __init__(self):
        super().__init__("gmpt_g")

    def invoke(self, gid):
        return _find_g(int(gid)).address


GmptPrefix()
GmptThreads("gmpt threads")
GmptThreads("info gmpt-threads")
GmptBacktrace()
GmptG()
