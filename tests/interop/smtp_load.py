"""Load for the crash test, and the check after it.

    smtp_load.py load ACKED_FILE    send messages to tono over MX, one per
                                    connection, recording each one that got 250
    smtp_load.py check ACKED_FILE   read tono's INBOX over IMAP: every recorded
                                    message exactly once, each one whole
    smtp_load.py ratelimit          the submission rate limit answers 4xx
"""
import hashlib
import imaplib
import os
import smtplib
import ssl
import sys
import time

HOST = "127.0.0.1"


def body(i):
    text = ("Baris laporan nomor %d.\r\n" % i) * 400
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text, digest


def load(acked_path):
    port = int(os.environ["SUREL_SMTP_PORT"])
    deadline = time.time() + 10
    i = 0
    with open(acked_path, "w") as acked:
        while time.time() < deadline:
            i += 1
            text, digest = body(i)
            msg = f"From: a@example.org\r\nTo: tono@kemenkeu.go.id\r\nSubject: crash-{i}\r\nX-Digest: {digest}\r\n\r\n{text}"
            try:
                with smtplib.SMTP(HOST, port, timeout=5) as s:
                    s.sendmail("a@example.org", ["tono@kemenkeu.go.id"], msg.encode())
                acked.write(f"crash-{i}\n")
                acked.flush()
                os.fsync(acked.fileno())
            except (OSError, smtplib.SMTPException):
                return  # the server is gone


def check(acked_path):
    ctx = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
    ctx.check_hostname = False
    m = imaplib.IMAP4_SSL(HOST, int(os.environ["SUREL_IMAPS_PORT"]), ssl_context=ctx)
    m.login("tono@kemenkeu.go.id", "Hujan-Sore-77")
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1:*", "(BODY.PEEK[])") if int(m.select("INBOX", readonly=True)[1][0]) else ("OK", [])
    seen = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        raw = item[1]
        head, _, text = raw.partition(b"\r\n\r\n")
        subject = [l for l in head.split(b"\r\n") if l.startswith(b"Subject: ")][0][9:].decode()
        digest = [l for l in head.split(b"\r\n") if l.startswith(b"X-Digest: ")][0][10:].decode()
        assert hashlib.sha256(text).hexdigest() == digest, f"{subject} is not whole"
        seen[subject] = seen.get(subject, 0) + 1
    acked = [l.strip() for l in open(acked_path) if l.strip()]
    missing = [s for s in acked if s not in seen]
    twice = [s for s, n in seen.items() if n > 1]
    assert not missing, f"acknowledged but missing: {missing}"
    assert not twice, f"delivered twice: {twice}"
    print(f"{len(acked)} acknowledged, {len(seen)} present: every acknowledged message is there exactly once, all whole")


def ratelimit():
    ctx = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
    ctx.check_hostname = False
    with smtplib.SMTP_SSL(HOST, int(os.environ["SUREL_SUBMISSIONS_PORT"]), context=ctx) as s:
        s.login("budi@kemenkeu.go.id", "Hujan-Sore-77")
        for i in range(2):
            s.sendmail("budi@kemenkeu.go.id", ["siti@kemenkeu.go.id"], f"From: budi@kemenkeu.go.id\r\nSubject: r{i}\r\n\r\nx\r\n".encode())
        code, text = s.mail("budi@kemenkeu.go.id")
        print(code, text.decode())


if __name__ == "__main__":
    {"load": lambda: load(sys.argv[2]), "check": lambda: check(sys.argv[2]), "ratelimit": ratelimit}[sys.argv[1]]()
