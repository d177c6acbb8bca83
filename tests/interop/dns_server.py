"""A small authoritative DNS server for the SPF/DKIM/DMARC tests (loopback
only), with dnslib.

    dns_server.py PORT RECORDS_JSON [servfail]

RECORDS_JSON maps names to TXT strings, e.g. {"ok.example.": ["v=spf1 -all"]},
or to records by type: {"remote.test.": {"MX": ["10 mx.remote.test."]}}.
Unknown names get NXDOMAIN; with "servfail" every query fails (SERVFAIL).
"""
import json
import sys

from dnslib import MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSServer

port, records = int(sys.argv[1]), json.load(open(sys.argv[2]))
servfail = len(sys.argv) > 3 and sys.argv[3] == "servfail"


class Resolver(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        if servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif name in records:
            entry = records[name]
            by_type = entry if isinstance(entry, dict) else {"TXT": entry}
            qtype = QTYPE[request.q.qtype]
            for value in by_type.get(qtype, []):
                if qtype == "TXT":
                    chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
                elif qtype == "MX":
                    pref, host = value.split()
                    reply.add_answer(RR(name, QTYPE.MX, rdata=MX(host, int(pref)), ttl=60))
                elif qtype == "A":
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(value), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


servers = [DNSServer(Resolver(), port=port, address="127.0.0.1", tcp=tcp) for tcp in (False, True)]
for s in servers:
    s.start_thread()
import time  # noqa: E402

while True:
    time.sleep(3600)
