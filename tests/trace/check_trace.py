#!/usr/bin/env python3
"""check_trace.py [options] FILE - checks a GMPT_TRACE file.

The file must be Chrome/Perfetto trace-event JSON (the array format) and
describe a schedule that could have happened:

  - it parses as JSON, a list of events, each with the fields its phase needs;
  - every B has its E on the same track, in order, X durations are >= 0;
  - the processes and threads that carry events are named ("M" metadata),
    Ms are pid 1 and Ps pid 2;
  - run slices on one M track, and on one P track, never overlap; system
    call slices lie inside a run slice of the same G on the same M;
  - no G runs on two Ms at the same time, nor on two Ps;
  - a G's slice on a P lies within one of its runs on the M named in it;
  - markers agree with the runs (unless the writer dropped events, which
    the end marker counts): a park, yield, preempt or exit marker is the
    end of a run of its G on the same M; a G is made runnable (ready,
    create, steal) only while it is not running, and runs afterwards;
    any other marker names a G that runs at some time;
  - the end marker is there, last, with its drop count.

Options ask for more: --min-runs N (more run slices than N), --expect NAME
(some instant or slice called NAME, repeatable), --expect-thread NAME (a
run slice whose name mentions this thread name), --no-drops; or less:
--allow-unrun (a G made runnable just before the process died need not
have run).
Prints what it found; exits 1 with the first problems on failure."""
import argparse
import collections
import json
import sys

problems = []


def fail(msg):
    problems.append(msg)


def ns(x):
    """Microseconds (float, three decimals) to integer nanoseconds."""
    return round(float(x) * 1000)


def check_overlaps(slices, what):
    """slices: list of (start, end, label) on one track; none may overlap."""
    slices = sorted(slices)
    for a, b in zip(slices, slices[1:]):
        if b[0] < a[1]:
            fail(f"{what}: {a[2]} [{a[0]}, {a[1]}] overlaps {b[2]} [{b[0]}, {b[1]}]")
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--min-runs", type=int, default=1)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--expect-thread", action="append", default=[])
    ap.add_argument("--no-drops", action="store_true")
    ap.add_argument("--allow-unrun", action="store_true")
    args = ap.parse_args()

    try:
        with open(args.file, encoding="utf-8") as f:
            events = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL: {args.file}: not valid JSON: {e}")
        return 1
    if not isinstance(events, list) or not events:
        print(f"FAIL: {args.file}: not a non-empty JSON array of events")
        return 1

    proc_names, thread_names = {}, {}
    used_tracks = set()
    open_b = collections.defaultdict(list)
    runs_m = collections.defaultdict(list)  # (pid, tid) -> [(start, end, label, g)]
    runs_p = collections.defaultdict(list)
    syscalls = []
    runs_by_g = collections.defaultdict(list)  # g -> [(start, end, m)]
    p_slices = []  # (start, end, g, m, p)
    markers = []  # (name, g, ts, track)
    names = collections.Counter()
    end_marker = None

    for i, e in enumerate(events):
        if not isinstance(e, dict) or "ph" not in e or "name" not in e:
            fail(f"event {i} has no ph or name: {e!r}")
            continue
        ph, name = e["ph"], e["name"]
        names[name] += 1
        if ph == "M":
            if "args" not in e or "pid" not in e:
                fail(f"metadata event {i} without pid or args: {e!r}")
            elif name == "process_name":
                proc_names[e["pid"]] = e["args"].get("name")
            elif name == "thread_name":
                thread_names[(e["pid"], e.get("tid"))] = e["args"].get("name")
            continue
        if not all(k in e for k in ("pid", "tid", "ts")):
            fail(f"event {i} ({name}) lacks pid, tid or ts: {e!r}")
            continue
        track = (e["pid"], e["tid"])
        ts = ns(e["ts"])
        a = e.get("args", {})
        if name == "trace end":
            end_marker = (i, e)
            continue
        used_tracks.add(track)
        if ph == "B":
            open_b[track].append((ts, name))
        elif ph == "E":
            if not open_b[track]:
                fail(f"E event {i} ({name}) on {track} without a B")
            else:
                b_ts, b_name = open_b[track].pop()
                if ts < b_ts:
                    fail(f"E event {i} on {track} before its B")
        elif ph == "X":
            if "dur" not in e or ns(e["dur"]) < 0:
                fail(f"X event {i} ({name}) without a duration >= 0: {e!r}")
                continue
            end = ts + ns(e["dur"])
            if e.get("cat") == "run":
                if "g" not in a:
                    fail(f"run slice {i} without args.g: {e!r}")
                    continue
                if e["pid"] == 1:
                    runs_m[track].append((ts, end, f"G{a['g']}", a["g"]))
                    runs_by_g[a["g"]].append((ts, end, e["tid"]))
                elif e["pid"] == 2:
                    runs_p[track].append((ts, end, f"G{a['g']}", a["g"]))
                    p_slices.append((ts, end, a["g"], a.get("m"), e["tid"]))
                else:
                    fail(f"run slice {i} on neither an M nor a P: {e!r}")
            elif e.get("cat") == "syscall":
                syscalls.append((ts, end, a.get("g"), track))
        elif ph in ("i", "I"):
            if "g" in a:
                markers.append((name, a["g"], ts, track))
        elif ph in ("C", "s", "t", "f"):
            pass
        else:
            fail(f"event {i} has an unknown phase {ph!r}")

    for track, stack in open_b.items():
        if stack:
            fail(f"{len(stack)} B event(s) on {track} without E")

    # Track names.
    for pid, want in ((1, "Ms"), (2, "Ps")):
        if proc_names.get(pid) != want:
            fail(f"process {pid} is named {proc_names.get(pid)!r}, expected {want!r}")
    for track in sorted(used_tracks, key=str):
        if track[0] not in proc_names:
            fail(f"process {track[0]} has events but no process_name")
        if track not in thread_names:
            fail(f"track {track} has events but no thread_name")

    # Overlaps.
    for track, sl in runs_m.items():
        check_overlaps([s[:3] for s in sl], f"M track {track}")
    for track, sl in runs_p.items():
        check_overlaps([s[:3] for s in sl], f"P track {track}")
    for g, sl in runs_by_g.items():
        check_overlaps([(s, e, f"G{g} on M{m}") for s, e, m in sl], f"G{g} on two Ms")
    by_g_p = collections.defaultdict(list)
    for s, e, g, m, p in p_slices:
        by_g_p[g].append((s, e, f"G{g} on P{p}"))
        if not any(rs <= s and e <= re and rm == m for rs, re, rm in runs_by_g.get(g, [])):
            fail(f"G{g}'s slice on P{p} [{s}, {e}] is not within a run of it on M{m}")
    for g, sl in by_g_p.items():
        check_overlaps(sl, f"G{g} on two Ps")
    for s, e, g, track in syscalls:
        if not any(rs <= s and e <= re and rg == g for rs, re, _, rg in runs_m.get(track, [])):
            fail(f"system call of G{g} [{s}, {e}] on {track} outside a run of G{g} there")

    # Markers name Gs that ran.
    dropped = None
    if end_marker is None:
        fail("no 'trace end' marker")
    else:
        i, e = end_marker
        dropped = e.get("args", {}).get("dropped_events")
        if not isinstance(dropped, int):
            fail(f"the end marker has no dropped_events count: {e!r}")
        if i != len(events) - 1:
            fail("the end marker is not the last event")
    if dropped == 0:
        ends = {(rg, track[1], e) for track, sl in runs_m.items() for _, e, _, rg in sl}
        for name, g, ts, track in markers:
            runs = runs_by_g.get(g, [])
            if name in ("park", "yield", "preempt", "exit", "no P after syscall"):
                if (g, track[1], ts) not in ends:
                    fail(f"{name} of G{g} at {ts} on {track} is not the end of a run of it there")
            elif name in ("ready", "create", "steal"):
                inside = [(s, e) for s, e, _ in runs if s < ts < e]
                if inside:
                    fail(f"{name} of G{g} at {ts} while it runs {inside[0]}")
                elif not args.allow_unrun and not any(s >= ts for s, _, _ in runs):
                    fail(f"{name} of G{g} at {ts}, and it never runs afterwards")
            elif not runs:
                fail(f"{name} names G{g}, which never runs")
    if args.no_drops and dropped:
        fail(f"{dropped} events were dropped")

    nruns = sum(len(v) for v in runs_m.values())
    if nruns <= args.min_runs:
        fail(f"{nruns} run slices, expected more than {args.min_runs}")
    for want in args.expect:
        if names[want] == 0:
            fail(f"no event called {want!r}")
    run_names = {e["name"] for e in events if isinstance(e, dict) and e.get("cat") == "run"}
    for want in args.expect_thread:
        if not any(want in n.split(" ", 1)[-1:] for n in run_names):
            fail(f"no run slice of a thread named {want!r}")

    summary = (f"{len(events)} events, {nruns} runs on {len(runs_m)} Ms, "
               f"{sum(len(v) for v in runs_p.values())} slices on {len(runs_p)} Ps, "
               f"{len(runs_by_g)} Gs, {len(syscalls)} system calls, dropped {dropped}; markers: "
               + ", ".join(f"{n} {names[n]}" for n in ("ready", "create", "park", "yield", "preempt",
                                                         "preempt request", "steal", "handoff",
                                                         "retake", "exit") if names[n]))
    if problems:
        print(f"FAIL: {args.file}: {summary}")
        for p in problems[:20]:
            print("  " + p)
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")
        return 1
    print(f"ok: {args.file}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
