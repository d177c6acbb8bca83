"""A small SMTP server standing in for another domain's MX in the queue
tests (loopback only).

    smtp_sink.py PORT DIR MODE      MODE: accept | reject | tempfail

accept: every message is saved as DIR/<n>.eml; reject: every recipient gets
550 5.1.1; tempfail: every recipient gets 451 4.3.0.
"""
import os
import socketserver
import sys

port, directory, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.makedirs(directory, exist_ok=True)


class Handler(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.say("220 sink.remote.test ESMTP sink")
        rcpts = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.say("250-sink.remote.test\r\n250-PIPELINING\r\n250 8BITMIME")
            elif verb == b"MAIL":
                rcpts = []
                self.say("250 2.1.0 ok")
            elif verb == b"RCPT":
                if mode == "reject":
                    self.say("550 5.1.1 no such user at remote.test")
                elif mode == "tempfail":
                    self.say("451 4.3.0 try again later")
                else:
                    rcpts.append(line)
                    self.say("250 2.1.5 ok")
            elif verb == b"DATA":
                self.say("354 go ahead")
                data = b""
                while True:
                    l = self.rfile.readline()
                    if l in (b".\r\n", b""):
                        break
                    data += l[1:] if l.startswith(b"..") else l
                n = len(os.listdir(directory))
                with open(os.path.join(directory, f"{n}.eml.tmp"), "wb") as f:
                    f.write(data)
                os.rename(os.path.join(directory, f"{n}.eml.tmp"), os.path.join(directory, f"{n}.eml"))
                self.say("250 2.0.0 stored")
            elif verb == b"QUIT":
                self.say("221 bye")
                return
            else:
                self.say("250 2.0.0 ok")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", port), Handler).serve_forever()
