"""footprint.py MAP MAX - sum the code and constants each input file put
in a GNU ld map (sections kept after --gc-sections), print them, and fail
if the library's own share (amp_*.o) is over MAX bytes."""
import re
import sys

path, budget = sys.argv[1], int(sys.argv[2])
text = open(path).read()
text = text[text.index("Linker script and memory map"):]  # skip the discarded list
sizes = {}
pending = None
for line in text.splitlines():
    m = re.match(r"^ (\.(?:text|rodata)\S*)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?$", line)
    if m:
        if m.group(2):
            sizes[m.group(4)] = sizes.get(m.group(4), 0) + int(m.group(3), 16)
            pending = None
        else:
            pending = True  # name too long: the numbers are on the next line
        continue
    if pending:
        m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        if m:
            sizes[m.group(3)] = sizes.get(m.group(3), 0) + int(m.group(2), 16)
        pending = None

ours = {k: v for k, v in sizes.items() if re.search(r"amp_[a-z]+\.o$", k)}
rest = {k: v for k, v in sizes.items() if k not in ours and v}
total = sum(ours.values())
print("footprint: remote side on Cortex-M4 (device vrings + RPMsg + NS + zero-copy, -Os, gc-sections):")
for k, v in sorted(ours.items()):
    print("  %-40s %6d bytes" % (k.split("/")[-1], v))
for k, v in sorted(rest.items()):
    print("  %-40s %6d bytes (not counted)" % (k.split("/")[-1], v))
print("footprint: remote text %d bytes (budget %d)" % (total, budget))
sys.exit(0 if total <= budget else 1)
