"""The real-server rows of scripts/bench --servers (stdlib only).

Debian's MariaDB (mariadbd, default settings but max_connections, so that
256 sysbench threads can connect) under sysbench, and Apache httpd
(bench/httpd.conf, mpm_worker or mpm_event) under wrk. The server runs in
the column's environment (natively, or with libgmpt.so preloaded); the
clients always run natively, on 127.0.0.1. Every run starts its own server
(MariaDB on a fresh copy of a prepared datadir) and stops it afterwards, so
that runs do not inherit each other's state.

run_mariadb / run_apache return a record as bench_run's runs do: status
ok with value = ns per transaction (request) and kv (tps or rps, latency
percentiles in ms), or status fail with why.
"""

import os
import re
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root"]
TABLES, TABLE_SIZE = 4, 10000
MAX_CONNECTIONS = 400  # the 256-thread rows, with room for the admin clients


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_programs():
    """The programs the server rows need that are not installed."""
    need = ("mariadbd", "mariadb-install-db", "mysqladmin", "mariadb", "sysbench", "apache2",
            "wrk")
    return [p for p in need if not shutil.which(p)
            and not os.access(os.path.join("/usr/sbin", p), os.X_OK)]


def as_root():
    return ["--user=root"] if os.geteuid() == 0 else []


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def last_lines(path, n=3):
    lines = [ln.strip() for ln in read(path).splitlines() if ln.strip()]
    return " | ".join(ln[:200] for ln in lines[-n:])


def wait_until(pred, proc, timeout):
    """Polls pred until it holds (True), proc exits or timeout passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(proc, grace):
    """SIGTERM to the server, SIGKILL to its process group after grace s.
    Returns how long it took, or None when it had to be killed."""
    t0 = time.monotonic()
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace)
        return time.monotonic() - t0
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()
        return None


class MariaDB:
    """A prepared datadir (made once per build directory and server
    version: mariadb-install-db, then sysbench prepare against a native
    server), copied for each run."""

    def __init__(self, cache_dir, base_env):
        self.base_env = base_env
        ver = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True,
                             env=base_env).stdout.split()
        tag = re.sub(r"[^A-Za-z0-9._-]", "_", ver[2] if len(ver) > 2 else "unknown")
        self.pristine = os.path.join(cache_dir, f"mariadb-sbtest-{tag}")

    def start(self, datadir, env, stem, timeout=60):
        port = free_port()
        argv = ["mariadbd", "--no-defaults", f"--datadir={datadir}"] + as_root() + [
            "--bind-address=127.0.0.1", f"--port={port}", f"--socket={datadir}.sock",
            f"--pid-file={datadir}.pid", f"--log-error={stem}.server.log",
            f"--max-connections={MAX_CONNECTIONS}"]
        with open(stem + ".server.err", "wb") as se:
            proc = subprocess.Popen(argv, env=env, stdout=se, stderr=se,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

        def ping():
            return subprocess.run(["mysqladmin"] + CLIENT + ["-P", str(port),
                                   "--connect-timeout=2", "ping"], env=self.base_env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode == 0

        if not wait_until(ping, proc, timeout):
            stop(proc, 5)
            return None, port
        return proc, port

    def shutdown(self, proc, port, grace=60):
        subprocess.run(["mysqladmin"] + CLIENT + ["-P", str(port), "shutdown"],
                       env=self.base_env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=grace)
        try:
            proc.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            stop(proc, 1)
            return False

    def sysbench(self, port):
        return ["sysbench", "--db-driver=mysql", "--mysql-host=127.0.0.1",
                f"--mysql-port={port}", "--mysql-user=root", "--mysql-db=sbtest",
                f"--tables={TABLES}", f"--table-size={TABLE_SIZE}"]

    def prepare(self, logdir):
        """Makes the prepared datadir if it is not there; returns why not, or ''."""
        if os.path.isdir(self.pristine):
            return ""
        tmp = self.pristine + f".tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        data = os.path.join(tmp, "data")
        stem = os.path.join(logdir, "mariadb-prepare")
        with open(stem + ".install.log", "wb") as lf:
            rc = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}"]
                                + as_root() + ["--auth-root-authentication-method=normal",
                                               "--skip-test-db"], env=self.base_env,
                                stdout=lf, stderr=lf, timeout=300).returncode
        if rc != 0:
            return f"mariadb-install-db failed: {last_lines(stem + '.install.log')}"
        proc, port = self.start(data, self.base_env, stem)
        if not proc:
            return f"mariadbd did not start: {last_lines(stem + '.server.log')}"
        try:
            with open(stem + ".sysbench.log", "wb") as lf:
                subprocess.run(["mariadb"] + CLIENT + ["-P", str(port), "-e",
                               "CREATE DATABASE sbtest"], env=self.base_env, stdout=lf,
                               stderr=lf, timeout=60, check=True)
                subprocess.run(self.sysbench(port) + ["--threads=4", "oltp_read_write",
                               "prepare"], env=self.base_env, stdout=lf, stderr=lf,
                               timeout=600, check=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            stop(proc, 30)
            return f"sysbench prepare failed ({e}): {last_lines(stem + '.sysbench.log')}"
        if not self.shutdown(proc, port):
            return "the native server did not shut down after sysbench prepare"
        os.replace(data, self.pristine)
        shutil.rmtree(tmp, ignore_errors=True)
        return ""

    def run(self, env, workload, threads, seconds, stem, work):
        data = os.path.join(work, "mariadb-data")
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(self.pristine, data, symlinks=True)
        try:
            proc, port = self.start(data, env, stem)
            if not proc:
                return {"status": "fail", "why": "mariadbd did not answer within 60 s: "
                        + last_lines(stem + ".server.log")}
            out = stem + ".out"
            # --percentile=99 is what sysbench reports; p95 comes from its
            # histogram (the bucket the 95th percent falls in).
            with open(out, "wb") as fo, open(stem + ".err", "wb") as fe:
                try:
                    rc = subprocess.run(self.sysbench(port) + [
                        f"--threads={threads}", f"--time={seconds}", "--percentile=99",
                        "--histogram=on", workload, "run"], env=self.base_env, stdout=fo,
                        stderr=fe, timeout=seconds + 120).returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
            clean = self.shutdown(proc, port)
            text = read(out)
            if rc != 0:
                return {"status": "fail", "why": f"sysbench {rc}: " + last_lines(stem + ".err")}
            if not clean:
                return {"status": "fail", "why": "mariadbd did not stop within 60 s of "
                        "mysqladmin shutdown"}
            kv = parse_sysbench(text)
            if not kv:
                return {"status": "fail", "why": "no transactions in sysbench's report"}
            return {"status": "ok", "value": 1e9 / kv["tps"], "kv": kv}
        finally:
            shutil.rmtree(data, ignore_errors=True)


def parse_sysbench(text):
    m = re.search(r"transactions:\s+(\d+)\s+\(([0-9.]+) per sec", text)
    if not m or int(m.group(1)) == 0:
        return None
    kv = {"tps": float(m.group(2)), "transactions": int(m.group(1))}
    for key, pat in (("errors", r"ignored errors:\s+(\d+)"), ("reconnects", r"reconnects:\s+(\d+)"),
                     ("p99_ms", r"99th percentile:\s+([0-9.]+)")):
        mm = re.search(pat, text)
        if mm:
            kv[key] = float(mm.group(1))
    # The histogram: "   1.234 |*****   56" lines, in increasing value.
    hist = [(float(a), int(b)) for a, b in
            re.findall(r"^\s*([0-9.]+)\s+\|\**\s+(\d+)\s*$", text, re.M)]
    total = sum(n for _, n in hist)
    if total:
        acc = 0
        for v, n in hist:
            acc += n
            if acc >= 0.95 * total:
                kv["p95_ms"] = v
                break
    return kv


def run_apache(env, mpm, conns, seconds, stem, work, base_env):
    """httpd with bench/httpd.conf and MPM (worker, event), one 4 KiB static
    file, under wrk -c CONNS (2 threads) for SECONDS."""
    root = os.path.join(work, "httpd-root")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "htdocs"))
    os.makedirs(os.path.join(root, "logs"))
    with open(os.path.join(root, "htdocs", "index.html"), "w", encoding="ascii") as f:
        f.write(("gmpt bench " * 400)[:4096])
    # The children serve as nobody: everything must be readable by all.
    for d, _, files in os.walk(root):
        os.chmod(d, 0o755)
        for x in files:
            os.chmod(os.path.join(d, x), 0o644)
    os.chmod(work, 0o755)
    port = free_port()
    argv = ["apache2", "-d", root, "-f", os.path.join(HERE, "httpd.conf"), "-D", mpm,
            "-D", "FOREGROUND", "-C", f"Listen 127.0.0.1:{port}"]
    with open(stem + ".server.err", "wb") as se:
        proc = subprocess.Popen(argv, env=env, stdout=se, stderr=se, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        def up():
            with socket.socket() as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.1", port)) == 0

        if not wait_until(up, proc, 30):
            return {"status": "fail", "why": "httpd did not listen within 30 s: "
                    + last_lines(os.path.join(root, "logs", "error.log"))}
        with open(stem + ".out", "wb") as fo, open(stem + ".err", "wb") as fe:
            try:
                rc = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
                                     f"http://127.0.0.1:{port}/index.html"], env=base_env,
                                    stdout=fo, stderr=fe, timeout=seconds + 60).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        text = read(stem + ".out")
        if rc != 0:
            return {"status": "fail", "why": f"wrk {rc}: " + last_lines(stem + ".err")}
        kv = parse_wrk(text)
        if not kv:
            return {"status": "fail", "why": "no Requests/sec in wrk's report"}
        if kv["non_2xx"]:
            return {"status": "fail", "why": f"{kv['non_2xx']} responses were not 2xx/3xx"}
        return {"status": "ok", "value": 1e9 / kv["rps"], "kv": kv}
    finally:
        took = stop(proc, 30)
        shutil.copy(os.path.join(root, "logs", "error.log"), stem + ".server.log")
        # How long the server took to stop on SIGTERM, for the notes.
        with open(stem + ".server.stop", "w", encoding="ascii") as f:
            f.write("killed after 30 s\n" if took is None else f"{took:.3f} s\n")
        shutil.rmtree(root, ignore_errors=True)


def wrk_ms(s):
    m = re.match(r"([0-9.]+)(us|ms|s)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def parse_wrk(text):
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m or float(m.group(1)) <= 0:
        return None
    kv = {"rps": float(m.group(1))}
    for q in ("50", "99"):
        mm = re.search(rf"^\s+{q}%\s+(\S+)", text, re.M)
        if mm and wrk_ms(mm.group(1)) is not None:
            kv[f"p{q}_ms"] = wrk_ms(mm.group(1))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    kv["socket_errors"] = sum(int(x) for x in errs.groups()) if errs else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    kv["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    return kv
