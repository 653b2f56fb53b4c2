/*
 * test_stm32h7_layout.c - the STM32H7 port's memory map against the
 * MicroPython STM32H747 boards (amp_stm32h7_layout.h): what the boards
 * leave the M4 maps, what MicroPython itself uses (its firmware's end of
 * flash bank 2; its GC heap in SRAM1 on GIGA and DISCO) never does, and an
 * image aimed there is refused with ERANGE before anything is written.
 *
 * The port is compiled for the host (AMP_STM32H7_HOST_TEST): only its
 * address logic runs, which touches no register.
 */
#define AMP_STM32H7_HOST_TEST 1
#include "../ports/stm32h7/amp_stm32h7.c"

#include "amp/amp_elf.h"
#include "amp_test.h"

/* What MicroPython's platform (platform_stm32h7.c) reports per board. */
struct board {
    const char *name;
    bool gc_in_sram1;
};

static const struct board boards[] = {
    {"ARDUINO_GIGA", true},         {"STM32H747I_DISCO", true},     {"ARDUINO_PORTENTA_H7", false},
    {"ARDUINO_NICLA_VISION", false}, {"ARDUINO_OPTA", false},
};

static void board_port(struct amp_stm32h7 *h, const struct board *b)
{
    memset(h, 0, sizeof(*h));
    h->cfg.host_owned[0] = (struct amp_stm32h7_range){AMP_STM32H7_MP_FIRMWARE_BANK2,
                                                      AMP_STM32H7_M4_FLASH_DA - AMP_STM32H7_MP_FIRMWARE_BANK2};
    if (b->gc_in_sram1)
        h->cfg.host_owned[1] = (struct amp_stm32h7_range){AMP_STM32H7_MP_GC_SRAM1, AMP_STM32H7_MP_GC_SRAM1_SIZE};
}

static void *map(struct amp_stm32h7 *h, uint64_t da, size_t len, unsigned flags)
{
    return h7_da_to_va(h, da, len, flags);
}

static void test_the_m4_regions_map_on_every_board(void)
{
    for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
        struct amp_stm32h7 h;
        board_port(&h, &boards[i]);
        /* RAM: loadable, the M4 alias seen at SRAM2 by the M7 */
        CHECK(map(&h, AMP_STM32H7_M4_RAM_DA, AMP_STM32H7_M4_RAM_SIZE, AMP_MEM_LOAD) ==
              (void *)(uintptr_t)0x30020000u);
        CHECK(map(&h, 0x30020000u, AMP_STM32H7_M4_RAM_SIZE, AMP_MEM_LOAD) != NULL);
        /* flash: readable (attach), never loaded */
        CHECK(map(&h, AMP_STM32H7_M4_FLASH_DA, AMP_STM32H7_M4_FLASH_SIZE, 0) != NULL);
        CHECK(map(&h, AMP_STM32H7_M4_FLASH_DA, 4, AMP_MEM_LOAD) == NULL);
        /* the regions the examples' linker scripts use lie inside (checked
         * against the scripts by tools/check-stm32h7-layout.py) */
        CHECK_EQ(AMP_STM32H7_M4_FLASH_DA + AMP_STM32H7_M4_FLASH_SIZE, 0x08200000u);
        CHECK_EQ(AMP_STM32H7_M4_RAM_DA + AMP_STM32H7_M4_RAM_SIZE, 0x10048000u);
    }
}

static void test_micropython_memory_never_maps(void)
{
    for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
        struct amp_stm32h7 h;
        const struct board *b = &boards[i];
        board_port(&h, b);
        /* its firmware in bank 2: not even readable through the port */
        CHECK(map(&h, 0x08100000u, 4, 0) == NULL);
        CHECK(map(&h, 0x0817FFFCu, 4, 0) == NULL);
        CHECK(map(&h, 0x0817FFFCu, 8, 0) == NULL); /* straddles into the M4's flash */
        CHECK(map(&h, 0x08180000u, 4, 0) != NULL);
        /* SRAM1, both aliases, and a range straddling its end */
        bool free1 = !b->gc_in_sram1;
        CHECK((map(&h, 0x10000000u, 0x100, AMP_MEM_LOAD) != NULL) == free1);
        CHECK((map(&h, 0x30000000u, 0x100, AMP_MEM_LOAD) != NULL) == free1);
        CHECK((map(&h, 0x1001FFF0u, 0x20, AMP_MEM_LOAD) != NULL) == free1);
        CHECK((map(&h, 0x10000000u, 0x48000u, 0) != NULL) == free1); /* a table or trace there too */
        /* a boot address there: ERANGE before anything is read */
        CHECK_EQ(check_vectors(&h, 0x08100000u), -ERANGE);
        if (b->gc_in_sram1)
            CHECK_EQ(check_vectors(&h, 0x10000000u), -ERANGE);
    }
}

/* A 32-bit ARM ELF with one PT_LOAD at da (memsz bytes, nothing in the file). */
static uint8_t elf_img[52 + 32];

static void w32(size_t off, uint32_t v)
{
    memcpy(elf_img + off, &v, 4); /* the host is little-endian, as the image */
}

static void make_elf(uint32_t da, uint32_t memsz)
{
    static const uint8_t ident[16] = {0x7F, 'E', 'L', 'F', 1, 1, 1};
    memset(elf_img, 0, sizeof(elf_img));
    memcpy(elf_img, ident, 16);
    elf_img[16] = 2;          /* ET_EXEC */
    elf_img[18] = AMP_EM_ARM; /* e_machine */
    w32(20, 1);               /* e_version */
    w32(24, da | 1u);         /* e_entry */
    w32(28, 52);              /* e_phoff */
    elf_img[40] = 52;         /* e_ehsize */
    elf_img[42] = 32;         /* e_phentsize */
    elf_img[44] = 1;          /* e_phnum */
    elf_img[46] = 40;         /* e_shentsize */
    w32(52, 1);               /* PT_LOAD */
    w32(52 + 4, 0);           /* p_offset */
    w32(52 + 8, da);          /* p_vaddr */
    w32(52 + 12, da);         /* p_paddr */
    w32(52 + 16, 0);          /* p_filesz */
    w32(52 + 20, memsz);      /* p_memsz */
    w32(52 + 24, 6);          /* PF_R | PF_W */
    w32(52 + 28, 8);          /* p_align */
}

static int read_img(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void)ctx;
    if (off > sizeof(elf_img) || len > sizeof(elf_img) - off)
        return -EIO;
    memcpy(buf, elf_img + off, len);
    return 0;
}

static void test_a_load_into_the_gc_heap_is_erange(void)
{
    struct amp_stm32h7 h;
    board_port(&h, &boards[0]); /* ARDUINO_GIGA */
    struct amp_port port = amp_stm32h7_port(&h);
    const uint32_t bad[] = {0x10000000u, 0x30000000u, 0x1001F000u /* runs into SRAM2 */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        make_elf(bad[i], 0x2000);
        struct amp_elf elf = {.read = read_img, .size = sizeof(elf_img), .machine = AMP_EM_ARM};
        CHECK_EQ(amp_elf_parse(&elf), 0);
        CHECK_EQ(amp_elf_load(&elf, &port), -ERANGE);
        CHECK(elf.why != NULL);
    }
    CHECK_EQ(h.load_hi, 0u); /* nothing was handed out */
}

AMP_TEST_MAIN(TEST(test_the_m4_regions_map_on_every_board), TEST(test_micropython_memory_never_maps),
              TEST(test_a_load_into_the_gc_heap_is_erange))
