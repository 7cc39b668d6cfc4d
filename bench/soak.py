#!/usr/bin/env python3
"""Soak test for `tidings serve` (not run in CI).

Runs a release `tidings` for a long time (default 30 minutes) under mixed
load and samples its resident memory and descriptor count every 10 s:

- streams that reconnect: readers of GET /api/events that stay 2-30 s, then
  reconnect, half of them resuming with Last-Event-ID; some stall reading for
  a while (so they lag and get `lagged`); filters vary;
- publishes: POST /api/events at a steady rate with payloads of 10 B-2 KiB
  over keep-alive connections;
- task churn: short commands (some killed, some typed into), lists, gets and
  output reads;
- connection churn: idle sockets opened and dropped, health checks on fresh
  connections.

At the end it prints the drift after warm-up (RSS of the last minute against
the first minute after warm-up, and the min/max of each) and writes every
sample to target/soak/samples.csv and the summary to target/soak/summary.txt.

    cargo build --release -p host-native
    python3 bench/soak.py                      # 30 min, 10 s samples
    python3 bench/soak.py --duration 120       # a quick look
    python3 bench/soak.py -- --keep-finished 100   # extra `tidings serve` flags

Only the Python standard library is used.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "soak-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

stop = threading.Event()
counts = {"events": 0, "streams": 0, "lagged": 0, "published": 0, "tasks": 0,
          "killed": 0, "errors": 0, "idle_sockets": 0}
counts_lock = threading.Lock()


def count(key, n=1):
    with counts_lock:
        counts[key] += n


def start_server(binary, extra):
    data = tempfile.mkdtemp(prefix="tidings-soak-")
    args = [binary, "serve", "--addr", "127.0.0.1:0", "--token", TOKEN, "--data", data,
            "--stream-lifetime", "60s", "--heartbeat", "5s", "--reconcile-interval", "1s",
            "--idle-timeout", "20s", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_LOG"] = "warn"
    log = open(os.path.join(ROOT, "target", "soak", "server.log"), "w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env, cwd=data,
                            text=True)
    line = proc.stdout.readline()
    prefix = "tidings listening on http://"
    if not line.startswith(prefix):
        sys.exit(f"tidings did not start: {line!r}")
    host, port = line.strip()[len(prefix):].rsplit(":", 1)
    # Keep reading stdout so the server never blocks on a full pipe.
    threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
    return proc, host, int(port)


def conn(port, timeout=10):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(c, method, path, body=None, headers=JSON):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, data


def stream_reader(port, seed):
    rng = random.Random(seed)
    last_id = None
    filters = ["", "?types=task.*", "?types=soak.*", "?types=soak.tick,task.status"]
    while not stop.is_set():
        try:
            query = rng.choice(filters)
            headers = dict(AUTH)
            if last_id and rng.random() < 0.5:
                headers["Last-Event-ID"] = last_id
            stall_at = time.monotonic() + rng.uniform(1, 10) if rng.random() < 0.15 else None
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if stall_at:
                # A small receive buffer, so a stall backs up into the broker.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            head = f"GET /api/events{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            s.sendall(head.encode())
            count("streams")
            stay = time.monotonic() + rng.uniform(2, 30)
            buf = b""
            while time.monotonic() < stay and not stop.is_set():
                if stall_at and time.monotonic() > stall_at:
                    time.sleep(rng.uniform(4, 12))  # stop reading: the broker counts the lag
                    stall_at = None
                s.settimeout(1)
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.split(b"\n"):
                        if line.startswith(b"id: "):
                            last_id = line[4:].decode()
                            count("events")
                        elif line == b"event: lagged":
                            count("lagged")
            s.close()
        except OSError:
            count("errors")
            time.sleep(1)


def publisher(port, rate, seed):
    rng = random.Random(seed)
    c = conn(port)
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            pad = "x" * rng.randint(10, 2048)
            status, _ = request(c, "POST", "/api/events",
                                {"type": "soak.tick", "data": {"n": rng.random(), "pad": pad}})
            if status == 202:
                count("published")
            else:
                count("errors")
        except (OSError, http.client.HTTPException):
            count("errors")
            c.close()
            c = conn(port)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def task_churn(port, every, seed):
    rng = random.Random(seed)
    c = conn(port)
    while not stop.is_set():
        try:
            kind = rng.random()
            if kind < 0.5:
                body = {"command": "echo start; sleep 1; echo done", "name": "soak"}
            elif kind < 0.8:
                body = {"command": "read x; echo got $x", "input": "hello\n"}
            else:
                body = {"command": ["sleep", "30"]}
            status, data = request(c, "POST", "/api/tasks", body)
            if status != 201:
                count("errors")
            else:
                count("tasks")
                task = json.loads(data)
                if body.get("command") == ["sleep", "30"]:
                    time.sleep(rng.uniform(0.5, 2))
                    request(c, "DELETE", f"/api/tasks/{task['id']}", headers=AUTH)
                    count("killed")
                request(c, "GET", f"/api/tasks/{task['id']}", headers=AUTH)
                request(c, "GET", f"/api/tasks/{task['id']}/output?tail=20", headers=AUTH)
            request(c, "GET", "/api/tasks", headers=AUTH)
        except (OSError, http.client.HTTPException, ValueError):
            count("errors")
            c.close()
            c = conn(port)
        time.sleep(every)


def connection_churn(port, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        idle = []
        try:
            for _ in range(rng.randint(5, 50)):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                count("idle_sockets")
            c = conn(port)
            request(c, "GET", "/api/health", headers=AUTH)
            c.close()
        except (OSError, http.client.HTTPException):
            count("errors")
        time.sleep(rng.uniform(0.5, 3))
        for s in idle:
            s.close()


def sample(pid, port):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    conns = tasks = None
    try:
        c = conn(port, timeout=5)
        _, text = request(c, "GET", "/metrics", headers=AUTH)
        c.close()
        for line in text.decode().splitlines():
            if line.startswith("tidings_connections "):
                conns = float(line.split()[1])
            elif line.startswith("tidings_tasks{"):
                tasks = (tasks or 0) + float(line.split()[1])
    except (OSError, http.client.HTTPException):
        count("errors")
    return rss_kb, fds, conns, tasks


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=1800, help="seconds (default 1800)")
    p.add_argument("--sample", type=float, default=10, help="sampling period, s (default 10)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds left out of the drift (default: a sixth of the run, at most 300)")
    p.add_argument("--streams", type=int, default=40, help="concurrent stream readers")
    p.add_argument("--rate", type=float, default=40, help="publishes per second")
    p.add_argument("--task-every", type=float, default=2.0, help="seconds between new tasks")
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "tidings"))
    p.add_argument("extra", nargs="*", help="extra `tidings serve` flags (after --)")
    a = p.parse_args()
    warmup = a.warmup if a.warmup is not None else min(300, a.duration / 6)
    out_dir = os.path.join(ROOT, "target", "soak")
    os.makedirs(out_dir, exist_ok=True)
    proc, _, port = start_server(a.bin, a.extra)
    print(f"soak: tidings pid {proc.pid} on port {port}, {a.duration:.0f} s, "
          f"{a.streams} streams, {a.rate}/s publishes, a task every {a.task_every} s", flush=True)
    threads = [threading.Thread(target=stream_reader, args=(port, i), daemon=True)
               for i in range(a.streams)]
    threads.append(threading.Thread(target=publisher, args=(port, a.rate, 1), daemon=True))
    threads.append(threading.Thread(target=task_churn, args=(port, a.task_every, 2), daemon=True))
    threads.append(threading.Thread(target=connection_churn, args=(port, 3), daemon=True))
    for t in threads:
        t.start()
    samples = []
    started = time.monotonic()
    try:
        with open(os.path.join(out_dir, "samples.csv"), "w") as csv:
            csv.write("t_s,rss_kib,fds,connections,tasks\n")
            while time.monotonic() - started < a.duration:
                time.sleep(a.sample)
                if proc.poll() is not None:
                    sys.exit(f"tidings exited with {proc.returncode}")
                t = time.monotonic() - started
                rss, fds, conns, tasks = sample(proc.pid, port)
                samples.append((t, rss, fds, conns, tasks))
                csv.write(f"{t:.0f},{rss},{fds},{conns},{tasks}\n")
                csv.flush()
                print(f"{t:6.0f} s  rss {rss / 1024:7.1f} MiB  fds {fds:4d}  "
                      f"connections {conns}  tasks {tasks}", flush=True)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    after = [s for s in samples if s[0] >= warmup]
    if len(after) < 2:
        sys.exit("too short a run for a drift figure")
    window = max(1, int(60 / a.sample))
    first = statistics.median(s[1] for s in after[:window])
    last = statistics.median(s[1] for s in after[-window:])
    rss = [s[1] for s in after]
    fds = [s[2] for s in after]
    summary = (
        f"soak: {a.duration:.0f} s, sampled every {a.sample:.0f} s, warm-up {warmup:.0f} s\n"
        f"load: {counts}\n"
        f"RSS after warm-up: first minute {first / 1024:.1f} MiB, last minute {last / 1024:.1f} MiB, "
        f"drift {100 * (last - first) / first:+.1f}%, "
        f"min {min(rss) / 1024:.1f} max {max(rss) / 1024:.1f} MiB\n"
        f"descriptors after warm-up: first {fds[0]}, last {fds[-1]}, min {min(fds)}, max {max(fds)}\n"
    )
    with open(os.path.join(out_dir, "summary.txt"), "w") as f:
        f.write(summary)
    print(summary, end="")


if __name__ == "__main__":
    main()
