"""Brute force across IMAP, SMTP and the web page, against the real binary.

Run by tests/e2e/bruteforce.rs: lockout_threshold = 5, ip_slowdown_after =
6, ip_refuse_after = 9; accounts budi, tono and r1..r10 with PASSWORD.
Each part uses its own loopback source address, so the per-address
counters of one part do not spill into the next.

1. Per-account lockout holds across the three doors together.
2. The per-address throttle holds across the three doors together.
3. Unknown users and wrong passwords get the same reply, and their timing
   distributions are printed (FIGURE lines) and compared.
"""
import base64
import html
import http.cookiejar
import imaplib
import json
import os
import re
import smtplib
import socket
import ssl
import statistics
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
IMAPS = int(os.environ["SUREL_IMAPS_PORT"])
SUBMISSIONS = int(os.environ["SUREL_SUBMISSIONS_PORT"])
WEB = int(os.environ["SUREL_WEB_PORT"])
BIN = os.environ["SUREL_BIN"]
CONFIG = os.environ["SUREL_CONFIG"]
DIR = os.environ["SUREL_DIR"]
PASSWORD = "Hujan-Sore-77"
DOMAIN = "kemenkeu.go.id"

CTX = ssl.create_default_context(cafile=os.environ["SUREL_CA"])
CTX.check_hostname = False


class FromAddress(imaplib.IMAP4_SSL):
    def __init__(self, source, *args, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap(source, user, password):
    """(ok, reply text, seconds)."""
    m = FromAddress(source, HOST, IMAPS, ssl_context=CTX, timeout=30)
    started = time.monotonic()
    try:
        m.login(user, password)
        ok, text = True, "OK"
    except imaplib.IMAP4.error as e:
        ok, text = False, str(e)
    took = time.monotonic() - started
    try:
        m.logout()
    except Exception:  # noqa: BLE001 - the server may have closed already
        pass
    return ok, text, took


def smtp(source, user, password):
    """(ok, reply, seconds) for AUTH PLAIN on the submissions port."""
    s = smtplib.SMTP_SSL(HOST, SUBMISSIONS, context=CTX, timeout=30,
                         source_address=(source, 0))
    s.ehlo("bruteforce.test")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    started = time.monotonic()
    code, reply = s.docmd("AUTH", "PLAIN " + token)
    took = time.monotonic() - started
    try:
        s.quit()
    except smtplib.SMTPException:
        pass
    return code == 235, f"{code} {reply.decode()}", took


class SourceHandler(urllib.request.HTTPSHandler):
    """HTTPS from a chosen loopback address."""

    def __init__(self, source):
        super().__init__(context=CTX)
        self.source = source

    def https_open(self, req):
        import http.client

        source = self.source

        class Conn(http.client.HTTPSConnection):
            def __init__(self, host, **kw):
                kw["source_address"] = (source, 0)
                super().__init__(host, **kw)

        return self.do_open(Conn, req, context=CTX)


def web(source, user, current):
    """(ok, alert text) for the password page with a new password."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(SourceHandler(source),
                                         urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"https://{HOST}:{WEB}/password?lang=en", timeout=30).read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({
        "login": user, "current": current, "new": "Baru-Sekali-2026x",
        "confirm": "Baru-Sekali-2026x", "csrf": token, "lang": "en",
    }).encode()
    try:
        page = opener.open(f"https://{HOST}:{WEB}/password", data, timeout=30)
        return page.status == 200, ""
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        alert = re.search(r'class="alert[^"]*"[^>]*>(.*?)</', body, re.S)
        return False, html.unescape(alert.group(1).strip()) if alert else body[:200]


def state(user):
    out = subprocess.run([BIN, "--config", CONFIG, "user", "show", user, "--json"],
                         cwd=DIR, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["state"]


def figure(name, **values):
    print("FIGURE", name, " ".join(f"{k}={v}" for k, v in values.items()), flush=True)


def spread(samples):
    s = sorted(samples)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))] * 1000
    return {"n": len(s), "p10_ms": round(q(0.1), 1), "p50_ms": round(q(0.5), 1),
            "p90_ms": round(q(0.9), 1), "max_ms": round(s[-1] * 1000, 1)}


class BruteForce(unittest.TestCase):
    def test_1_the_account_lockout_holds_across_imap_smtp_and_the_web(self):
        src, user = "127.0.0.4", f"budi@{DOMAIN}"
        self.assertFalse(imap(src, user, "Salah-1")[0])
        self.assertFalse(smtp(src, user, "Salah-2")[0])
        self.assertFalse(web(src, user, "Salah-3")[0])
        self.assertFalse(imap(src, user, "Salah-4")[0])
        self.assertFalse(smtp(src, user, "Salah-5")[0])
        self.assertEqual(state(user), "locked")
        # The right password, from another address, through every door.
        other = "127.0.0.14"
        self.assertFalse(imap(other, user, PASSWORD)[0])
        self.assertFalse(smtp(other, user, PASSWORD)[0])
        self.assertFalse(web(other, user, PASSWORD)[0])
        # tono, from that address, is not affected.
        self.assertTrue(imap(other, f"tono@{DOMAIN}", PASSWORD)[0])

    def test_2_the_address_throttle_holds_across_imap_smtp_and_the_web(self):
        src = "127.0.0.5"
        times = []
        for i in range(9):
            door = (imap, smtp, web)[i % 3]
            started = time.monotonic()
            ok = door(src, f"nobody{i}@{DOMAIN}", f"Tebak-{i}")[0]
            times.append(time.monotonic() - started)
            self.assertFalse(ok)
        figure("ip_throttle", failures=9, first_s=round(times[0], 3),
               slowest_s=round(max(times), 3))
        # Past ip_refuse_after even the right password is refused there ...
        user = f"tono@{DOMAIN}"
        self.assertFalse(imap(src, user, PASSWORD)[0])
        self.assertFalse(smtp(src, user, PASSWORD)[0])
        self.assertFalse(web(src, user, PASSWORD)[0])
        # ... and the account itself is fine from elsewhere.
        self.assertTrue(imap("127.0.0.15", user, PASSWORD)[0])
        self.assertTrue(smtp("127.0.0.15", user, PASSWORD)[0])
        # Slower answers past ip_slowdown_after (250 ms steps).
        self.assertGreater(max(times[6:]), 0.2)

    def test_3_unknown_users_and_wrong_passwords_look_the_same(self):
        unknown, wrong, replies = {"imap": [], "smtp": []}, {"imap": [], "smtp": []}, set()
        n = 0
        # Below every threshold: 4 tries per account (2 per door), 2 per
        # source address.
        for round_no in range(4):
            door, fn = (("imap", imap), ("smtp", smtp))[round_no % 2]
            for k in range(1, 11):
                n += 1
                src = f"127.0.1.{n}"
                ok, text, took = fn(src, f"r{k}@{DOMAIN}", f"Keliru-{round_no}")
                self.assertFalse(ok)
                wrong[door].append(took)
                replies.add((door, text))
                ok, text, took = fn(src, f"tidakada{n}@{DOMAIN}", f"Keliru-{round_no}")
                self.assertFalse(ok)
                unknown[door].append(took)
                replies.add((door, text))
        for door in ("imap", "smtp"):
            u, w = spread(unknown[door]), spread(wrong[door])
            figure(f"timing_{door}_unknown_user", **u)
            figure(f"timing_{door}_wrong_password", **w)
            ratio = statistics.median(unknown[door]) / statistics.median(wrong[door])
            figure(f"timing_{door}_ratio", median_unknown_over_wrong=round(ratio, 3))
            self.assertLess(abs(ratio - 1), 0.1, (door, u, w))
        # One reply text per door, whoever was asked for.
        self.assertEqual(sorted(d for d, _ in replies), ["imap", "smtp"], replies)


if __name__ == "__main__":
    unittest.main(verbosity=2)
