"""bad_images.py GOOD.elf OUTDIR - images that parse but that the virtual
core must refuse, each made from a good ELF64 firmware by one change:

  arm.elf, aarch64.elf  e_machine of another core
  entry.elf             e_entry in no memory of the core
  segment.elf           the first PT_LOAD segment outside the core's RAM
  vring.elf             the resource table's vring0 at a fixed address
                        outside the shared window
"""
import struct
import sys

OUTSIDE = 0x30000000  # neither RAM (0x10000000) nor SHM (0x20000000)


def main(src, out):
    img = open(src, "rb").read()

    def write(name, edits):
        b = bytearray(img)
        for off, fmt, *vals in edits:
            struct.pack_into(fmt, b, off, *vals)
        with open(out + "/" + name, "wb") as f:
            f.write(bytes(b))

    write("arm.elf", [(18, "<H", 40)])
    write("aarch64.elf", [(18, "<H", 183)])
    write("entry.elf", [(24, "<Q", OUTSIDE)])

    phoff, = struct.unpack_from("<Q", img, 32)
    phentsize, phnum = struct.unpack_from("<HH", img, 54)
    for i in range(phnum):
        ph = phoff + i * phentsize
        if struct.unpack_from("<I", img, ph)[0] == 1:  # PT_LOAD
            write("segment.elf", [(ph + 16, "<QQ", OUTSIDE, OUTSIDE)])  # p_vaddr, p_paddr
            break

    shoff, = struct.unpack_from("<Q", img, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", img, 58)
    names, = struct.unpack_from("<Q", img, shoff + shstrndx * shentsize + 24)
    for i in range(shnum):
        sh = shoff + i * shentsize
        name = img[names + struct.unpack_from("<I", img, sh)[0]:].split(b"\0")[0]
        if name != b".resource_table":
            continue
        t, = struct.unpack_from("<Q", img, sh + 24)
        num, = struct.unpack_from("<I", img, t + 4)
        for k in range(num):
            e = t + struct.unpack_from("<I", img, t + 16 + 4 * k)[0]
            if struct.unpack_from("<I", img, e)[0] == 3:  # RSC_VDEV; vring0.da at +28
                write("vring.elf", [(e + 28, "<I", OUTSIDE)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
