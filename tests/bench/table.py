"""Prints the side-by-side table from surel-bench result lines.

    python3 tests/bench/table.py RESULTS

Each line is `WORKLOAD SERVER:VARIANT key=value …`. For every workload,
variant and figure, the row shows surel's value, the anchor's (Dovecot
or Postfix), the ratio surel / anchor and whether surel is ahead
(higher is better for rates, lower for times and memory).
"""
import sys
from collections import OrderedDict

rows = OrderedDict()
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 3 or ":" not in parts[1]:
        continue
    workload, (server, variant) = parts[0], parts[1].split(":", 1)
    for kv in parts[2:]:
        key, value = kv.split("=")
        rows.setdefault((workload, variant, key), {})[server] = float(value)

# Set-up figures shown for information: the servers do different work
# (surel reads and indexes every file it finds; Dovecot only lists them and
# reads each at its first FETCH), so neither is "ahead".
NOT_COMPARED = {("imap-fill", "indexed_per_s")}
# Printed, compared, but not among the targets: for the session
# mix it asks operations/s and p99. In a closed loop the median mostly
# shows how evenly a saturated server shares its CPU between clients.
INFORMATIONAL = {("imap-mix", "p50_ms")}
SKIP = {"messages", "appended", "written", "written_per_s", "clients", "ops", "users", "connections", "loaded_kib", "rest_kib"}
print(f"| workload | variant | figure | surel | anchor | surel/anchor | surel ahead |")
print("|---|---|---|---:|---:|---:|---|")
for (workload, variant, key), values in rows.items():
    if key in SKIP:
        continue
    surel = values.get("surel")
    anchor_name = next((k for k in values if k != "surel"), None)
    anchor = values.get(anchor_name) if anchor_name else None
    fmt = lambda v: "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.2f}")
    ratio = f"{surel / anchor:.2f}" if surel is not None and anchor else "—"
    higher_better = key.endswith("_per_s")
    ahead = "—"
    if (workload, key) in NOT_COMPARED:
        ahead = "set-up, not compared"
    elif surel is not None and anchor is not None:
        ahead = "yes" if (surel >= anchor if higher_better else surel <= anchor) else "**no**"
        if (workload, key) in INFORMATIONAL:
            ahead += " (not a target)"
    who = f"{anchor_name}" if anchor_name else ""
    print(f"| {workload} | {variant} | {key} | {fmt(surel)} | {fmt(anchor)} {who} | {ratio} | {ahead} |")
