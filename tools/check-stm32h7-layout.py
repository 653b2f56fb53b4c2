#!/usr/bin/python3
"""check-stm32h7-layout.py [STM32H7_BUILD_DIR] - the STM32H7 memory map, as
written down, against itself and the MicroPython boards:

- the M4 examples' linker scripts and the built M4 images (PT_LOAD
  segments) lie inside what every MicroPython STM32H747 board leaves the
  M4 (amp_stm32h7_layout.h: flash 0x08180000, SRAM2-3);
- nothing tells anyone to put an M4 image at 0x08100000 (MicroPython's
  own firmware on those boards);
- FACTS.md and amp_stm32h7_layout.h agree on the vrings' addresses and
  directions (vring0 remote->host, vring1 host->remote: REFERENCE.md).

Prints one line per check and "N passed, N failed"; exit status 1 on a
failure. The port's refusal to load there is tests/test_stm32h7_layout.c.
"""
import os
import re
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H7 = os.path.join(TOP, "ports", "stm32h7")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": " + detail))


def read(*parts):
    with open(os.path.join(TOP, *parts), encoding="utf-8") as f:
        return f.read()


def constants(text):
    return {m.group(1): int(m.group(2), 16) for m in re.finditer(r"#define (AMP_STM32H7_\w+) (0x[0-9A-Fa-f]+)u", text)}


layout_h = read("ports", "stm32h7", "amp_stm32h7_layout.h")
C = constants(layout_h)
flash = (C["AMP_STM32H7_M4_FLASH_DA"], C["AMP_STM32H7_M4_FLASH_DA"] + C["AMP_STM32H7_M4_FLASH_SIZE"])
ram = (C["AMP_STM32H7_M4_RAM_DA"], C["AMP_STM32H7_M4_RAM_DA"] + C["AMP_STM32H7_M4_RAM_SIZE"])
check("the boards' M4 flash is 0x08180000, 512 KiB", flash == (0x08180000, 0x08200000), "%#x-%#x" % flash)
check(
    "the examples' M4 RAM avoids SRAM1 (GIGA/DISCO heap), within SRAM2-3",
    ram[0] >= 0x10020000 and ram[1] <= 0x10048000,
    "%#x-%#x" % ram,
)


def inside(lo, hi):
    return (flash[0] <= lo and hi <= flash[1]) or (ram[0] <= lo and hi <= ram[1])


def size(s):
    m = re.fullmatch(r"(0x[0-9A-Fa-f]+|\d+)\s*([KM]?)", s.strip())
    n = int(m.group(1), 0)
    return n * {"": 1, "K": 1024, "M": 1024 * 1024}[m.group(2)]


for ld in ("m4_flash.ld", "m4_sram.ld"):
    text = read("ports", "stm32h7", "examples", "m4_vuart", ld)
    regions = re.findall(r"^\s*(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*(0x[0-9A-Fa-f]+),\s*LENGTH\s*=\s*(\w+)", text, re.M)
    check("%s declares memory regions" % ld, len(regions) >= 2, repr(regions))
    for name, origin, length in regions:
        lo = int(origin, 16)
        hi = lo + size(length)
        check("%s %s %#x-%#x is the M4's" % (ld, name, lo, hi), inside(lo, hi), "outside flash/RAM the boards leave it")


def load_segments(path):
    with open(path, "rb") as f:
        img = f.read()
    if img[:4] != b"\x7fELF" or img[4] != 1:
        return None
    phoff, = struct.unpack_from("<I", img, 28)
    phentsize, phnum = struct.unpack_from("<HH", img, 42)
    segs = []
    for i in range(phnum):
        p_type, _, _, paddr, filesz, memsz = struct.unpack_from("<6I", img, phoff + i * phentsize)
        if p_type == 1 and memsz:
            segs.append((paddr, paddr + memsz))
    return segs


build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "stm32h7")
for elf in ("m4_vuart.elf", "m4_vuart_fw.elf"):
    path = os.path.join(build, elf)
    segs = load_segments(path) if os.path.exists(path) else None
    check("%s built (ports/stm32h7/build.sh)" % elf, bool(segs), path)
    for lo, hi in segs or ():
        check("%s segment %#x-%#x is the M4's" % (elf, lo, hi), inside(lo, hi), "outside flash/RAM the boards leave it")

# An M4 image at 0x08100000 overwrites MicroPython on every H747 board.
bad = re.compile(r"(RemoteProc\(\s*0x0810|attach\([^)]*0x0810|ORIGIN\s*=\s*0x0810|M4_IMAGE\s+0x0810)")
docs = ["README.md", "ports/stm32h7/README.md", "ports/stm32h7/examples/m4_vuart/m4_flash.ld",
        "ports/stm32h7/examples/m4_vuart/m4_sram.ld", "ports/stm32h7/examples/m7_host/main.c",
        "micropython/openamp/platform_stm32h7.c"]
for d in docs:
    hits = [line.strip() for line in read(d).splitlines() if bad.search(line)]
    check("%s puts no M4 image at 0x08100000" % d, not hits, "; ".join(hits))

# vrings: the header's defines and comments, FACTS.md's table, REFERENCE.md's rule
v0 = re.search(r"#define AMP_STM32H7_VRING0_DA (0x[0-9A-Fa-f]+)u /\* (\S+)", layout_h)
v1 = re.search(r"#define AMP_STM32H7_VRING1_DA (0x[0-9A-Fa-f]+)u /\* (\S+)", layout_h)
check("layout.h: vring0 is remote->host", v0 and v0.group(2).rstrip(":") == "remote->host", v0 and v0.group(0))
check("layout.h: vring1 is host->remote", v1 and v1.group(2).rstrip(":") == "host->remote", v1 and v1.group(0))
facts = read("ports", "stm32h7", "FACTS.md")
for name, m, arrow in (("vring0", v0, "remote→host"), ("vring1", v1, "host→remote")):
    rows = [r for r in facts.splitlines() if r.startswith("| " + name + " (")]
    want = "0x%04X_%04X" % (int(m.group(1), 16) >> 16, int(m.group(1), 16) & 0xFFFF)
    ok = bool(rows) and all(("(" + arrow) in r and want in r for r in rows)
    check("FACTS.md: %s is %s at %s, as layout.h" % (name, arrow, want), ok, "; ".join(rows) or "no row")
for name, arrow in (("vring0", "remote→host"), ("vring1", "host→remote")):
    wrong = [line for line in layout_h.splitlines() + facts.splitlines()
             if re.search(name + r"\s*\((host|remote)", line) and arrow not in line and arrow.replace("→", "->") not in line]
    check("no line gives %s another direction" % name, not wrong, "; ".join(wrong))

print("%d passed, %d failed" % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
