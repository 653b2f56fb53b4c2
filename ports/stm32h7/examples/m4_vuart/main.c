/*
 * main.c - a virtual UART on the Cortex-M4: the remote end of the RPMsg
 * service "vuart-channel", echoing every message to its sender.
 *
 *   VUART_FW_TABLE=0 (default, m4_flash.ld): MicroPython's layout. The
 *       host builds the resource table at 0x38000000 before releasing
 *       us, so firmware and host stay compatible with MicroPython's
 *       STM32 port in either role.
 *   VUART_FW_TABLE=1 (m4_sram.ld): the image carries its own
 *       .resource_table, vrings at AMP_RSC_ADDR_ANY (the host places them
 *       in SRAM4) and EVENT_IDX offered; the host loads the ELF into
 *       SRAM2-3.
 *
 * Main invariant: the geometry comes from our checked copy of the table;
 * the shared table is used only for its vdev's status and gfeatures
 * words, which amp_rpmsg reads as single words.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amp/amp.h"
#include "amp_stm32h7_layout.h"
#include "m4_port.h"

#ifndef VUART_FW_TABLE
#define VUART_FW_TABLE 0
#endif

#define F_NS (1u << AMP_RPMSG_F_NS)
#define F_EVENT_IDX (1u << AMP_VIRTIO_F_EVENT_IDX)

#if VUART_FW_TABLE
#define NUM_MAX 32u
/* The library's structs end in flexible arrays, so the table is spelled
 * out: header, one RPMsg vdev with two vrings, a trace buffer in SRAM4. */
struct fw_rsc {
    uint32_t ver, num, reserved[2], offset[2];
    struct {
        uint32_t type, id, notifyid, dfeatures, gfeatures, config_len;
        uint8_t status, num_of_vrings, reserved[2];
    } vdev;
    struct amp_rsc_vring vring[2];
    struct amp_rsc_trace trace;
};
_Static_assert(sizeof(((struct fw_rsc *)0)->vdev) == sizeof(struct amp_rsc_vdev), "vdev layout");
_Static_assert(sizeof(struct fw_rsc) % 4u == 0, "copied in words");

/* Written by the host before we run (vring addresses, gfeatures,
 * status): read only through the volatile TABLE_VA. */
__attribute__((section(".resource_table"), used, aligned(8))) static struct fw_rsc fw_rsc = {
    .ver = 1,
    .num = 2,
    .offset = {offsetof(struct fw_rsc, vdev), offsetof(struct fw_rsc, trace)},
    .vdev = {AMP_RSC_VDEV, AMP_VIRTIO_ID_RPMSG, 0, F_NS | F_EVENT_IDX, 0, 0, 0, 2, {0, 0}},
    .vring = {{AMP_RSC_ADDR_ANY, 32, NUM_MAX, 0, 0}, {AMP_RSC_ADDR_ANY, 32, NUM_MAX, 1, 0}},
    .trace = {AMP_RSC_TRACE, AMP_STM32H7_TRACE_DA, AMP_STM32H7_TRACE_LEN, 0, "trace_buf"},
};
#define TABLE_VA ((volatile uint8_t *)&fw_rsc)
#define TABLE_SIZE sizeof(struct fw_rsc)
#define FEATURES (F_NS | F_EVENT_IDX)
#else
#define NUM_MAX AMP_STM32H7_VRING_NUM
#define TABLE_VA ((volatile uint8_t *)(uintptr_t)AMP_STM32H7_RSC_DA)
#define TABLE_SIZE AMP_STM32H7_RSC_SIZE
#define FEATURES F_NS /* what MicroPython's host table offers */
#endif

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * NUM_MAX];
static _Alignas(8) uint8_t table[TABLE_SIZE]; /* our copy of the host-written table */
static volatile char *trace;                   /* NULL: no usable trace buffer */
static uint32_t trace_len, trace_pos;

/* ==== Trace buffer ==== */

/* Use the table's trace buffer only where writing cannot hurt: inside
 * SRAM4 after the shared window's start. (MicroPython's host puts it in
 * M7 memory, possibly DTCM, which the M4 cannot reach.) */
static void trace_setup(const struct amp_rsc_trace *t)
{
    uint32_t da = t->da, len = t->len;
    if (da < AMP_STM32H7_SHM_DA || da >= AMP_STM32H7_SHM_END || len < 2 ||
        len > AMP_STM32H7_SHM_END - da)
        return;
    trace = (volatile char *)(uintptr_t)da;
    trace_len = len;
    trace_pos = 0;
    trace[0] = '\0';
}

static void trace_puts(const char *s)
{
    if (!trace)
        return;
    while (*s && trace_pos + 1 < trace_len)
        trace[trace_pos++] = *s++;
    trace[trace_pos] = '\0';
}

/* ==== Resource table ==== */

/* Copy the table in words (SRAM4 is plain memory, but the host may still
 * be writing it: read each word once), check it, find the RPMsg vdev and
 * describe the link in *cfg. 0, or -errno while there is no usable table
 * yet. */
static int read_table(struct amp_rpmsg_cfg *cfg)
{
    const volatile uint32_t *src = (const volatile uint32_t *)TABLE_VA;
    for (size_t i = 0; i < sizeof(table) / 4u; i++) {
        uint32_t w = src[i];
        memcpy(table + 4u * i, &w, 4u);
    }
    if (amp_rsc_check(table, sizeof(table), NULL))
        return -EINVAL;

    struct amp_rsc_vdev *v = NULL;
    uint32_t type;
    void *e;
    trace = NULL;
    for (uint32_t k = 0; (e = amp_rsc_entry(table, k, &type)) != NULL; k++) {
        if (type == AMP_RSC_VDEV && !v && ((struct amp_rsc_vdev *)e)->id == AMP_VIRTIO_ID_RPMSG)
            v = e; /* both cores are little-endian: no byte swap */
        else if (type == AMP_RSC_TRACE && !trace)
            trace_setup(e);
    }
    if (!v)
        return -ENOENT;
    memset(cfg, 0, sizeof(*cfg));
    int err = amp_rpmsg_cfg_from_vdev(cfg, v);
    if (err)
        return err;
    if (cfg->num > NUM_MAX)
        return -E2BIG;
    cfg->vdev = (volatile struct amp_rsc_vdev *)(TABLE_VA + ((uint8_t *)v - table));
    cfg->shm.va = (uint8_t *)(uintptr_t)AMP_STM32H7_SHM_DA; /* the same address on both cores */
    cfg->shm.da = AMP_STM32H7_SHM_DA;
    cfg->shm.size = AMP_STM32H7_SHM_END - AMP_STM32H7_SHM_DA; /* MicroPython's pool runs to the end */
    cfg->features = FEATURES;
    cfg->slots = slots;
    cfg->nslots = 2 * NUM_MAX;
    return 0;
}

/* ==== The service ==== */

static int echo(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    if (amp_ept_sendto(e, AMP_ADDR_ANY, src, data, len, AMP_WAIT_FOREVER) < 0)
        trace_puts("vuart: echo failed\n");
    return AMP_RX_DONE;
}

int main(void)
{
    struct amp_port port = m4_port();
    struct amp_rpmsg_cfg cfg;

    amp_rpmsg_init(&dev, AMP_ROLE_REMOTE, &port);
    amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, echo, NULL);
    m4_park_ready();

    /* The host writes the table before releasing us. If it is not valid
     * (we were started some other way), look again at every doorbell. */
    while (read_table(&cfg) != 0)
        port.ops->wait(port.ctx, AMP_WAIT_FOREVER);
    trace_puts("vuart: table ok\n");

    int err = amp_rpmsg_start(&dev, &cfg, AMP_WAIT_FOREVER); /* waits for DRIVER_OK */
    if (err) {
        trace_puts("vuart: the vdev is unusable\n");
        return err;
    }
    trace_puts("vuart: up\n");
    for (;;) {
        err = amp_rpmsg_wait(&dev, AMP_WAIT_FOREVER);
        if (err == -EIO) {
            trace_puts("vuart: the host broke the rings\n");
            return err;
        }
    }
}
