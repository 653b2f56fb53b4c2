"""footprint_m7.py MAP TEXT_BUDGET BSS_BUDGET - the MicroPython module's
host side on Cortex-M7 (tools/footprint.sh links it with --gc-sections):
what each input file kept, then two lines,

    footprint: micropython-m7 text N bytes (...)
    footprint: micropython-m7 bss N bytes (...)

text is .text* + .rodata* + .data* (flash), bss is .bss* + COMMON +
.data* (static RAM), summed over every object file linked (the C library's archive members
are not counted).
Fails if either is over its budget."""
import sys

from footprint import kept_sections

path, text_budget, bss_budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = {}  # object -> [text, bss]
for sec, size, obj in kept_sections(path, r"text|rodata|data|bss"):
    if not size or "(" in obj:  # an archive's member: the C library's
        continue
    o = per.setdefault(obj.split("/")[-1], [0, 0])
    if not sec.startswith((".bss", "COMMON")):
        o[0] += size
    if sec.startswith((".bss", "COMMON", ".data")):
        o[1] += size

print("footprint: micropython-m7, per input file (Cortex-M7, -Os, gc-sections):")
for name, (t, b) in sorted(per.items()):
    print("  %-24s text %6d  bss %6d" % (name, t, b))
text = sum(v[0] for v in per.values())
bss = sum(v[1] for v in per.values())
print("footprint: micropython-m7 text %d bytes (budget %d)" % (text, text_budget))
print("footprint: micropython-m7 bss %d bytes (budget %d)" % (bss, bss_budget))
sys.exit(0 if text <= text_budget and bss <= bss_budget else 1)
