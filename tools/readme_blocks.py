"""readme_blocks.py README.md OUTDIR - write every fenced code block of the
README that tools/test-readme.sh checks into OUTDIR, one file per block,
named NN-KIND.EXT after its position and what it is:

  NN-host.c      a C program on amp_host (#include "amp_host.h"): built as
                 the README says and run next to the example firmware
  NN-vcore.c     virtual-core firmware (#include "vcore.h"): added to the
                 firmware build as the README says, and run with amp run
  NN-c.c         any other C: compiled, freestanding, warnings as errors
  NN-python.py   Python: compiled (the examples loop forever)

Prints the file names, one per line. Blocks in other languages, and
indented blocks (shell sessions), are left out.
"""
import os
import re
import sys


def blocks(text):
    for m in re.finditer(r"^```(\w+)[^\n]*\n(.*?)^```[ \t]*$", text, re.S | re.M):
        yield text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2)


def main(readme, out):
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.unlink(os.path.join(out, name))
    for line, lang, body in blocks(open(readme, encoding="utf-8").read()):
        if lang == "c":
            kind = ("host" if '#include "amp_host.h"' in body
                    else "vcore" if '#include "vcore.h"' in body else "c")
            ext = "c"
        elif lang == "python":
            kind, ext = "python", "py"
        else:
            continue
        path = os.path.join(out, "%04d-%s.%s" % (line, kind, ext))
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        print(path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
