"""SMTP delivery throughput: messages/s accepted and durably delivered
(fsynced in the maildir before the 250), and DATA→250 latency.

    python3 tests/bench/smtp_bench.py PORT RCPT MESSAGES CONNECTIONS [SIZE]

Speaks to a server on 127.0.0.1 (MX port, no AUTH), one message after
another per connection. Prints figures; never fails because of them.
"""
import socket
import statistics
import sys
import threading
import time

port, rcpt, total, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 1024
body = (b"Isi pesan uji beban.\r\n" * (size // 22 + 1))[:size]
latencies = []
lock = threading.Lock()


def expect(f, code):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(line)
            return


def worker(n):
    s = socket.create_connection(("127.0.0.1", port))
    # Without this, Nagle's algorithm holds the final dot for the delayed ACK.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    expect(f, b"220")
    s.sendall(b"EHLO bench\r\n")
    expect(f, b"250")
    mine = []
    for i in range(n):
        s.sendall(f"MAIL FROM:<bench@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        expect(f, b"250")
        expect(f, b"250")
        expect(f, b"354")
        s.sendall(b"Subject: bench %d\r\n\r\n" % i + body)
        started = time.perf_counter()
        s.sendall(b"\r\n.\r\n")
        expect(f, b"250")
        mine.append(time.perf_counter() - started)
    s.sendall(b"QUIT\r\n")
    s.close()
    with lock:
        latencies.extend(mine)


started = time.perf_counter()
threads = [threading.Thread(target=worker, args=(total // conns,)) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
print(f"{len(latencies)} x {size} B over {conns} connection(s): {len(latencies) / elapsed:.0f} msg/s; "
      f"DATA->250 p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms")
