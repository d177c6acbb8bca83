#!/usr/bin/env python3
"""APPEND latency as Python's imaplib sees it: Nagle's algorithm left on
(imaplib never sets TCP_NODELAY) and the literal sent apart from the CRLF
that ends the command, as many clients write them. A server whose kernel
delays its ACK of the literal makes the client wait for it (40 ms on
Linux) before the CRLF may go.

    append_imaplib.py USER PASSWORD COUNT ROUNDS LABEL,PORT [LABEL,PORT ...]

Every server gets COUNT APPENDs in ROUNDS rounds, taking turns (in order
in even rounds, reversed in odd ones), so that a slow spell of the disk
falls on each alike. Prints one result line per server for
tests/bench/table.py.
"""
import imaplib
import statistics
import sys
import time

user, password, count, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
servers = [(label, int(port)) for label, port in (a.rsplit(",", 1) for a in sys.argv[5:])]
rounds = max(1, min(rounds, count))
body = "".join(f"Baris {i} laporan kegiatan.\r\n" for i in range(20))
sessions, samples = [], []
for _, port in servers:
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login(user, password)
    imap.create("Kirim")  # NO when it exists: fine
    sessions.append(imap)
    samples.append([])
for r in range(rounds):
    first, end = r * count // rounds, (r + 1) * count // rounds
    order = list(range(len(servers)))
    if r % 2:
        order.reverse()
    for i in order:
        for n in range(first, end):
            message = (
                f"From: Siti <siti@bench.test>\r\nTo: Budi <budi@bench.test>\r\n"
                f"Subject: Terkirim {n}\r\nMessage-ID: <kirim-{n}-{time.time()}@bench.test>\r\n\r\n{body}"
            ).encode()
            started = time.perf_counter()
            typ, _ = sessions[i].append("Kirim", None, None, message)
            samples[i].append((time.perf_counter() - started) * 1000)
            if typ != "OK":
                sys.exit(f"APPEND refused by {servers[i][0]}: {typ}")
for (label, _), imap, taken in zip(servers, sessions, samples):
    imap.logout()
    taken.sort()
    p99 = taken[min(len(taken) - 1, int(len(taken) * 0.99))]
    print(
        f"imap-append-imaplib {label} messages={count} "
        f"p50_ms={statistics.median(taken):.3f} p99_ms={p99:.3f}"
    )
