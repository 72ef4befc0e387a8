#!/usr/bin/env python3
"""check_trace_selftest.py [TRACE] - shows that check_trace.py can fail.

A small hand-made trace must pass, and every broken copy of it must be
refused: truncated JSON, overlapping runs on an M or a P, a G on two Ms at
once, a negative duration, a B without its E, a marker naming a G that
never ran, a park that does not end a run, a ready while the G runs, a
track without a name, a P slice or system call outside its run, a missing
end marker. Given a real TRACE (from GMPT_TRACE), the same
goes for it: it passes as written, and fails once one of its run slices is
made to overlap the next on its M, or copied onto another M."""
import copy
import json
import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_trace.py")


def meta(kind, pid, tid, name):
    e = {"name": kind, "ph": "M", "pid": pid, "args": {"name": name}}
    if tid is not None:
        e["tid"] = tid
    return e


def run(g, pid, tid, ts, dur, **args):
    a = {"g": g}
    a.update(args)
    return {"name": f"G{g}", "cat": "run", "ph": "X", "pid": pid, "tid": tid, "ts": ts,
            "dur": dur, "args": a}


def instant(name, pid, tid, ts, **args):
    return {"name": name, "cat": "sched", "ph": "i", "s": "t", "pid": pid, "tid": tid,
            "ts": ts, "args": args}


END = {"name": "trace end", "cat": "gmpt", "ph": "i", "s": "g", "pid": 1, "tid": 0,
       "ts": 100.0, "args": {"dropped_events": 0}}


def good():
    return [
        meta("process_name", 1, None, "Ms"), meta("process_name", 2, None, "Ps"),
        meta("thread_name", 1, 0, "M0"), meta("thread_name", 1, 1, "M1"),
        meta("thread_name", 2, 0, "P0"), meta("thread_name", 2, 1, "P1"),
        run(1, 1, 0, 1.0, 9.0, p=0), run(1, 2, 0, 1.0, 4.0, m=0), run(1, 2, 1, 8.0, 2.0, m=0),
        {"name": "syscall", "cat": "syscall", "ph": "X", "pid": 1, "tid": 0, "ts": 5.0,
         "dur": 3.0, "args": {"g": 1}},
        instant("ready", 1, 0, 9.5, g=2, by=1),
        run(2, 1, 1, 10.0, 5.0, p=1), run(2, 2, 1, 10.0, 5.0, m=1),
        instant("park", 1, 1, 15.0, g=2, reason="cond"),
        run(2, 1, 0, 16.0, 2.0, p=0), run(3, 1, 1, 16.0, 1.0, p=1),
        {"name": "work", "ph": "B", "pid": 1, "tid": 0, "ts": 16.5},
        {"name": "work", "ph": "E", "pid": 1, "tid": 0, "ts": 17.0},
        END,
    ]


def find(events, pred):
    return next(i for i, e in enumerate(events) if pred(e))


def broken_samples():
    def mutate(f):
        ev = good()
        f(ev)
        return ev

    yield "overlap on an M", mutate(lambda ev: ev.append(run(3, 1, 0, 2.0, 1.0, p=0)) or
                                    ev.append(ev.pop(find(ev, lambda e: e is END))))
    # G2's second run (on M0) moved back into its first one (on M1).
    yield "G on two Ms", mutate(lambda ev: ev[find(ev, lambda e: e["ph"] == "X" and e["pid"] == 1
                                                   and e["args"]["g"] == 2 and e["tid"] == 0)]
                                .update(ts=14.0))
    yield "negative dur", mutate(lambda ev: ev[6].update(dur=-1.0))
    yield "B without E", mutate(lambda ev: ev.pop(find(ev, lambda e: e["ph"] == "E")))
    yield "marker for a G that never ran", mutate(lambda ev: ev.insert(7, instant("ready", 1, 0, 2.0, g=9)))
    yield "unnamed track", mutate(lambda ev: ev.pop(3))
    yield "P slice outside its run", mutate(lambda ev: ev[8].update(ts=12.0))
    yield "syscall outside its run", mutate(lambda ev: ev[9].update(ts=9.0))
    yield "no end marker", mutate(lambda ev: ev.remove(END))
    yield "Ms misnamed", mutate(lambda ev: ev[0]["args"].update(name="threads"))
    yield "park not at the end of a run", mutate(
        lambda ev: ev[find(ev, lambda e: e["name"] == "park")].update(ts=14.0))
    yield "ready while running", mutate(
        lambda ev: ev[find(ev, lambda e: e["name"] == "ready")].update(ts=12.0))


def check(path):
    r = subprocess.run([sys.executable, CHECKER, path], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        def write(name, events, text=None):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write(text if text is not None else json.dumps(events, indent=0))
            return p

        rc, out = check(write("good.json", good()))
        if rc != 0:
            print(f"FAIL: the good sample was refused:\n{out}")
            ok = False
        else:
            print("ok: good sample accepted")
        text = json.dumps(good(), indent=0)
        samples = [(what, events, None) for what, events in broken_samples()]
        samples.append(("truncated", None, text[: len(text) // 2]))
        for what, events, raw in samples:
            rc, out = check(write("bad.json", events, raw))
            if rc == 0:
                print(f"FAIL: broken sample accepted ({what}):\n{out}")
                ok = False
            else:
                print(f"ok: refused ({what}): {out.splitlines()[-1].strip()}")

        if len(sys.argv) > 1:
            real = sys.argv[1]
            rc, out = check(real)
            print(out)
            ok &= rc == 0
            with open(real) as f:
                events = json.load(f)
            runs = [i for i, e in enumerate(events)
                    if e.get("cat") == "run" and e.get("pid") == 1]
            # The first run on some M that has a later run on the same M:
            # stretch it over the next one.
            for i in runs:
                e = events[i]
                later = [events[j] for j in runs
                         if events[j]["tid"] == e["tid"] and events[j]["ts"] > e["ts"] + e["dur"]]
                if later:
                    nxt = min(later, key=lambda x: x["ts"])
                    bad = copy.deepcopy(events)
                    bad[i]["dur"] = nxt["ts"] - e["ts"] + nxt["dur"] / 2 + 0.001
                    break
            rc, out = check(write("real-overlap.json", bad))
            print(("FAIL: accepted" if rc == 0 else "ok: refused") + " (real trace, a run stretched "
                  "over the next on its M): " + out.splitlines()[-1].strip())
            ok &= rc != 0
            # A run copied onto another M at the same time.
            e = events[runs[len(runs) // 2]]
            other = copy.deepcopy(e)
            other["tid"] = e["tid"] + 1000
            bad = events[:-1] + [other, meta("thread_name", 1, other["tid"], "M-copy"), events[-1]]
            rc, out = check(write("real-twice.json", bad))
            print(("FAIL: accepted" if rc == 0 else "ok: refused") + " (real trace, a run copied "
                  "onto another M): " + out.splitlines()[-1].strip())
            ok &= rc != 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
