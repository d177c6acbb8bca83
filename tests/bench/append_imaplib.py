#!/usr/bin/env python3
"""APPEND latency as Python's imaplib sees it: Nagle's algorithm left on
(imaplib never sets TCP_NODELAY) and the literal sent apart from the CRLF
that ends the command, as many clients write them. A server whose kernel
delays its ACK of the literal makes the client wait for it (40 ms on
Linux) before the CRLF may go.

    append_imaplib.py LABEL PORT USER PASSWORD [COUNT]

Prints one result line for tests/bench/table.py.
"""
import imaplib
import statistics
import sys
import time

label, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
body = "".join(f"Baris {i} laporan kegiatan.\r\n" for i in range(20))
imap = imaplib.IMAP4("127.0.0.1", port)
imap.login(user, password)
imap.create("Kirim")  # NO when it exists: fine
samples = []
for n in range(count):
    message = (
        f"From: Siti <siti@bench.test>\r\nTo: Budi <budi@bench.test>\r\n"
        f"Subject: Terkirim {n}\r\nMessage-ID: <kirim-{n}-{time.time()}@bench.test>\r\n\r\n{body}"
    ).encode()
    started = time.perf_counter()
    typ, _ = imap.append("Kirim", None, None, message)
    samples.append((time.perf_counter() - started) * 1000)
    if typ != "OK":
        sys.exit(f"APPEND refused: {typ}")
imap.logout()
samples.sort()
p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
print(
    f"imap-append-imaplib {label} messages={count} "
    f"p50_ms={statistics.median(samples):.3f} p99_ms={p99:.3f}"
)
