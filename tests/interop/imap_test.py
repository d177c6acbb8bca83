"""IMAP against the real surel binary with Python's imaplib.

Run by tests/e2e/imap.rs, which starts the server and creates the accounts;
the ports and passwords arrive in environment variables.
"""
import base64
import imaplib
import os
import socket
import ssl
import threading
import time
import unittest

HOST = "127.0.0.1"
PLAIN = int(os.environ["SUREL_IMAP_PORT"])
TLS = int(os.environ["SUREL_IMAPS_PORT"])
PASSWORD = "Hujan-Sore-77"
URL = "https://mail.example.go.id/password"

CTX = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
CTX.check_hostname = False  # the certificate names mail.example.go.id, we dial 127.0.0.1


def connect():
    return imaplib.IMAP4_SSL(HOST, TLS, ssl_context=CTX)


def login(user="budi@kemenkeu.go.id"):
    m = connect()
    m.login(user, PASSWORD)
    return m


MESSAGE = (
    b"From: Siti <siti@kemenkeu.go.id>\r\nTo: Budi <budi@kemenkeu.go.id>\r\n"
    b"Subject: Rapat anggaran\r\nDate: Mon, 05 Jan 2026 09:00:00 +0700\r\n"
    b"Message-ID: <rapat-1@kemenkeu.go.id>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRapat jam 9 pagi.\r\n"
    b"--b1\r\nContent-Type: application/pdf; name=agenda.pdf\r\n"
    b"Content-Disposition: attachment; filename=agenda.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQK\r\n--b1--\r\n"
)


class Raw:
    """A bare IMAP connection for commands imaplib does not speak."""

    def __init__(self, user="budi@kemenkeu.go.id"):
        self.sock = CTX.wrap_socket(socket.create_connection((HOST, TLS)))
        self.file = self.sock.makefile("rb")
        self.file.readline()
        self.n = 0
        if user:
            self.ok(f"LOGIN {user} {PASSWORD}")

    def run(self, command):
        self.n += 1
        tag = f"r{self.n}"
        self.sock.sendall(f"{tag} {command}\r\n".encode())
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise AssertionError(f"closed after {lines}")
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if line.startswith(tag.encode() + b" "):
                return lines

    def ok(self, command):
        lines = self.run(command)
        assert lines[-1].split(" ", 2)[1] == "OK", lines
        return lines

    def close(self):
        self.sock.close()


class BeforeLogin(unittest.TestCase):
    def test_plain_port_requires_tls_before_login(self):
        m = imaplib.IMAP4(HOST, PLAIN)
        caps = m.capabilities
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login("budi@kemenkeu.go.id", PASSWORD)
        self.assertIn("PRIVACYREQUIRED", str(e.exception))
        m.starttls(ssl_context=CTX)
        self.assertIn("AUTH=PLAIN", m.capabilities)
        self.assertNotIn("LOGINDISABLED", m.capabilities)
        self.assertEqual(m.login("budi@kemenkeu.go.id", PASSWORD)[0], "OK")
        m.logout()

    def test_tls_port_offers_the_mechanisms(self):
        m = connect()
        for cap in ["IMAP4REV1", "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR", "IDLE", "NAMESPACE", "ID",
                    "ENABLE", "UIDPLUS", "MOVE", "UNSELECT", "LITERAL+", "CHILDREN", "CONDSTORE", "QRESYNC", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "QUOTA", "QUOTA=RES-STORAGE", "COMPRESS=DEFLATE", "ESEARCH"]:
            self.assertIn(cap, m.capabilities)
        m.logout()

    def test_commands_in_the_wrong_state_and_unknown_ones_are_bad(self):
        # imaplib refuses to send commands in the wrong state: use a socket.
        with socket.create_connection((HOST, TLS)) as raw, CTX.wrap_socket(raw) as c:
            f = c.makefile("rb")
            f.readline()
            for line in [b"a SELECT INBOX", b"b FETCH 1 FLAGS", b"c FROBNICATE", b"d LOGIN"]:
                c.sendall(line + b"\r\n")
                reply = f.readline()
                self.assertTrue(reply.startswith(line[:2] + b"BAD"), reply)
            c.sendall(b"e NOOP\r\n")
            self.assertTrue(f.readline().startswith(b"e OK"), "the session goes on")


class Authentication(unittest.TestCase):
    def test_authenticate_plain_without_and_with_initial_response(self):
        m = connect()
        creds = b"\0budi@kemenkeu.go.id\0" + PASSWORD.encode()
        self.assertEqual(m.authenticate("PLAIN", lambda _: creds)[0], "OK")
        m.logout()
        m = connect()
        ir = base64.b64encode(creds).decode()
        typ, data = m._simple_command("AUTHENTICATE", "PLAIN", ir)
        self.assertEqual(typ, "OK", data)
        m.state = "AUTH"
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()

    def test_authenticate_login_uses_outlooks_challenges(self):
        m = connect()
        seen = []

        def answer(challenge):
            seen.append(challenge)
            return b"KEMENKEU\\budi" if challenge == b"Username:" else PASSWORD.encode()

        self.assertEqual(m.authenticate("LOGIN", answer)[0], "OK")
        self.assertEqual(seen, [b"Username:", b"Password:"])
        m.logout()

    def refused(self, user, password):
        m = connect()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.login(user, password)
        alerts = m.untagged_responses.get("NO", [])
        m.logout()
        return str(e.exception), [a.decode() for a in alerts]

    def test_an_issued_password_must_be_changed_first(self):
        text, alerts = self.refused("ani@kemenkeu.go.id", "Issued-Pass-1")
        self.assertIn("[EXPIRED]", text)
        self.assertTrue(alerts and alerts[0].startswith("[ALERT]") and URL in alerts[0], alerts)

    def test_an_expired_password_must_be_changed(self):
        text, alerts = self.refused("eko@kemenkeu.go.id", "Old-Pass-2020")
        self.assertIn("[EXPIRED]", text)
        self.assertIn("has expired", alerts[0])
        self.assertIn(URL, alerts[0])

    def test_a_disabled_account_is_sent_to_the_service_desk(self):
        text, alerts = self.refused("siti@kemenkeu.go.id", PASSWORD)
        self.assertIn("[CONTACTADMIN]", text)
        self.assertIn("[ALERT]", alerts[0])
        self.assertIn("service desk", alerts[0])

    def test_unknown_users_and_wrong_passwords_look_the_same(self):
        unknown, a1 = self.refused("nobody@kemenkeu.go.id", "Whatever-1")
        wrong, a2 = self.refused("budi@kemenkeu.go.id", "Wrong-Pass-1")
        self.assertIn("[AUTHENTICATIONFAILED]", unknown)
        self.assertEqual(unknown, wrong)
        self.assertEqual(a1, a2)
        self.assertEqual(a1, [])

    def test_a_locked_account_is_refused_like_a_bad_password(self):
        for i in range(5):
            self.refused("rudi@kemenkeu.go.id", f"Guess-{i}")
        text, alerts = self.refused("rudi@kemenkeu.go.id", PASSWORD)
        self.assertIn("[AUTHENTICATIONFAILED]", text)

    def test_the_expiry_warning_is_an_alert_once_a_day(self):
        m = connect()
        typ, data = m.login("wati@kemenkeu.go.id", PASSWORD)
        alerts = m.untagged_responses.get("OK", [])
        self.assertEqual(typ, "OK")
        self.assertTrue(any(b"[ALERT]" in a and URL.encode() in a for a in alerts), alerts)
        m.logout()
        m = connect()
        m.login("wati@kemenkeu.go.id", PASSWORD)
        self.assertFalse(any(b"[ALERT]" in a for a in m.untagged_responses.get("OK", [])))
        m.logout()


class Session(unittest.TestCase):
    def test_id_namespace_enable(self):
        m = login()
        typ, _ = m.xatom("ID", '("name" "imaplib")')
        self.assertEqual(typ, "OK")
        self.assertIn(b'"name" "surel"', m.untagged_responses["ID"][0])
        m2 = login()
        self.assertEqual(m2._simple_command("ID", "NIL")[0], "OK")
        m2.logout()
        self.assertEqual(m.namespace(), ("OK", [b'(("" "/")) NIL NIL']))
        typ, _ = m._simple_command("ENABLE", "CONDSTORE")
        self.assertEqual(typ, "OK")
        m.logout()

    def test_folders(self):
        m = login("tono@kemenkeu.go.id")
        typ, lines = m.list('""', "*")
        text = b"\n".join(lines).decode()
        for special in ["\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive"]:
            self.assertIn(special, text)
        self.assertEqual(m.create("Laporan/2026")[0], "OK")
        typ, lines = m.list('""', "Laporan*")
        self.assertIn(b'(\\HasChildren) "/" Laporan', lines)
        self.assertIn(b'(\\HasNoChildren) "/" Laporan/2026', lines)
        self.assertEqual(m.list('""', "%")[0], "OK")
        self.assertNotIn(b"2026", b"".join(m.list('""', "%")[1]))
        self.assertEqual(m.create('"Sent Items"')[1], [b"[ALREADYEXISTS] Mailbox already exists"])
        # Non-ASCII names travel in modified UTF-7.
        self.assertEqual(m.create("&ANw-bersicht")[0], "OK")
        self.assertIn(b'"/" &ANw-bersicht', b"\n".join(m.list('""', "*")[1]))
        self.assertEqual(m.rename("Laporan", '"Arsip Laporan"')[0], "OK")
        self.assertIn(b'"Arsip Laporan/2026"', b"\n".join(m.list('""', "*")[1]))
        self.assertEqual(m.unsubscribe('"Arsip Laporan/2026"')[0], "OK")
        self.assertNotIn(b"Arsip Laporan/2026", b"\n".join(m.lsub('""', "*")[1]))
        self.assertEqual(m.subscribe('"Arsip Laporan/2026"')[0], "OK")
        self.assertEqual(m.delete('"Arsip Laporan"')[0], "NO", "has children")
        self.assertEqual(m.delete('"Arsip Laporan/2026"')[0], "OK")
        for bad in ['".."', '"../x"', '"a//b"']:
            typ, data = m.create(bad)
            self.assertEqual(typ, "NO", bad)
        self.assertEqual(m.delete("INBOX")[0], "NO")
        typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"UIDVALIDITY", data[0])
        m.logout()

    def test_messages(self):
        m = login("tono@kemenkeu.go.id")
        m.create("Kerja")
        typ, data = m.append("Kerja", "(\\Flagged)", None, MESSAGE)
        self.assertEqual(typ, "OK")
        self.assertIn(b"[APPENDUID ", data[0])
        m.append("Kerja", None, None, MESSAGE.replace(b"anggaran", b"pegawai"))
        typ, data = m.select("Kerja")
        self.assertEqual(data, [b"2"])
        self.assertIn("READ-WRITE", m.untagged_responses)
        typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
        self.assertIn(b"\\Flagged", data[0])
        self.assertIn(b'"Rapat anggaran" (("Siti" NIL "siti" "kemenkeu.go.id"))', data[0])
        self.assertIn(b"RFC822.SIZE %d" % len(MESSAGE), data[0])
        typ, data = m.fetch("1", "(BODYSTRUCTURE)")
        # The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1).
        self.assertIn(b'("TEXT" "plain" ("charset" "utf-8") NIL NIL "7BIT" 17 1', data[0])
        self.assertIn(b'("application" "pdf" ("name" "agenda.pdf") nil nil "base64" 12 nil ("attachment" ("filename" "agenda.pdf"))', data[0].lower())
        self.assertIn(b'"mixed"', data[0].lower())
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1] BODY.PEEK[2.MIME])")
        self.assertEqual(data[0][1], b"Subject: Rapat anggaran\r\n\r\n")
        # Short printable bodies come as quoted strings, longer ones as literals.
        self.assertIn(b'BODY[1] "Rapat jam 9 pagi."', data[1][0])
        self.assertTrue(data[1][1].startswith(b"Content-Type: application/pdf"))
        typ, data = m.fetch("2", "(BODY.PEEK[]<0.10>)")
        self.assertIn(b'BODY[]<0> "From: Siti"', data[0])
        self.assertEqual(m.fetch("2", "(FLAGS)")[1], [b"2 (FLAGS ())"], "PEEK leaves \\Seen alone")
        typ, data = m.fetch("2", "(RFC822)")
        self.assertEqual(data[0][1], MESSAGE.replace(b"anggaran", b"pegawai"))
        self.assertIn(b"\\Seen", m.fetch("2", "(FLAGS)")[1][0])
        self.assertEqual(m.search(None, "SUBJECT", "pegawai"), ("OK", [b"2"]))
        self.assertEqual(m.search(None, "FLAGGED"), ("OK", [b"1"]))
        self.assertEqual(m.search(None, "UNSEEN"), ("OK", [b"1"]))
        self.assertEqual(m.search(None, "BODY", '"jam 9"'), ("OK", [b"1 2"]))
        self.assertEqual(m.search(None, "OR", "SUBJECT", "pegawai", "FROM", "nobody"), ("OK", [b"2"]))
        self.assertEqual(m.search(None, "SENTON", "5-Jan-2026"), ("OK", [b"1 2"]))
        self.assertEqual(m.search(None, "HEADER", "Message-ID", "rapat-1"), ("OK", [b"1 2"]))
        self.assertEqual(m.search(None, "LARGER", "10000"), ("OK", [b""]))
        typ, data = m.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        self.assertEqual(len(uids), 2)
        typ, data = m.store("1", "+FLAGS", "(\\Seen Penting)")
        self.assertIn(b"Penting", data[0])
        typ, data = m.uid("COPY", uids[0].decode(), "Archive")
        self.assertIn("COPYUID", m.untagged_responses)
        typ, data = m.uid("MOVE", uids[1].decode(), "Trash")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.select("Kerja")[1], [b"1"])
        m.store("1", "+FLAGS", "\\Deleted")
        # UIDPLUS: UID EXPUNGE only removes the named UIDs.
        self.assertEqual(m.uid("EXPUNGE", "999")[0], "OK")
        self.assertEqual(m.select("Kerja")[1], [b"1"])
        self.assertEqual(m.uid("EXPUNGE", uids[0].decode())[0], "OK")
        self.assertEqual(m.select("Kerja")[1], [b"0"])
        typ, _ = m._simple_command("UNSELECT")
        self.assertEqual(typ, "OK")
        typ, data = m.select("Archive", readonly=True)
        self.assertIn("READ-ONLY", m.untagged_responses)
        self.assertEqual(m.store("1", "+FLAGS", "\\Deleted")[0], "NO")
        self.assertEqual(m.close()[0], "OK")
        m.logout()

    def test_literal_plus_append(self):
        s = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
        s.check_hostname = False
        with socket.create_connection((HOST, TLS)) as raw, s.wrap_socket(raw) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"a LOGIN tono@kemenkeu.go.id " + PASSWORD.encode() + b"\r\n")
            self.assertTrue(f.readline().startswith(b"a OK"))
            body = b"Subject: plus\r\n\r\nno wait\r\n"
            c.sendall(b"b APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
            line = f.readline()
            self.assertTrue(line.startswith(b"b OK [APPENDUID"), line)
            c.sendall(b"c LOGOUT\r\n")

    def test_idle_hears_of_new_mail_within_a_second(self):
        a = login("tono@kemenkeu.go.id")
        a.select("INBOX")
        b = login("tono@kemenkeu.go.id")
        tag = a._new_tag().decode()
        a.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(a.readline().startswith(b"+"))
        started = time.time()
        b.append("INBOX", None, None, b"Subject: baru\r\n\r\nhalo\r\n")
        line = a.readline()
        elapsed = time.time() - started
        self.assertRegex(line, rb"^\* \d+ EXISTS")
        self.assertLess(elapsed, 1.0)
        a.send(b"DONE\r\n")
        self.assertTrue(a.readline().startswith(tag.encode() + b" OK"))
        # NOOP reports flag changes and expunges made by the other session.
        b.select("INBOX")
        b.store("1:*", "+FLAGS", "\\Deleted")
        b.expunge()
        a.noop()
        self.assertIn("EXPUNGE", a.untagged_responses)
        a.logout()
        b.logout()


class ThunderbirdSession(unittest.TestCase):
    """The bar of the IMAP issue: a new account cannot open its mailbox until
    its password is changed; then a Thunderbird-like session works."""

    def test_new_account_then_thunderbird_like_session(self):
        import subprocess
        m = connect()
        with self.assertRaises(imaplib.IMAP4.error) as e:
            m.authenticate("PLAIN", lambda _: b"\0baru@kemenkeu.go.id\0Issued-Pass-1")
        self.assertIn("[EXPIRED]", str(e.exception))
        m.logout()
        subprocess.run(
            [os.environ["SUREL_BIN"], "--config", os.environ["SUREL_CONFIG"], "user", "change-password", "baru@kemenkeu.go.id"],
            input=f"Issued-Pass-1\n{PASSWORD}\n".encode(), check=True, capture_output=True,
            cwd=os.path.dirname(os.environ["SUREL_CONFIG"]),  # data_dir is relative
        )
        other = login("baru@kemenkeu.go.id")
        other.append("INBOX", None, None, MESSAGE)

        r = Raw(None)
        self.assertIn("CONDSTORE", r.ok("CAPABILITY")[0])
        self.assertTrue(r.ok('ID ("name" "Thunderbird" "version" "140.0")')[0].startswith("* ID ("))
        ir = base64.b64encode(b"\0baru@kemenkeu.go.id\0" + PASSWORD.encode()).decode()
        r.ok(f"AUTHENTICATE PLAIN {ir}")
        self.assertIn("* ENABLED QRESYNC", r.ok("ENABLE QRESYNC"))
        listing = r.ok('LIST (SPECIAL-USE) "" "*"')
        trash = [l for l in listing if "\\Trash" in l][0].rsplit(" ", 1)[1]
        lines = r.ok("SELECT INBOX (CONDSTORE)")
        self.assertTrue(any("HIGHESTMODSEQ" in l for l in lines))
        lines = r.ok("UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])")
        self.assertTrue(any("Subject: Rapat anggaran" in l for l in lines), lines)
        r.sock.sendall(b"idle IDLE\r\n")
        self.assertTrue(r.file.readline().startswith(b"+"))
        other.append("INBOX", None, None, b"Subject: kedua\r\n\r\nhalo\r\n")
        self.assertRegex(r.file.readline(), rb"^\* 2 EXISTS")
        r.sock.sendall(b"DONE\r\n")
        while not r.file.readline().startswith(b"idle OK"):
            pass
        lines = r.ok(f"UID MOVE 1 {trash}")
        self.assertTrue(any(l.startswith("* OK [COPYUID ") for l in lines), lines)
        self.assertTrue(any(l.startswith("* VANISHED 1") for l in lines), lines)
        r.close()
        other.logout()


class ClientHabits(unittest.TestCase):
    """LIST-EXTENDED, SPECIAL-USE and LIST-STATUS as Thunderbird sends them,
    Outlook's RFC822.PEEK, and ID ()."""

    def test_list_extended(self):
        r = Raw("tono@kemenkeu.go.id")
        lines = r.ok('LIST (SPECIAL-USE) "" "*"')
        names = [l.rsplit(" ", 1)[1] for l in lines if l.startswith("* LIST")]
        self.assertEqual(sorted(names), ["Archive", "Drafts", "Junk", "Sent", "Trash"])
        self.assertTrue(all("\\" in l for l in lines if l.startswith("* LIST")))
        lines = r.ok('LIST "" "%" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))')
        self.assertIn('* LIST (\\HasNoChildren \\Subscribed) "/" INBOX', lines)
        self.assertTrue(any(l.startswith("* STATUS INBOX (MESSAGES ") and "UNSEEN" in l for l in lines), lines)
        r.ok("UNSUBSCRIBE Junk")
        lines = r.ok('LIST (SUBSCRIBED) "" "*"')
        self.assertFalse(any(l.endswith(" Junk") for l in lines), lines)
        r.ok("SUBSCRIBE Junk")
        r.close()

    def test_outlook_rfc822_peek_and_id_with_empty_list(self):
        r = Raw("tono@kemenkeu.go.id")
        body = "Subject: outlook\r\n\r\nisi\r\n"
        r.sock.sendall(f"ap APPEND Drafts {{{len(body)}+}}\r\n{body}\r\n".encode())
        self.assertIn(" OK ", r.file.readline().decode())
        r.ok("SELECT Drafts")
        lines = r.ok("UID FETCH 1:* (UID RFC822.SIZE RFC822.PEEK)")
        self.assertTrue(any("RFC822 {" in l for l in lines), lines)
        lines = r.ok("FETCH 1 (FLAGS)")
        self.assertIn("FLAGS ()", lines[0], "PEEK does not set \\Seen")
        self.assertTrue(r.ok("ID ()")[0].startswith("* ID ("))
        r.close()


class Compress(unittest.TestCase):
    def test_compress_deflate(self):
        import zlib
        r = Raw("tono@kemenkeu.go.id")
        self.assertTrue(r.ok("COMPRESS DEFLATE")[-1].startswith("r2 OK"))
        out = zlib.compressobj(wbits=-15)
        inp = zlib.decompressobj(wbits=-15)

        def send(line):
            r.sock.sendall(out.compress(line.encode() + b"\r\n") + out.flush(zlib.Z_SYNC_FLUSH))

        def until(tag):
            text = b""
            while not any(l.startswith(tag.encode() + b" ") for l in text.split(b"\r\n")):
                chunk = r.sock.recv(65536)
                self.assertTrue(chunk, "closed")
                text += inp.decompress(chunk)
            return text.decode()

        send("c1 NOOP")
        self.assertIn("c1 OK", until("c1"))
        send('c2 LIST "" "*"')
        listing = until("c2")
        self.assertIn("* LIST", listing)
        self.assertIn("c2 OK", listing)
        send("c3 COMPRESS DEFLATE")
        self.assertIn("c3 NO [COMPRESSIONACTIVE]", until("c3"))
        send("c4 LOGOUT")
        self.assertIn("* BYE", until("c4"))
        r.close()


class Quota(unittest.TestCase):
    def test_quota_roots_usage_and_refusal(self):
        r = Raw("kiki@kemenkeu.go.id")
        lines = r.ok("GETQUOTAROOT INBOX")
        self.assertEqual(lines[0], '* QUOTAROOT INBOX ""')
        self.assertEqual(lines[1], '* QUOTA "" (STORAGE 0 64)')
        body = "Subject: besar\r\n\r\n" + "x" * 70000 + "\r\n"
        r.sock.sendall(f"big APPEND INBOX {{{len(body)}+}}\r\n{body}\r\n".encode())
        self.assertIn("NO [OVERQUOTA]", r.file.readline().decode())
        small = "Subject: kecil\r\n\r\nx\r\n"
        r.sock.sendall(f"sm APPEND INBOX {{{len(small)}+}}\r\n{small}\r\n".encode())
        self.assertIn("OK", r.file.readline().decode())
        self.assertEqual(r.ok('GETQUOTA ""')[0], '* QUOTA "" (STORAGE 1 64)')
        self.assertTrue(r.run('SETQUOTA "" (STORAGE 1000000)')[-1].split(" ")[1] == "NO")
        r.close()
        r = Raw("budi@kemenkeu.go.id")
        self.assertEqual(r.ok("GETQUOTAROOT INBOX")[0], "* QUOTAROOT INBOX")
        r.close()


class CondstoreQresync(unittest.TestCase):
    """RFC 7162, as Thunderbird uses it: ENABLE QRESYNC, SELECT (CONDSTORE)."""

    def test_condstore(self):
        r = Raw("tono@kemenkeu.go.id")
        r.ok("CREATE Modseq")
        for i in range(3):
            body = f"Subject: m{i}\r\n\r\nx\r\n"
            r.sock.sendall(f"a{i} APPEND Modseq {{{len(body)}+}}\r\n{body}\r\n".encode())
            self.assertIn(" OK ", r.file.readline().decode())
        lines = r.ok("SELECT Modseq (CONDSTORE)")
        highest = [l for l in lines if "[HIGHESTMODSEQ " in l]
        self.assertTrue(highest, lines)
        modseq = int(highest[0].split("[HIGHESTMODSEQ ")[1].split("]")[0])
        lines = r.ok("STORE 2 +FLAGS (\\Flagged)")
        self.assertTrue(any("MODSEQ (" in l for l in lines), lines)
        lines = r.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
        fetched = [l for l in lines if l.startswith("* ") and "FETCH" in l]
        self.assertEqual(len(fetched), 1, lines)
        self.assertIn("MODSEQ", fetched[0])
        lines = r.ok(f"UID SEARCH MODSEQ {modseq + 1}")
        self.assertTrue(lines[0].startswith("* SEARCH 2 (MODSEQ "), lines)
        lines = r.ok("STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)")
        self.assertIn("[MODIFIED 1]", lines[-1])
        lines = r.ok("STATUS Modseq (HIGHESTMODSEQ MESSAGES)")
        self.assertIn("HIGHESTMODSEQ", lines[0])
        r.close()

    def test_esearch(self):
        r = Raw("tono@kemenkeu.go.id")
        r.ok("CREATE Esearch")
        for i in range(6):
            body = f"Subject: laporan {i}\r\n\r\nisi {i}\r\n"
            r.sock.sendall(f"a{i} APPEND Esearch {{{len(body)}+}}\r\n{body}\r\n".encode())
            self.assertIn(" OK ", r.file.readline().decode())
        r.ok("SELECT Esearch")
        r.ok("STORE 3 +FLAGS (\\Seen)")
        # RFC 4731 §3.1 examples; the tag is quoted (Outlook needs it).
        lines = r.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
        uids = [int(x) for x in r.ok("UID SEARCH ALL")[0].split()[2:]]
        self.assertEqual(
            lines[0],
            f'* ESEARCH (TAG "r{r.n - 1}") UID MIN {uids[0]} MAX {uids[5]} COUNT 5 '
            f"ALL {uids[0]}:{uids[1]},{uids[3]}:{uids[5]}",
        )
        self.assertEqual(r.ok("SEARCH RETURN () SUBJECT laporan")[0], f'* ESEARCH (TAG "r{r.n}") ALL 1:6')
        # Nothing found: only COUNT, and no MIN/MAX/ALL.
        self.assertEqual(r.ok("SEARCH RETURN (MIN COUNT) SUBJECT rapat")[0], f'* ESEARCH (TAG "r{r.n}") COUNT 0')
        # Non-ASCII text in a literal after the options.
        word = "láporan".encode()
        r.n += 1
        r.sock.sendall(f"r{r.n} SEARCH RETURN (COUNT) CHARSET UTF-8 SUBJECT {{{len(word)}+}}\r\n".encode() + word + b"\r\n")
        first = r.file.readline().decode().rstrip()
        self.assertEqual(first, f'* ESEARCH (TAG "r{r.n}") COUNT 0')
        self.assertTrue(r.file.readline().decode().startswith(f"r{r.n} OK"))
        # SAVE is not offered: BAD, and the connection goes on.
        self.assertEqual(r.run("SEARCH RETURN (SAVE) ALL")[-1].split()[1], "BAD")
        # imaplib's plain SEARCH still gets the classic reply.
        self.assertEqual(r.ok("SEARCH SEEN")[0], "* SEARCH 3")
        r.close()

    def test_qresync(self):
        a = Raw("tono@kemenkeu.go.id")
        a.ok("CREATE Resync")
        for i in range(3):
            body = f"Subject: q{i}\r\n\r\nx\r\n"
            a.sock.sendall(f"a{i} APPEND Resync {{{len(body)}+}}\r\n{body}\r\n".encode())
            a.file.readline()
        self.assertIn("* ENABLED CONDSTORE QRESYNC", a.ok("ENABLE CONDSTORE QRESYNC"))
        lines = a.ok("SELECT Resync")
        validity = [l for l in lines if "UIDVALIDITY" in l][0].split("[UIDVALIDITY ")[1].split("]")[0]
        modseq = [l for l in lines if "HIGHESTMODSEQ" in l][0].split("[HIGHESTMODSEQ ")[1].split("]")[0]
        a.ok("UNSELECT")
        # Meanwhile another session deletes message 2 and flags message 3.
        b = Raw("tono@kemenkeu.go.id")
        b.ok("SELECT Resync")
        b.ok("STORE 2 +FLAGS (\\Deleted)")
        b.ok("EXPUNGE")
        b.ok("STORE 2 +FLAGS (\\Flagged)")
        lines = a.ok(f"SELECT Resync (QRESYNC ({validity} {modseq} 1:3))")
        self.assertIn("* VANISHED (EARLIER) 2", lines)
        self.assertTrue(any("FETCH (UID 3 FLAGS (\\Flagged) MODSEQ" in l for l in lines), lines)
        # Expunges while selected arrive as VANISHED, not EXPUNGE.
        b.ok("STORE 1 +FLAGS (\\Deleted)")
        b.ok("EXPUNGE")
        lines = a.ok("NOOP")
        self.assertIn("* VANISHED 1", lines)
        lines = a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        self.assertIn("* VANISHED (EARLIER) 1:2", lines)
        a.close()
        b.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
