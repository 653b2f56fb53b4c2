"""footprint.py MAP NAME GOAL BUDGET [-v] [--count REGEX] - sum the code and
constants each input file put in a GNU ld map (sections kept after
--gc-sections), print them, and print the figure on one line:

    footprint: NAME text N bytes (goal G, budget B)

N is the library's own share: input files whose name matches REGEX
(default: any amp_*.o). Fails if N is over BUDGET, the regression budget
(the goal once it is met). -v also lists the counted sections (one per
function with -ffunction-sections), largest first."""
import re
import sys


def kept_sections(path, kinds=r"text|rodata"):
    """(section, size, object) of every input section a GNU ld map kept,
    for section names .KIND* (KIND matching kinds) and COMMON."""
    text = open(path).read()
    text = text[text.index("Linker script and memory map"):]  # skip the discarded list
    pat = r"^ (\.(?:%s)\S*|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?$" % kinds
    pending = None
    for line in text.splitlines():
        m = re.match(pat, line)
        if m and m.group(2):
            pending = None
            yield m.group(1), int(m.group(3), 16), m.group(4)
        elif m:
            pending = m.group(1)  # name too long: the numbers are on the next line
        elif pending:
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
            sec, pending = pending, None
            if m:
                yield sec, int(m.group(2), 16), m.group(3)


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv[1:]
    count = r"amp_[a-z]+\.o$"
    if "--count" in args:
        i = args.index("--count")
        count = args[i + 1]
        del args[i : i + 2]
    path, name, goal, budget = args[0], args[1], int(args[2]), int(args[3])
    sizes = {}
    sections = []  # (size, section, file) of the counted sections
    for sec, size, obj in kept_sections(path):
        if sec == "COMMON":
            continue
        sizes[obj] = sizes.get(obj, 0) + size
        if size and re.search(count, obj):
            sections.append((size, sec, obj.split("/")[-1]))

    ours = {k: v for k, v in sizes.items() if re.search(count, k)}
    rest = {k: v for k, v in sizes.items() if k not in ours and v}
    total = sum(ours.values())
    print("footprint: %s, text+rodata per input file (Cortex-M4, -Os, gc-sections):" % name)
    for k, v in sorted(ours.items()):
        print("  %-40s %6d bytes" % (k.split("/")[-1], v))
    for k, v in sorted(rest.items()):
        print("  %-40s %6d bytes (not counted)" % (k.split("/")[-1], v))
    if verbose:
        print("footprint: %s, the counted sections, largest first:" % name)
        for size, sec, obj in sorted(sections, key=lambda s: (-s[0], s[1])):
            print("  %6d  %-16s %s" % (size, obj, sec))
    state = "met" if total <= goal else "not met"
    print("footprint: %s text %d bytes (goal %d, %s; budget %d)" % (name, total, goal, state, budget))
    return 0 if total <= budget else 1


if __name__ == "__main__":
    sys.exit(main())
