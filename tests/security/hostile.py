"""Hostile clients against the real surel binary.

Run by tests/e2e/hostile.rs, which starts the server (limits lowered so
the attacks hit them within seconds) and creates budi@kemenkeu.go.id;
ports, PID and paths arrive in environment variables.

Every attack gets its documented reply, the server stays up, and
meanwhile a normal client (from 127.0.0.2, another address) logs in,
selects INBOX and fetches: its latency and the server's memory are
sampled throughout and printed at the end as FIGURE lines.
"""
import os
import random
import resource
import socket
import ssl
import statistics
import threading
import time
import imaplib
import unittest

HOST = "127.0.0.1"
NORMAL = "127.0.0.2"  # the bystander's own address
ATTACKER = "127.0.0.3"  # the AUTH flood's
IMAP = int(os.environ["SUREL_IMAP_PORT"])
IMAPS = int(os.environ["SUREL_IMAPS_PORT"])
SMTP = int(os.environ["SUREL_SMTP_PORT"])
SUBMISSIONS = int(os.environ["SUREL_SUBMISSIONS_PORT"])
WEB = int(os.environ["SUREL_WEB_PORT"])
PID = int(os.environ["SUREL_PID"])
DIR = os.environ["SUREL_DIR"]
MAILDIR = os.path.join(DIR, "data", "mail", "kemenkeu.go.id", "budi")
USER = "budi@kemenkeu.go.id"
PASSWORD = "Hujan-Sore-77"
PER_IP = 100  # [limits] max_connections_per_ip in the harness

CTX = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
CTX.check_hostname = False

# 1,000 sockets at once need more than the usual 1,024 descriptors.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))


def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("surel is gone")


def alive():
    os.kill(PID, 0)  # raises when the process died
    return True


class FromAddress(imaplib.IMAP4_SSL):
    """imaplib over TLS from a chosen loopback address."""

    def __init__(self, source, *args, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = socket.create_connection(
            (self.host, self.port), timeout, source_address=(self.source, 0)
        )
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def normal_session(source=NORMAL):
    """Login, SELECT, FETCH of the headers, LOGOUT; seconds it took."""
    started = time.monotonic()
    m = FromAddress(source, HOST, IMAPS, ssl_context=CTX, timeout=30)
    m.login(USER, PASSWORD)
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    typ, _ = m.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    m.logout()
    return time.monotonic() - started


class Bystander(threading.Thread):
    """The normal client, over and over, while attacks run."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.latencies = []
        self.errors = []
        self.rss = []

    def run(self):
        while not self.stop.is_set():
            try:
                self.latencies.append(normal_session())
            except Exception as e:  # noqa: BLE001 - recorded, judged at the end
                self.errors.append(repr(e))
            self.rss.append(rss_kib())
            self.stop.wait(0.2)


BYSTANDER = Bystander()


def plain(port, source=HOST, timeout=10):
    s = socket.create_connection((HOST, port), timeout, source_address=(source, 0))
    return s, s.makefile("rb")


def tls(port, source=HOST, timeout=10):
    s = socket.create_connection((HOST, port), timeout, source_address=(source, 0))
    s = CTX.wrap_socket(s, server_hostname="mail.example.go.id")
    return s, s.makefile("rb")


def read_all(f):
    """Lines until the server closes (or the timeout)."""
    out = []
    try:
        while True:
            line = f.readline()
            if not line:
                break
            out.append(line)
    except (socket.timeout, ConnectionResetError, ssl.SSLError):
        pass
    return out


def until_tagged(f, tag):
    lines = []
    while True:
        line = f.readline()
        assert line, f"closed before {tag}: {lines}"
        lines.append(line)
        if line.startswith(tag + b" "):
            return line, lines


class ImapSession:
    """A logged-in raw IMAP connection over TLS."""

    def __init__(self, source=HOST):
        self.sock, self.file = tls(IMAPS, source)
        self.file.readline()
        self.n = 0
        tagged = self.run(f"LOGIN {USER} {PASSWORD}")
        assert tagged.startswith(b"t1 OK"), tagged

    def run(self, command):
        self.n += 1
        tag = f"t{self.n}".encode()
        data = command if isinstance(command, bytes) else command.encode()
        self.sock.sendall(tag + b" " + data + b"\r\n")
        tagged, self.last = until_tagged(self.file, tag)
        return tagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def smtp_reply(f):
    lines = []
    while True:
        line = f.readline()
        assert line, f"closed: {lines}"
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rss_start = rss_kib()
        # Something to FETCH for the bystander (and for COPY and MOVE).
        s = ImapSession()
        msg = b"From: a@kemenkeu.go.id\r\nSubject: Nota dinas\r\n\r\nIsi nota.\r\n"
        for _ in range(5):
            s.sock.sendall(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
            assert until_tagged(s.file, b"a")[0].startswith(b"a OK")
        s.close()
        BYSTANDER.start()

    def tearDown(self):
        self.assertTrue(alive(), "surel died")

    def test_long_lines_are_refused_and_the_connection_closed(self):
        s, f = plain(IMAP)
        f.readline()
        s.sendall(b"a NOOP " + b"x" * 200_000 + b"\r\n")
        lines = read_all(f)
        self.assertTrue(any(b"too long" in l.lower() for l in lines), lines)
        s.close()
        s, f = plain(SMTP)
        smtp_reply(f)
        s.sendall(b"EHLO " + b"x" * 100_000 + b"\r\n")
        self.assertTrue(smtp_reply(f).startswith(b"500 5.5.6"))
        s.close()

    def test_an_oversized_literal_is_refused_before_it_is_sent(self):
        s = ImapSession()
        # 4 GB, far above [imap] max_message_size: refused before a byte of it.
        tagged = s.run(b"APPEND INBOX {4000000000}")
        self.assertRegex(tagged, rb"^t2 BAD Message is larger than this server accepts")
        # The session goes on.
        self.assertTrue(s.run("NOOP").startswith(b"t3 OK"))
        s.close()

    def test_a_literal_announced_but_never_sent_times_out(self):
        held = []
        for _ in range(20):
            s = ImapSession()
            s.sock.sendall(b"a APPEND INBOX {100}\r\n")
            self.assertTrue(s.file.readline().startswith(b"+"))
            held.append(s)
        # idle_timeout_authenticated is 4 s in the harness.
        started = time.monotonic()
        for s in held:
            s.sock.settimeout(15)
            lines = read_all(s.file)
            self.assertTrue(any(l.startswith(b"* BYE") for l in lines), lines)
            s.close()
        self.assertLess(time.monotonic() - started, 12)

    def test_invalid_folder_names_are_refused(self):
        s = ImapSession()
        for name in [b'"&Jjo"', b'"&AGE-"', b'"&-&"', b'"\xff\xfe"', b'"a\x00b"', b'""']:
            tagged = s.run(b"CREATE " + name)
            self.assertRegex(tagged, rb"^t\d+ (NO|BAD)", name)
        s.close()

    def test_path_traversal_in_every_folder_command(self):
        evil = ["..", "../x", "../../etc", "a/../../b", "/etc", "/tmp/x", "INBOX/../../x",
                ".", "./x", "~root", "x/./y", "..\\..\\x", "Lemari/..", "Lemari/../../z"]
        outside = {os.path.normpath(os.path.join(base, name.lstrip("/")))
                   for name in evil for base in (MAILDIR, os.path.join(MAILDIR, "cur"), DIR, "/tmp", "/")}
        outside = {p for p in outside if not p.startswith(MAILDIR + os.sep)}
        existed = {p for p in outside if os.path.exists(p)}
        before = snapshot()
        s = ImapSession()
        self.assertTrue(s.run("CREATE Lemari").startswith(b"t2 OK"))
        accepted = []
        for name in evil:
            q = '"' + name.replace("\\", "\\\\") + '"'
            s.run("SELECT INBOX")
            for cmd in [f"CREATE {q}", f"SELECT {q}", f"EXAMINE {q}", f"STATUS {q} (MESSAGES)",
                        f"DELETE {q}", f"RENAME Lemari {q}", f"RENAME {q} Lain",
                        f"SUBSCRIBE {q}", f"UNSUBSCRIBE {q}", f'LIST "" {q}',
                        f"APPEND {q} {{3+}}\r\nabc"]:
                if s.run(cmd).split()[1] == b"OK":
                    accepted.append(cmd)
            s.run("SELECT INBOX")
            for cmd in [f"COPY 1 {q}", f"MOVE 1 {q}"]:
                if s.run(cmd).split()[1] == b"OK":
                    accepted.append(cmd)
        s.close()
        figure("traversal", names=len(evil), commands=13, accepted=len(accepted))
        print("accepted:", accepted, flush=True)
        # Names that climb or start at the root are refused by every command
        # except the ones that only look (LIST, UNSUBSCRIBE of nothing).
        for cmd in accepted:
            name = cmd.split('"')[1]
            if ".." in name or name.startswith("/"):
                self.assertTrue(cmd.startswith(("LIST", "UNSUBSCRIBE")), cmd)
        made = sorted(snapshot() - before)
        self.assertTrue(all(p.startswith(MAILDIR + os.sep) for p in made), made)
        self.assertEqual({p for p in outside if os.path.exists(p)}, existed)

    def test_commands_in_the_wrong_state(self):
        s, f = plain(IMAP)
        f.readline()
        for i, cmd in enumerate([b"SELECT INBOX", b"FETCH 1 FLAGS", b"EXPUNGE", b"IDLE"]):
            tag = b"w%d" % i
            s.sendall(tag + b" " + cmd + b"\r\n")
            tagged, _ = until_tagged(f, tag)
            self.assertRegex(tagged, rb"^w\d (BAD|NO)", cmd)
        s.close()
        imap = ImapSession()
        for cmd in ["FETCH 1 FLAGS", "EXPUNGE", "STORE 1 +FLAGS (\\Seen)", "CLOSE", "LOGIN a b"]:
            self.assertRegex(imap.run(cmd), rb"^t\d+ BAD", cmd)
        imap.close()
        s, f = plain(SMTP)
        smtp_reply(f)
        # Before EHLO a MAIL is out of order; before MAIL, RCPT, DATA and BDAT
        # (whose chunk is read and thrown away, RFC 3030 §3.1).
        for cmd, code in [(b"MAIL FROM:<a@b.example>", b"503"), (b"EHLO x.example", b"250"),
                          (b"DATA", b"503"), (b"RCPT TO:<budi@kemenkeu.go.id>", b"503"),
                          (b"BDAT 10 LAST\r\n0123456789", b"503"), (b"NOOP", b"250")]:
            s.sendall(cmd + b"\r\n" if not cmd.startswith(b"BDAT") else cmd)
            reply = smtp_reply(f)
            self.assertTrue(reply.startswith(code), (cmd, reply))
        s.close()

    def test_a_thousand_connections_from_one_address(self):
        socks, greeted, refused = [], 0, 0
        for _ in range(1000):
            try:
                socks.append(socket.create_connection((HOST, IMAP), 10))
            except OSError:
                refused += 1
        peak = rss_kib()
        for sock in socks:
            sock.settimeout(10)
            try:
                first = sock.recv(200)
            except OSError:
                first = b""
            if first.startswith(b"* OK"):
                greeted += 1
            else:
                self.assertTrue(first == b"" or first.startswith(b"* BYE [UNAVAILABLE]"), first)
                refused += 1
        # The bystander at another address is served meanwhile.
        latency = normal_session()
        for sock in socks:
            sock.close()
        wait_until_served()
        figure("thousand_connections", greeted=greeted, refused=refused,
               bystander_s=round(latency, 3), rss_kib=peak)
        self.assertLessEqual(greeted, PER_IP)
        self.assertGreaterEqual(refused, 1000 - PER_IP)

    def test_slow_clients_one_byte_a_second(self):
        # A command line must arrive within idle_timeout (3 s in the
        # harness) however it trickles in: slow-loris clients are cut off.
        slow = []
        for _ in range(40):
            s, f = plain(IMAP)
            f.readline()
            slow.append((s, f))
        started = time.monotonic()
        latencies, cut = [], 0
        for byte in b"s NOOP\r\n":
            for s, _ in slow:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    pass
            latencies.append(normal_session())
            time.sleep(max(0.0, 1 - latencies[-1]))
        for s, f in slow:
            s.settimeout(10)
            lines = read_all(f)
            if any(l.startswith(b"* BYE") for l in lines):
                cut += 1
            s.close()
        figure("slow_clients", clients=40, cut_off=cut, seconds=round(time.monotonic() - started, 1),
               bystander_max_s=round(max(latencies), 3))
        self.assertEqual(cut, 40)

    def test_garbage_in_the_tls_handshake(self):
        rng = random.Random(7)
        for port in (IMAPS, SUBMISSIONS, WEB):
            for garbage in (bytes(rng.randrange(256) for _ in range(2048)),
                            b"\x16\x03\x01\x02\x00" + b"\x01" * 40,  # a ClientHello cut short
                            b"GET / HTTP/1.0\r\n\r\n"):
                s = socket.create_connection((HOST, port), 10)
                s.sendall(garbage)
                s.settimeout(10)  # handshake_timeout is 3 s in the harness
                started = time.monotonic()
                try:
                    while s.recv(4096):
                        pass
                except (ConnectionResetError, socket.timeout):
                    pass
                self.assertLess(time.monotonic() - started, 8, (port, garbage[:8]))
                s.close()
        self.assertLess(normal_session(), 5)

    def test_an_auth_flood_is_slowed_then_refused(self):
        import base64
        replies, times = [], []
        for i in range(40):
            s, f = tls(SUBMISSIONS, ATTACKER, timeout=30)
            smtp_reply(f)
            s.sendall(b"EHLO flood.example\r\n")
            smtp_reply(f)
            token = base64.b64encode(f"\0nobody{i}@kemenkeu.go.id\0Salah-{i}".encode())
            started = time.monotonic()
            s.sendall(b"AUTH PLAIN " + token + b"\r\n")
            replies.append(smtp_reply(f)[:3])
            times.append(time.monotonic() - started)
            s.close()
        # Then the right password from that address is refused too...
        s, f = tls(SUBMISSIONS, ATTACKER, timeout=30)
        smtp_reply(f)
        s.sendall(b"EHLO flood.example\r\n")
        smtp_reply(f)
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
        s.sendall(b"AUTH PLAIN " + token + b"\r\n")
        after = smtp_reply(f)
        s.close()
        self.assertFalse(after.startswith(b"235"), after)
        # ... while the same account from elsewhere is fine.
        self.assertLess(normal_session(), 5)
        figure("auth_flood", attempts=40, refused=sum(r != b"535" for r in replies),
               first_s=round(times[0], 3), last_s=round(times[-1], 3))
        self.assertEqual(replies[0], b"535")
        self.assertNotEqual(replies[-1], b"235")

    def test_a_mail_bomb_of_many_recipients(self):
        before = len(os.listdir(os.path.join(MAILDIR, "new"))) + len(os.listdir(os.path.join(MAILDIR, "cur")))
        s, f = plain(SMTP)
        smtp_reply(f)
        s.sendall(b"EHLO bomb.example\r\n")
        smtp_reply(f)
        s.sendall(b"MAIL FROM:<bomb@bomb.example>\r\n")
        self.assertTrue(smtp_reply(f).startswith(b"250"))
        # max_recipients is 100; each refusal also counts toward max_errors.
        codes = []
        for _ in range(105):
            s.sendall(b"RCPT TO:<budi@kemenkeu.go.id>\r\n")
            codes.append(smtp_reply(f)[:3])
        self.assertEqual(codes[:100], [b"250"] * 100)
        self.assertEqual(set(codes[100:]), {b"452"})
        s.sendall(b"DATA\r\n")
        self.assertTrue(smtp_reply(f).startswith(b"354"))
        s.sendall(b"From: bomb@bomb.example\r\nSubject: bom\r\n\r\nisi\r\n.\r\n")
        self.assertTrue(smtp_reply(f).startswith(b"250"))
        s.close()
        after = len(os.listdir(os.path.join(MAILDIR, "new"))) + len(os.listdir(os.path.join(MAILDIR, "cur")))
        self.assertEqual(after - before, 1, "one copy however often the recipient was named")

    @classmethod
    def tearDownClass(cls):
        BYSTANDER.stop.set()
        BYSTANDER.join()
        lat = sorted(BYSTANDER.latencies)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        figure("bystander", sessions=len(lat), errors=len(BYSTANDER.errors),
               p50_s=round(p(0.5), 3), p95_s=round(p(0.95), 3), max_s=round(lat[-1], 3))
        figure("memory", rss_start_kib=cls.rss_start, rss_peak_kib=max(BYSTANDER.rss),
               rss_end_kib=rss_kib())
        assert not BYSTANDER.errors, BYSTANDER.errors
        assert p(0.95) < 3.0, f"the normal client waited {p(0.95):.2f} s (p95)"
        assert max(BYSTANDER.rss) < 512 * 1024, "memory grew past 512 MiB"


def wait_until_served():
    """Until the server has noticed closed connections and greets again."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        s, f = plain(IMAP)
        ok = f.readline().startswith(b"* OK")
        s.close()
        if ok:
            return
        time.sleep(0.2)
    raise AssertionError("the per-address limit never came back down")


def snapshot():
    out = set()
    for root, dirs, files in os.walk(DIR):
        for name in dirs + files:
            out.add(os.path.join(root, name))
    return out


def figure(name, **values):
    print("FIGURE", name, " ".join(f"{k}={v}" for k, v in values.items()), flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
