"""Crash safety: kill -9 at random moments during mixed SMTP and IMAP load.

Run by tests/e2e/crash.rs, which writes the config and creates
budi@kemenkeu.go.id; this script starts the real binary itself, loads it,
kills it with SIGKILL, restarts it and checks, ROUNDS times:

- every message acknowledged (250 after DATA, OK to APPEND) is present
  exactly once, in some folder (MOVE may have carried it);
- no message is present twice, acknowledged or not;
- the index agrees with the files: each folder's EXISTS equals its files
  in new/ and cur/, with the same Message-IDs;
- no UID is reused (a UID once seen names the same message for ever, and
  UIDNEXT stays above every UID seen) and UIDVALIDITY never changes.
"""
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import imaplib

BIN = os.environ["SUREL_BIN"]
CONFIG = os.environ["SUREL_CONFIG"]
DIR = os.environ["SUREL_DIR"]
IMAPS = int(os.environ["SUREL_IMAPS_PORT"])
SMTP = int(os.environ["SUREL_SMTP_PORT"])
ROUNDS = int(os.environ.get("ROUNDS", "20"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
HOST = "127.0.0.1"
USER = "budi@kemenkeu.go.id"
PASSWORD = "Hujan-Sore-77"
MAILDIR = os.path.join(DIR, "data", "mail", "kemenkeu.go.id", "budi")
FOLDERS = ["INBOX", "Lemari", "Pindah"]
_ctx = []


def ctx():
    """The TLS context trusting the server's certificate, which its first
    start creates."""
    if not _ctx:
        c = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
        c.check_hostname = False
        _ctx.append(c)
    return _ctx[0]

rng = random.Random(SEED)
acked = set()  # Message-IDs acknowledged to a client
acked_lock = threading.Lock()
uid_owner = {}  # (folder, uid) -> Message-ID, across all rounds
uidvalidity = {}  # folder -> the first UIDVALIDITY seen


def message(mid, n):
    body = "".join(f"Baris {i} surat {mid}.\r\n" for i in range(n))
    return (f"From: Uji <uji@kemenkeu.go.id>\r\nTo: {USER}\r\nSubject: Uji {mid}\r\n"
            f"Message-ID: <{mid}>\r\n\r\n{body}").encode()


RUNNING = []  # the server started last, stopped however the script ends


def start():
    log = open(os.path.join(DIR, "crash-server.log"), "ab")
    proc = subprocess.Popen([BIN, "--config", CONFIG, "serve"], cwd=DIR,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    RUNNING[:] = [proc]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, IMAPS), 1).close()
            m = imaplib.IMAP4_SSL(HOST, IMAPS, ssl_context=ctx(), timeout=5)
            m.logout()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"surel exited with {proc.returncode}; see crash-server.log")
            time.sleep(0.05)
    raise SystemExit("surel did not start")


def smtp_sender(stop, tag):
    n = 0
    while not stop.is_set():
        try:
            s = socket.create_connection((HOST, SMTP), 5)
            f = s.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if not line:
                        raise ConnectionError
                    if line[3:4] != b"-":
                        return line

            reply()
            s.sendall(b"EHLO crash.test\r\n")
            reply()
            while not stop.is_set():
                n += 1
                mid = f"smtp-{tag}-{n}@crash.test"
                s.sendall(b"MAIL FROM:<uji@crash.test>\r\n")
                reply()
                s.sendall(f"RCPT TO:<{USER}>\r\n".encode())
                reply()
                s.sendall(b"DATA\r\n")
                reply()
                s.sendall(message(mid, rng.randrange(1, 200)) + b".\r\n")
                if reply().startswith(b"250"):
                    with acked_lock:
                        acked.add(mid)
        except (OSError, ConnectionError):
            time.sleep(0.02)


def login():
    m = imaplib.IMAP4_SSL(HOST, IMAPS, ssl_context=ctx(), timeout=5)
    m.login(USER, PASSWORD)
    return m


def appender(stop, tag):
    n = 0
    while not stop.is_set():
        try:
            m = login()
            while not stop.is_set():
                n += 1
                mid = f"imap-{tag}-{n}@crash.test"
                typ, _ = m.append("Lemari", None, None, message(mid, rng.randrange(1, 50)))
                if typ == "OK":
                    with acked_lock:
                        acked.add(mid)
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            time.sleep(0.02)


def mover(stop):
    while not stop.is_set():
        try:
            m = login()
            m.select("INBOX")
            while not stop.is_set():
                typ, data = m.uid("SEARCH", "ALL")
                uids = data[0].split()[:5]
                if not uids:
                    time.sleep(0.01)
                    continue
                m.uid("STORE", b",".join(uids), "+FLAGS", "(\\Seen)")
                m.uid("MOVE", b",".join(uids[:2]), "Pindah")
                m.expunge()
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            time.sleep(0.02)


def message_ids(raw):
    return re.findall(rb"(?im)^message-id:\s*<([^>]+)>", raw)


def files_of(folder):
    d = MAILDIR if folder == "INBOX" else os.path.join(MAILDIR, "." + folder)
    out = []
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for name in os.listdir(p):
            with open(os.path.join(p, name), "rb") as f:
                ids = message_ids(f.read(4096))
            out.append(ids[0].decode() if ids else "")
    return out


def check(round_no):
    m = login()
    seen = {}
    for folder in FOLDERS:
        typ, _ = m.select(folder)
        if typ != "OK":
            continue
        validity = int(m.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
        uidnext = int(m.untagged_responses.get("UIDNEXT", [b"0"])[-1])
        exists = int(m.untagged_responses.get("EXISTS", [b"0"])[-1])
        assert uidvalidity.setdefault(folder, validity) == validity, \
            f"round {round_no}: UIDVALIDITY of {folder} changed"
        pairs = []
        if exists:
            typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", data
            for item in data:
                if isinstance(item, tuple):
                    uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                    ids = message_ids(item[1])
                    pairs.append((uid, ids[0].decode() if ids else ""))
        assert len(pairs) == exists, f"{folder}: EXISTS {exists}, fetched {len(pairs)}"
        for uid, mid in pairs:
            owner = uid_owner.setdefault((folder, uid), mid)
            assert owner == mid, f"round {round_no}: UID {uid} in {folder} was {owner}, now {mid}"
            seen.setdefault(mid, []).append((folder, uid))
        top = max((u for (f, u) in uid_owner if f == folder), default=0)
        assert uidnext > top, f"round {round_no}: {folder} UIDNEXT {uidnext} <= UID {top} seen"
        on_disk = sorted(files_of(folder))
        assert on_disk == sorted(mid for _, mid in pairs), \
            f"round {round_no}: {folder}: index and files differ"
    m.logout()
    twice = {mid: where for mid, where in seen.items() if len(where) > 1}
    assert not twice, f"round {round_no}: present more than once: {twice}"
    missing = sorted(acked - set(seen))
    assert not missing, f"round {round_no}: acknowledged but lost: {missing[:10]} ({len(missing)})"
    return sum(len(w) for w in seen.values())


def main():
    print(f"seed {SEED}, {ROUNDS} rounds", flush=True)
    proc = start()
    login().create("Lemari")
    m = login()
    m.create("Pindah")
    m.logout()
    for round_no in range(1, ROUNDS + 1):
        stop = threading.Event()
        threads = [threading.Thread(target=smtp_sender, args=(stop, f"{round_no}-{i}")) for i in range(3)]
        threads += [threading.Thread(target=appender, args=(stop, f"{round_no}-{i}")) for i in range(2)]
        threads.append(threading.Thread(target=mover, args=(stop,)))
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        proc = start()
        total = check(round_no)
        print(f"round {round_no}: killed, restarted; {len(acked)} acknowledged, "
              f"{total} present, all checks hold", flush=True)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    print(f"FIGURE crash rounds={ROUNDS} acknowledged={len(acked)} seed={SEED}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAILED:", e, file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        for proc in RUNNING:
            if proc.poll() is None:
                proc.kill()
