"""Memory of idle IMAP sessions: opens N TLS connections that log in,
SELECT INBOX and IDLE, then prints the server's RSS before and after.

    python3 tests/bench/idle_rss.py PID PORT USER PASSWORD CA N

Loopback only; every connection is closed at the end. Prints figures,
never fails because of them.
"""
import resource
import socket
import ssl
import sys
import time

pid, port, user, password, ca, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


# STAGE=greeting stops after the TLS handshake and greeting (to split the cost).
STAGE = __import__("os").environ.get("STAGE", "idle")
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False


def open_idle():
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw)
    f = s.makefile("rb")
    f.readline()
    if STAGE == "greeting":
        return s, f
    s.sendall(f"a LOGIN {user} {password}\r\n".encode())
    while not f.readline().startswith(b"a "):
        pass
    s.sendall(b"b SELECT INBOX\r\n")
    while not f.readline().startswith(b"b "):
        pass
    s.sendall(b"c IDLE\r\n")
    assert f.readline().startswith(b"+")
    return s, f


before = rss_kib()
conns = []
started = time.time()
for i in range(n):
    conns.append(open_idle())
opened = time.time() - started
time.sleep(2)
after = rss_kib()
print(f"[{STAGE}] {n} sessions opened in {opened:.1f} s; server RSS {before/1024:.1f} MiB -> {after/1024:.1f} MiB; "
      f"{(after - before) / n:.1f} KiB per idle connection")
for s, f in conns:
    s.sendall(b"DONE\r\nd LOGOUT\r\n")
    s.close()
