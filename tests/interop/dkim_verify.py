"""Verifies the DKIM signatures of a message with dkimpy (an implementation
nobody here wrote), answering DNS from the TXT records surel printed.

    dkim_verify.py MESSAGE_FILE RECORDS_FILE

Prints one line per signature: "<selector> <result>"; exits 1 unless all verify.
"""
import re
import sys

import dkim

message = open(sys.argv[1], "rb").read()
records = {}
for line in open(sys.argv[2]):
    name, _, rest = line.partition(" IN TXT ")
    if rest:
        records[name.strip()] = "".join(re.findall(r'"([^"]*)"', rest)).encode()


def dnsfunc(name, timeout=5):
    return records.get(name.decode() if isinstance(name, bytes) else name)


ok = True
sigs = [h for h in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if h.lower().startswith(b"dkim-signature:")]
assert sigs, "no DKIM-Signature"
for i in range(len(sigs)):
    verified = dkim.DKIM(message).verify(idx=i, dnsfunc=dnsfunc)
    selector = re.search(rb"s=([^;\s]+)", sigs[i]).group(1).decode()
    print(selector, "pass" if verified else "fail")
    ok &= verified
sys.exit(0 if ok else 1)
