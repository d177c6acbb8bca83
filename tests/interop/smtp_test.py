"""SMTP against the real surel binary with Python's smtplib (and IMAP to
read back what arrived). Run by tests/e2e/smtp.rs, which starts the server
and creates the accounts; ports arrive in environment variables."""
import base64
import imaplib
import os
import socket
import ssl
import threading
import time
import unittest
from email.message import EmailMessage

HOST = "127.0.0.1"
MX = int(os.environ["SUREL_SMTP_PORT"])
SUBMISSION = int(os.environ["SUREL_SUBMISSION_PORT"])
SUBMISSIONS = int(os.environ["SUREL_SUBMISSIONS_PORT"])
IMAPS = int(os.environ["SUREL_IMAPS_PORT"])
PASSWORD = "Hujan-Sore-77"
CTX = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
CTX.check_hostname = False

import smtplib  # noqa: E402


def submit(user="budi@kemenkeu.go.id"):
    s = smtplib.SMTP(HOST, SUBMISSION)
    s.starttls(context=CTX)
    s.login(user, PASSWORD)
    return s


def imap(user):
    m = imaplib.IMAP4_SSL(HOST, IMAPS, ssl_context=CTX)
    m.login(user, PASSWORD)
    return m


def messages_with(user, subject):
    """Whole messages in `user`'s INBOX whose Subject contains `subject`."""
    m = imap(user)
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "SUBJECT", f'"{subject}"')
    found = []
    for n in data[0].split():
        typ, d = m.fetch(n, "(BODY.PEEK[])")
        found.append(d[0][1])
    m.logout()
    return found


def raw_message(subject, sender="budi@kemenkeu.go.id", to="siti@kemenkeu.go.id", body="Isi surat.\r\n"):
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@kemenkeu.go.id>\r\nDate: Mon, 05 Jan 2026 09:00:00 +0700\r\n\r\n{body}"
    ).encode()


class Submission(unittest.TestCase):
    def test_arrives_byte_for_byte_with_a_received_header(self):
        original = raw_message("byte demi byte", body="Baris satu.\r\n..titik di awal\r\nBaris \xe9 8bit.\r\n".encode("latin-1").decode("latin-1"))
        original = original.replace(b"\xc3\xa9", b"\xe9")
        s = submit()
        s.sendmail("budi@kemenkeu.go.id", ["siti@kemenkeu.go.id"], original)
        s.quit()
        [got] = messages_with("siti@kemenkeu.go.id", "byte demi byte")
        self.assertTrue(got.endswith(original), got[-200:])
        head = got[: len(got) - len(original)].decode()
        self.assertTrue(head.startswith("Received: from "), head)
        self.assertIn("with ESMTPSA", head)
        self.assertIn("using TLSv1.3", head)
        self.assertIn("authenticated sender: budi@kemenkeu.go.id", head)

    def test_to_and_cc_with_a_one_megabyte_attachment_over_465(self):
        msg = EmailMessage()
        msg["From"] = "Budi <budi@kemenkeu.go.id>"
        msg["To"] = "siti@kemenkeu.go.id"
        msg["Cc"] = "tono@kemenkeu.go.id"
        msg["Subject"] = "lampiran besar"
        msg.set_content("Terlampir.")
        attachment = os.urandom(1024 * 1024)
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
        with smtplib.SMTP_SSL(HOST, SUBMISSIONS, context=CTX) as s:
            s.login("budi@kemenkeu.go.id", PASSWORD)
            refused = s.send_message(msg)
        self.assertEqual(refused, {})
        for user in ["siti@kemenkeu.go.id", "tono@kemenkeu.go.id"]:
            [got] = messages_with(user, "lampiran besar")
            import email
            from email import policy
            parsed = email.message_from_bytes(got, policy=policy.default)
            [part] = list(parsed.iter_attachments())
            self.assertEqual(part.get_content(), attachment)

    def test_message_id_and_date_are_added_when_missing(self):
        s = submit()
        s.sendmail("budi@kemenkeu.go.id", ["siti@kemenkeu.go.id"], b"From: budi@kemenkeu.go.id\r\nSubject: tanpa id\r\n\r\nx\r\n")
        s.quit()
        [got] = messages_with("siti@kemenkeu.go.id", "tanpa id")
        self.assertIn(b"\r\nMessage-ID: <", got)
        self.assertIn(b"\r\nDate: ", got)

    def test_spoofed_senders_are_refused(self):
        s = submit()
        code, text = s.mail("siti@kemenkeu.go.id")
        self.assertEqual(code, 550)
        self.assertIn(b"5.7.1", text)
        s.rset()
        with self.assertRaises(smtplib.SMTPDataError) as e:
            s.sendmail("budi@kemenkeu.go.id", ["siti@kemenkeu.go.id"], raw_message("palsu", sender="menteri@kemenkeu.go.id"))
        self.assertEqual(e.exception.smtp_code, 550)
        self.assertIn(b"From:", e.exception.smtp_error)
        s.quit()
        self.assertEqual(messages_with("siti@kemenkeu.go.id", "palsu"), [])

    def test_an_alias_of_ones_own_may_be_used(self):
        s = submit()
        s.sendmail("humas@kemenkeu.go.id", ["siti@kemenkeu.go.id"], raw_message("dari humas", sender="humas@kemenkeu.go.id"))
        s.quit()
        self.assertEqual(len(messages_with("siti@kemenkeu.go.id", "dari humas")), 1)

    def test_auth_needs_tls_and_follows_the_policy(self):
        s = smtplib.SMTP(HOST, SUBMISSION)
        s.ehlo()
        self.assertFalse(s.has_extn("auth"), "no AUTH before STARTTLS")
        self.assertEqual(s.mail("budi@kemenkeu.go.id")[0], 530)
        s.quit()
        s = smtplib.SMTP(HOST, SUBMISSION)
        s.starttls(context=CTX)
        s.ehlo()
        self.assertIn("PLAIN", s.esmtp_features["auth"])
        for ext in ["pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking", "dsn"]:
            self.assertTrue(s.has_extn(ext), ext)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.login("ani@kemenkeu.go.id", "Issued-Pass-1")
        self.assertEqual(e.exception.smtp_code, 535)
        self.assertIn(b"5.7.8", e.exception.smtp_error)
        self.assertIn(b"https://mail.example.go.id/password", e.exception.smtp_error)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.login("siti.lama@kemenkeu.go.id", PASSWORD)
        self.assertEqual(e.exception.smtp_code, 525)
        self.assertIn(b"5.7.13", e.exception.smtp_error)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as e:
            s.login("budi@kemenkeu.go.id", "Wrong-Pass-1")
        self.assertEqual(e.exception.smtp_code, 535)
        s.quit()

    def test_auth_login_uses_outlooks_challenges(self):
        with socket.create_connection((HOST, SUBMISSIONS)) as raw, CTX.wrap_socket(raw) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"EHLO outlook\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            c.sendall(b"AUTH LOGIN\r\n")
            self.assertEqual(f.readline(), b"334 VXNlcm5hbWU6\r\n")
            c.sendall(base64.b64encode(b"KEMENKEU\\budi") + b"\r\n")
            self.assertEqual(f.readline(), b"334 UGFzc3dvcmQ6\r\n")
            c.sendall(base64.b64encode(PASSWORD.encode()) + b"\r\n")
            self.assertTrue(f.readline().startswith(b"235 2.7.0"))

    def test_bdat_chunks(self):
        body = raw_message("lewat bdat")
        with socket.create_connection((HOST, SUBMISSIONS)) as raw, CTX.wrap_socket(raw) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"EHLO bdat\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            creds = base64.b64encode(b"\0budi@kemenkeu.go.id\0" + PASSWORD.encode())
            c.sendall(b"AUTH PLAIN " + creds + b"\r\n")
            self.assertTrue(f.readline().startswith(b"235"))
            half = len(body) // 2
            # Pipelined, as RFC 3030 allows.
            c.sendall(b"MAIL FROM:<budi@kemenkeu.go.id>\r\nRCPT TO:<siti@kemenkeu.go.id>\r\n"
                      + b"BDAT %d\r\n" % half + body[:half]
                      + b"BDAT %d LAST\r\n" % (len(body) - half) + body[half:])
            replies = [f.readline() for _ in range(4)]
            self.assertTrue(replies[3].startswith(b"250 2.0.0"), replies)
        [got] = messages_with("siti@kemenkeu.go.id", "lewat bdat")
        self.assertTrue(got.endswith(body))


class Mx(unittest.TestCase):
    def test_mail_from_the_internet_for_a_local_user(self):
        with smtplib.SMTP(HOST, MX) as s:
            s.ehlo("mail.kemendagri.go.id")
            self.assertFalse(s.has_extn("auth"))
            s.sendmail("pak.camat@kemendagri.go.id", ["siti@kemenkeu.go.id"], raw_message("dari luar", sender="pak.camat@kemendagri.go.id"))
        [got] = messages_with("siti@kemenkeu.go.id", "dari luar")
        self.assertIn(b"with ESMTP ", got)

    def test_domain_alias_and_null_sender(self):
        with smtplib.SMTP(HOST, MX) as s:
            s.sendmail("", ["siti@mail.kemenkeu.go.id"], raw_message("bounce", sender="MAILER-DAEMON@x.org"))
        self.assertEqual(len(messages_with("siti@kemenkeu.go.id", "bounce")), 1)

    def test_relay_unknown_users_and_size(self):
        with smtplib.SMTP(HOST, MX) as s:
            s.ehlo()
            s.mail("spammer@example.org")
            code, text = s.rcpt("korban@gmail.com")
            self.assertEqual(code, 554)
            self.assertIn(b"5.7.1", text)
            code, text = s.rcpt("tidakada@kemenkeu.go.id")
            self.assertEqual(code, 550)
            self.assertIn(b"5.1.1", text)
            s.rset()
            code, text = s.mail("a@example.org", ["SIZE=999999999"])
            self.assertEqual(code, 552)
            self.assertIn(b"5.3.4", text)
            s.rset()
            s.mail("a@example.org")
            s.rcpt("siti@kemenkeu.go.id")
            code, text = s.data(b"Subject: besar sekali\r\n\r\n" + b"x" * (2 * 1024 * 1024 + 10) + b"\r\n")
            self.assertEqual(code, 552)
            self.assertIn(b"5.3.4", text)
            self.assertEqual(s.noop()[0], 250, "the session goes on")
        self.assertEqual(messages_with("siti@kemenkeu.go.id", "besar sekali"), [])

    def test_aliases_deliver_once_and_loops_are_caught(self):
        with smtplib.SMTP(HOST, MX) as s:
            refused = s.sendmail("a@example.org", ["info@kemenkeu.go.id", "siti@kemenkeu.go.id"], raw_message("untuk info"))
            self.assertEqual(refused, {})
        self.assertEqual(len(messages_with("siti@kemenkeu.go.id", "untuk info")), 1)
        self.assertEqual(len(messages_with("budi@kemenkeu.go.id", "untuk info")), 1)
        with smtplib.SMTP(HOST, MX) as s:
            s.mail("a@example.org")
            code, _ = s.rcpt("putar1@kemenkeu.go.id")
            self.assertNotEqual(code, 250, "an alias loop with no mailbox delivers nowhere")

    def test_over_quota_is_a_temporary_refusal(self):
        with smtplib.SMTP(HOST, MX) as s:
            s.sendmail("a@example.org", ["kiki@kemenkeu.go.id"], raw_message("isi 60K", body="y" * 60000 + "\r\n"))
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("a@example.org", ["kiki@kemenkeu.go.id"], raw_message("isi 10K", body="y" * 10000 + "\r\n"))
            self.assertEqual(e.exception.smtp_code, 452)
            self.assertIn(b"4.2.2", e.exception.smtp_error)
        self.assertEqual(len(messages_with("kiki@kemenkeu.go.id", "isi 60K")), 1)
        self.assertEqual(messages_with("kiki@kemenkeu.go.id", "isi 10K"), [])

    def test_partial_failure_keeps_the_rest_in_the_queue(self):
        # After test_over_quota..., kiki has 60K of 64K: siti gets this one
        # at once, kiki's copy waits in the queue; the client just sees 250.
        with smtplib.SMTP(HOST, MX) as s:
            refused = s.sendmail("a@example.org", ["siti@kemenkeu.go.id", "kiki@kemenkeu.go.id"],
                                 raw_message("sebagian", body="z" * 10000 + "\r\n"))
        self.assertEqual(refused, {})
        self.assertEqual(len(messages_with("siti@kemenkeu.go.id", "sebagian")), 1)
        self.assertEqual(messages_with("kiki@kemenkeu.go.id", "sebagian"), [])

    def test_many_messages_over_parallel_connections_arrive_once(self):
        errors = []

        def worker(w):
            try:
                with smtplib.SMTP(HOST, MX) as s:
                    for i in range(20):
                        s.sendmail("a@example.org", ["tono@kemenkeu.go.id"], raw_message(f"beban {w}-{i} selesai"))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        m = imap("tono@kemenkeu.go.id")
        m.select("INBOX", readonly=True)
        typ, data = m.search(None, "SUBJECT", "beban")
        self.assertEqual(len(data[0].split()), 100)
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [d[1] for d in data if isinstance(d, tuple)]
        self.assertEqual(len(subjects), len(set(subjects)), "each exactly once")
        m.logout()


class Idle(unittest.TestCase):
    def test_a_submitted_message_reaches_an_idle_session_within_a_second(self):
        m = imap("siti@kemenkeu.go.id")
        m.select("INBOX")
        tag = m._new_tag().decode()
        m.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(m.readline().startswith(b"+"))
        s = submit()
        started = time.time()
        s.sendmail("budi@kemenkeu.go.id", ["siti@kemenkeu.go.id"], raw_message("cepat sampai"))
        line = m.readline()
        self.assertRegex(line, rb"^\* \d+ EXISTS")
        self.assertLess(time.time() - started, 1.0)
        s.quit()
        m.send(b"DONE\r\n")
        m.readline()
        m.logout()


if __name__ == "__main__":
    unittest.main(verbosity=2)
