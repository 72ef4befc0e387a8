"""Python threading workload for the 'real' suite (tests/real/meson.build).

Run by Debian's own /usr/bin/python3, natively and with libgmpt preloaded;
the two outputs must be identical. Every number printed is deterministic
(sums and counts that do not depend on scheduling), and every result is
also checked here against its closed form: a wrong one raises, which exits
with status 1 in both runs.
"""
import hashlib
import queue
import socket
import socketserver
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed


def check(name, got, want):
    if got != want:
        raise SystemExit(f"{name}: got {got!r}, want {want!r}")
    print(f"{name}: {got}")


def locked_counter(nthreads=16, iters=20000):
    """A shared counter under a Lock; the GIL is released and retaken all along."""
    lock = threading.Lock()
    box = [0]

    def work():
        for _ in range(iters):
            with lock:
                box[0] += 1
    ts = [threading.Thread(target=work) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("lock-counter", box[0], nthreads * iters)


def producer_consumer(nprod=4, ncons=6, per=5000):
    """queue.Queue with a small bound: producers and consumers block in put/get."""
    q = queue.Queue(maxsize=16)
    sums = [0] * ncons
    counts = [0] * ncons

    def produce(p):
        for i in range(per):
            q.put(p * per + i)

    def consume(c):
        while True:
            v = q.get()
            if v is None:
                q.task_done()
                return
            sums[c] += v
            counts[c] += 1
            q.task_done()
    cs = [threading.Thread(target=consume, args=(c,)) for c in range(ncons)]
    ps = [threading.Thread(target=produce, args=(p,)) for p in range(nprod)]
    for t in cs + ps:
        t.start()
    for t in ps:
        t.join()
    for _ in cs:
        q.put(None)
    q.join()
    for t in cs:
        t.join()
    n = nprod * per
    check("queue-count", sum(counts), n)
    check("queue-sum", sum(sums), n * (n - 1) // 2)


def condition_pingpong(rounds=2000):
    """Two threads hand a token back and forth through one Condition."""
    cond = threading.Condition()
    state = {"turn": 0, "log": 0}

    def player(me):
        for i in range(rounds):
            with cond:
                while state["turn"] != me:
                    cond.wait()
                state["log"] = (state["log"] * 31 + me * 7 + i) % 1000000007
                state["turn"] = 1 - me
                cond.notify()
    ts = [threading.Thread(target=player, args=(m,)) for m in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    want = 0
    for i in range(rounds):
        for me in (0, 1):
            want = (want * 31 + me * 7 + i) % 1000000007
    check("condition-pingpong", state["log"], want)


def event_gate(n=32):
    """n threads wait on one Event; a timed wait that must time out; Barrier."""
    go = threading.Event()
    barrier = threading.Barrier(n + 1)
    seen = []
    seen_lock = threading.Lock()

    def waiter(k):
        barrier.wait()
        if not go.wait(timeout=30):
            return
        with seen_lock:
            seen.append(k)
    ts = [threading.Thread(target=waiter, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    never = threading.Event()
    timed_out = not never.wait(timeout=0.2)
    waited = time.monotonic() - t0
    go.set()
    for t in ts:
        t.join()
    check("event-timeout", timed_out and 0.15 <= waited < 5, True)
    check("event-released", sorted(seen), list(range(n)))


def semaphore_bound(n=24, limit=3):
    """A BoundedSemaphore admits at most `limit` threads at once; RLock nested."""
    sem = threading.BoundedSemaphore(limit)
    rl = threading.RLock()
    inside = [0]
    peak = [0]
    done = [0]

    def work():
        for _ in range(20):
            with sem:
                with rl:
                    with rl:
                        inside[0] += 1
                        peak[0] = max(peak[0], inside[0])
                time.sleep(0.0005)
                with rl:
                    inside[0] -= 1
                    done[0] += 1
    ts = [threading.Thread(target=work) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("semaphore-done", done[0], n * 20)
    check("semaphore-peak-ok", 1 <= peak[0] <= limit, True)


def local_data(n=16):
    """threading.local: each thread sees only its own attribute."""
    loc = threading.local()
    bad = []

    def work(k):
        loc.v = k
        for i in range(2000):
            loc.v += 1
            if i % 100 == 0:
                time.sleep(0)
        if loc.v != k + 2000:
            bad.append((k, loc.v))
    ts = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("thread-local-bad", bad, [])


def pool_hashes(tasks=64):
    """ThreadPoolExecutor: hashlib releases the GIL on big buffers, so the
    workers really run at once; results come back in completion order."""
    def job(i):
        data = (b"%08d" % i) * 40000
        h = hashlib.sha256()
        for _ in range(4):
            h.update(data)
        return i, h.hexdigest()
    with ThreadPoolExecutor(max_workers=8) as ex:
        futs = [ex.submit(job, i) for i in range(tasks)]
        got = dict(f.result() for f in as_completed(futs))
        mapped = list(ex.map(lambda x: x * x, range(1000)))
    want = {i: job(i)[1] for i in range(tasks)}
    check("pool-results", got == want, True)
    digest = hashlib.sha256("".join(got[i] for i in range(tasks)).encode()).hexdigest()
    print("pool-digest:", digest)
    check("pool-map-sum", sum(mapped), sum(x * x for x in range(1000)))


def many_short_threads(n=2000):
    """Thread churn: many short-lived threads, each joined."""
    total = [0]
    lock = threading.Lock()

    def work(k):
        with lock:
            total[0] += k
    for base in range(0, n, 200):
        ts = [threading.Thread(target=work, args=(base + k,)) for k in range(200)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    check("short-threads-sum", total[0], n * (n - 1) // 2)


def threaded_tcp_echo(clients=16, rounds=50):
    """socketserver.ThreadingTCPServer on 127.0.0.1 (a thread per
    connection, blocking sockets), driven by client threads in the same
    process; every byte echoed is checked."""
    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(line.upper())

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = False
        block_on_close = True   # server_close() joins every handler thread

    srv = Server(("127.0.0.1", 0), Echo)
    port = srv.server_address[1]
    st = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    st.start()
    good = [0] * clients

    def client(c):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            f = s.makefile("rwb")
            for r in range(rounds):
                msg = (b"client %d round %d " % (c, r)) * (1 + (c * r) % 300) + b"\n"
                f.write(msg)
                f.flush()
                if f.readline() == msg.upper():
                    good[c] += 1
    cs = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in cs:
        t.start()
    for t in cs:
        t.join()
    srv.shutdown()
    st.join()
    srv.server_close()
    check("tcp-echo-good", sum(good), clients * rounds)


def main():
    locked_counter()
    producer_consumer()
    condition_pingpong()
    event_gate()
    semaphore_bound()
    local_data()
    pool_hashes()
    many_short_threads()
    threaded_tcp_echo()
    check("threads-left", threading.active_count(), 1)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
