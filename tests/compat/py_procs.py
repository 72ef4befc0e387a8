"""CPython's process and thread-id calls: subprocess (a vfork child that
dup2s and closes the pipes' ends before exec) and threading.get_native_id
(one id per live thread). Run natively and preloaded; stdout must match."""
import subprocess
import sys
import threading

part = sys.argv[1] if len(sys.argv) > 1 else "all"

if part in ("all", "subprocess"):
    print("check_output:", subprocess.check_output(["echo", "hi"]))
    big = b"x" * 300000
    out = subprocess.run(["cat"], input=big, capture_output=True, check=True).stdout
    print("cat round trip:", out == big)
    print("shell:", subprocess.check_output("echo a; echo b >&2", shell=True,
                                              stderr=subprocess.STDOUT))
    results = []
    lock = threading.Lock()

    def spawn(i):
        r = subprocess.check_output(["echo", str(i)])
        with lock:
            results.append(r)

    ts = [threading.Thread(target=spawn, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("from threads:", sorted(results) == sorted(b"%d\n" % i for i in range(8)))

if part in ("all", "native_id"):
    ids = []
    go = threading.Event()
    started = threading.Barrier(11)

    def worker():
        ids.append(threading.get_native_id())
        started.wait()
        go.wait()

    ts = [threading.Thread(target=worker) for _ in range(10)]
    for t in ts:
        t.start()
    started.wait()
    main_id = threading.get_native_id()
    print("distinct native ids of 10 live threads and main:", len(set(ids + [main_id])))
    print("thread.native_id matches:", sorted(t.native_id for t in ts) == sorted(ids))
    go.set()
    for t in ts:
        t.join()
    import os
    print("main's native id is the pid:", main_id == os.getpid())
