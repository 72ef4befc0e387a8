"""Concurrent data check against a key-value server on 127.0.0.1.

  kvcheck.py redis|memcached PORT ping
  kvcheck.py redis|memcached PORT check
  kvcheck.py redis PORT bench N     after redis-benchmark -n N -t set,get,incr,lpush
  kvcheck.py memcached PORT shutdown

`check`: 8 client threads, each on its own connection, store 250 keys
each with deterministic pseudo-random values of 1 byte to 128 KiB
(pipelined in batches), read them all back (single and multi-key gets) and
compare every byte, increment one shared counter 500 times each, delete
half their keys and check that those are gone and the rest are not. It
prints a summary that does not depend on timing and exits 1 at the first
wrong answer. Runs natively (it is the client, not the program under test).
"""
import random
import socket
import sys
import threading

THREADS = 8
KEYS = 250
INCRS = 500
BATCH = 25


class Wrong(Exception):
    pass


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise Wrong("server closed the connection")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln, self.buf = self.buf[:i], self.buf[i + 2:]
                return ln
            self._fill()

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d


class Redis(Conn):
    @staticmethod
    def cmd(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = b"%d" % a
            elif isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def reply(self):
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+", b":"):
            return int(rest) if t == b":" else rest
        if t == b"-":
            raise Wrong("server error: %r" % rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise Wrong("bad reply line %r" % ln)

    def call(self, *args):
        self.send(self.cmd(*args))
        return self.reply()

    def set_many(self, items):
        self.send(b"".join(self.cmd("SET", k, v) for k, v in items))
        for _ in items:
            if self.reply() != b"OK":
                raise Wrong("SET not OK")

    def get(self, k):
        return self.call("GET", k)

    def get_many(self, keys):
        return self.call("MGET", *keys)

    def incr(self, k):
        return self.call("INCR", k)

    def delete(self, k):
        return self.call("DEL", k) == 1

    def init_counter(self, k):
        self.call("SET", k, "0")


class Memcached(Conn):
    def set_many(self, items):
        self.send(b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k.encode(), len(v), v) for k, v in items))
        for _ in items:
            r = self.line()
            if r != b"STORED":
                raise Wrong("set: %r" % r)

    def get_many(self, keys):
        self.send(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
        got = {}
        while True:
            ln = self.line()
            if ln == b"END":
                break
            parts = ln.split()
            if parts[0] != b"VALUE":
                raise Wrong("get: %r" % ln)
            got[parts[1].decode()] = self.exact(int(parts[3]))
        return [got.get(k) for k in keys]

    def get(self, k):
        return self.get_many([k])[0]

    def incr(self, k):
        self.send(b"incr %s 1\r\n" % k.encode())
        r = self.line()
        if not r.isdigit():
            raise Wrong("incr: %r" % r)
        return int(r)

    def delete(self, k):
        self.send(b"delete %s\r\n" % k.encode())
        return self.line() == b"DELETED"

    def init_counter(self, k):
        self.set_many([(k, b"0")])


def value(r):
    # Mostly small, some large (several reads and writes, partial writes).
    n = r.choice([1, 7, 100, 1000, 4000, 20000, 131072]) + r.randrange(64)
    return r.randbytes(min(n, 131072))


def worker(kind, port, t, results):
    try:
        c = {"redis": Redis, "memcached": Memcached}[kind](port)
        r = random.Random(1000 + t)
        items = [("kv:%d:%d" % (t, i), value(r)) for i in range(KEYS)]
        for b in range(0, KEYS, BATCH):
            c.set_many(items[b:b + BATCH])
        ok = 0
        for k, v in items[: KEYS // 2]:
            if c.get(k) != v:
                raise Wrong("GET %s: wrong value" % k)
            ok += 1
        for b in range(KEYS // 2, KEYS, BATCH):
            chunk = items[b:b + BATCH]
            got = c.get_many([k for k, _ in chunk])
            for (k, v), g in zip(chunk, got):
                if g != v:
                    raise Wrong("multi-get %s: wrong value" % k)
                ok += 1
        last = 0
        for _ in range(INCRS):
            n = c.incr("kv:counter")
            if n <= last:
                raise Wrong("counter went from %d to %d" % (last, n))
            last = n
        deleted = sum(c.delete(k) for k, _ in items[::2])
        gone = sum(c.get(k) is None for k, _ in items[::2])
        kept = sum(c.get(k) == v for k, v in items[1::2])
        results[t] = (ok, sum(len(v) for _, v in items), deleted, gone, kept)
    except Exception as e:  # reported by main
        results[t] = e


def check(kind, port):
    Klass = {"redis": Redis, "memcached": Memcached}[kind]
    Klass(port).init_counter("kv:counter")
    results = [None] * THREADS
    ts = [threading.Thread(target=worker, args=(kind, port, t, results)) for t in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = [(i, r) for i, r in enumerate(results) if not isinstance(r, tuple)]
    if bad:
        for i, r in bad:
            print("client %d: %s" % (i, r), file=sys.stderr)
        sys.exit(1)
    counter = int(Klass(port).get("kv:counter"))
    ok, nbytes, deleted, gone, kept = (sum(x) for x in zip(*results))
    print("values stored and read back intact: %d (%d bytes)" % (ok, nbytes))
    print("shared counter: %d" % counter)
    print("deleted %d, gone %d, kept intact %d" % (deleted, gone, kept))
    want = (THREADS * KEYS, THREADS * INCRS, THREADS * KEYS // 2)
    if (ok, counter, deleted, gone, kept) != (want[0], want[1], want[2], want[2], want[2]):
        print("wrong: expected %d values, counter %d, %d deleted/gone/kept" % want, file=sys.stderr)
        sys.exit(1)


def bench(port, n):
    c = Redis(port)
    counter = c.call("GET", "counter:__rand_int__")
    llen = c.call("LLEN", "mylist")
    key = c.call("GET", "key:__rand_int__")
    print("after redis-benchmark -n %d: counter %s, list length %s, key %r"
          % (n, counter.decode() if counter else None, llen, key))
    # Every INCR and LPUSH done exactly once; SET stored the 3-byte payload.
    if counter != b"%d" % n or llen != n or key is None or len(key) != 3:
        print("wrong: expected counter %d, list length %d, a 3-byte key" % (n, n), file=sys.stderr)
        sys.exit(1)


def main():
    kind, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        if what == "ping":
            if kind == "redis":
                sys.exit(0 if Redis(port).call("PING") == b"PONG" else 1)
            c = Memcached(port)
            c.send(b"version\r\n")
            sys.exit(0 if c.line().startswith(b"VERSION") else 1)
        elif what == "check":
            check(kind, port)
        elif what == "bench":
            bench(port, int(sys.argv[4]))
        elif what == "shutdown" and kind == "memcached":
            c = Memcached(port)
            c.send(b"shutdown\r\n")
            try:
                c.line()  # nothing comes back: the server closes
            except Wrong:
                pass
        else:
            sys.exit("unknown request")
    except (OSError, Wrong) as e:
        print("%s %s: %s" % (kind, what, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
