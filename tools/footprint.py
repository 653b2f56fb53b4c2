"""footprint.py MAP MAX [-v] - sum the code and constants each input file put
in a GNU ld map (sections kept after --gc-sections), print them, and fail
if the library's own share (amp_*.o) is over MAX bytes. -v also lists the
library's sections (one per function with -ffunction-sections), largest
first."""
import re
import sys

path, budget = sys.argv[1], int(sys.argv[2])
verbose = "-v" in sys.argv[3:]
text = open(path).read()
text = text[text.index("Linker script and memory map"):]  # skip the discarded list
sizes = {}
sections = []  # (size, section, file) of the library's own sections
pending = None
for line in text.splitlines():
    m = re.match(r"^ (\.(?:text|rodata)\S*)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?$", line)
    if m:
        if m.group(2):
            name, size, obj, pending = m.group(1), int(m.group(3), 16), m.group(4), None
        else:
            pending = m.group(1)  # name too long: the numbers are on the next line
            continue
    elif pending:
        m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        name, pending = pending, None
        if not m:
            continue
        size, obj = int(m.group(2), 16), m.group(3)
    else:
        continue
    sizes[obj] = sizes.get(obj, 0) + size
    if size and re.search(r"amp_[a-z]+\.o$", obj):
        sections.append((size, name, obj.split("/")[-1]))

ours = {k: v for k, v in sizes.items() if re.search(r"amp_[a-z]+\.o$", k)}
rest = {k: v for k, v in sizes.items() if k not in ours and v}
total = sum(ours.values())
print("footprint: remote side on Cortex-M4 (device vrings + RPMsg + NS + zero-copy, -Os, gc-sections):")
for k, v in sorted(ours.items()):
    print("  %-40s %6d bytes" % (k.split("/")[-1], v))
for k, v in sorted(rest.items()):
    print("  %-40s %6d bytes (not counted)" % (k.split("/")[-1], v))
if verbose:
    print("footprint: the library's sections, largest first:")
    for size, name, obj in sorted(sections, key=lambda s: (-s[0], s[1])):
        print("  %6d  %-12s %s" % (size, obj, name))
print("footprint: remote text %d bytes (regression budget %d; goal 2000, not met)" % (total, budget))
sys.exit(0 if total <= budget else 1)
