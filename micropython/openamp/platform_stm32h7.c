/*
 * platform_stm32h7.c - the binding core's platform for MicroPython's
 * stm32 port on an STM32H747/H755: MicroPython on the Cortex-M7 is the
 * host, the Cortex-M4 runs the firmware (ports/stm32h7 is the port).
 *
 * Build: add this file and ports/stm32h7/amp_stm32h7.c to the module
 * (micropython.mk does it when AMP_PLATFORM=stm32h7; see the README), with
 * MICROPY_PY_OPENAMP=0 so MicroPython's own module and its HSEM1 handler
 * are out.
 *
 * Everything runs in thread context: the HSEM1 interrupt only schedules a
 * poll (a static scheduler node), the poll queues messages for the
 * interpreter, and blocking calls poll while they wait. Nothing runs
 * concurrently, so the queue lock compiles away, and so do the descriptor
 * hooks: there are none (AMPY_ONE_CONTEXT; select.poll uses the stream
 * protocol).
 *
 * The shared layout is MicroPython's (AMP_STM32H7_MICROPYTHON: the table
 * at 0x38000000, NS only), so M4 firmware written for MicroPython's
 * openamp module works unchanged; SRAM4 is made uncached with the MPU.
 * The M4's memory is what the boards leave it (amp_stm32h7_layout.h):
 * flash 0x08180000, and SRAM1-3 minus MicroPython's GC heap; a load or
 * boot address on MicroPython's own memory is refused with ERANGE.
 */
#include <string.h>

#include "extmod/vfs.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "amp_stm32h7.h"
#include "ampy.h"

#if MICROPY_PY_OPENAMP_AMP

#if !MICROPY_SCHEDULER_STATIC_NODES
#error "the stm32h7 platform needs MICROPY_SCHEDULER_STATIC_NODES"
#endif
#if !AMPY_ONE_CONTEXT
#error "the stm32h7 platform is one context: build the module with AMPY_ONE_CONTEXT=1"
#endif

/* What scales with the layout's ring (vrings of AMP_STM32H7_VRING_NUM):
 * the slots of both vrings, and an event node per receive buffer the
 * remote can fill, plus an eighth more for announcements. */
#define NUM AMP_STM32H7_VRING_NUM
#define NSLOTS (2u * NUM)
#define NEVENTS (NUM + NUM / 8u)

/* Everything the open device needs is on the GC heap, kept there by a
 * root pointer (as MicroPython's own module keeps its virtio device):
 * the module costs no static RAM before it is used. The block is an
 * object with a finaliser: while the device is open the root keeps it,
 * so it runs at a soft reset, and closes the device before the heap goes. */
typedef struct {
    mp_obj_base_t base; /* first: the GC finds the finaliser through it */
    struct amp_stm32h7 hw;
    struct amp_port port;
    struct amp_rpmsg rpmsg;
    struct amp_rproc rproc;
    struct amp_vring_slot slots[NSLOTS];
    struct ampy_node ev[NEVENTS];
    char ns_names[NEVENTS / 8u][AMP_RPMSG_NAME_SIZE];
} plat_t;

#define PLAT ((plat_t *)MP_STATE_PORT(openamp_amp_plat)) /* NULL while closed */

static mp_sched_node_t poll_node;

static plat_t *P(struct ampy_dev *d)
{
    return d->plat;
}

/* In the GC's sweep (plat_del): objects it collects in the same sweep,
 * the image file among them, may be freed already. */
static bool sweeping;

static mp_obj_t plat_del(mp_obj_t self)
{
    /* only the open device's block: a closed one (or one whose open
     * failed) is garbage, and its finaliser runs whenever the GC gets to
     * it, maybe while a newer device is open */
    if (MP_OBJ_TO_PTR(self) == PLAT) {
        sweeping = true;
        ampy_dev_close(); /* endpoints first, then ampy_plat_close */
        sweeping = false;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(plat_del_obj, plat_del);

static const mp_rom_map_elem_t plat_locals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&plat_del_obj)},
};
static MP_DEFINE_CONST_DICT(plat_locals, plat_locals_table);
static MP_DEFINE_CONST_OBJ_TYPE(plat_type, MP_QSTR_openamp, MP_TYPE_FLAG_NONE, locals_dict, &plat_locals);

/* ==== The HSEM interrupt: schedule a poll, nothing else ==== */

static void poll_cb(mp_sched_node_t *node)
{
    plat_t *p = PLAT;
    if (!p)
        return; /* closed since it was scheduled */
    amp_stm32h7_take_pending(&p->hw);
    /* queues messages for the binding to dispatch; a poll handles a
     * bounded batch, and what it left was rung for already: come back for
     * it after the other scheduled work rather than wait for a doorbell */
    if (amp_rpmsg_poll(&p->rpmsg) > 0)
        mp_sched_schedule_node(node, poll_cb);
}

static void on_notify(void *arg)
{
    (void)arg;
    mp_sched_schedule_node(&poll_node, poll_cb);
}

static uint32_t ticks_ms(void)
{
    return (uint32_t)mp_hal_ticks_ms();
}

void HSEM1_IRQHandler(void);
void HSEM1_IRQHandler(void)
{
    plat_t *p = PLAT; /* enabled only while open: see ampy_plat_open/close */
    if (p)
        amp_stm32h7_hsem_irq(&p->hw);
}

/* ==== Platform hooks ==== */

/* What MicroPython itself uses of the memory the M4 reaches, so that no
 * image or boot address lands on it: its firmware's end of flash bank 2
 * (FLASH_TEXT runs to 0x0817FFFF on every H747 board) and every GC heap
 * area in SRAM1-3 (SRAM1 on ARDUINO_GIGA and STM32H747I_DISCO). */
static void host_owned(struct amp_stm32h7_cfg *cfg)
{
    size_t n = 0;
    cfg->host_owned[n++] = (struct amp_stm32h7_range){AMP_STM32H7_MP_FIRMWARE_BANK2,
                                                      AMP_STM32H7_M4_FLASH_DA - AMP_STM32H7_MP_FIRMWARE_BANK2};
    for (mp_state_mem_area_t *a = &MP_STATE_MEM(area); a && n < AMP_STM32H7_HOST_OWNED_MAX;
#if MICROPY_GC_SPLIT_HEAP
         a = a->next
#else
         a = NULL
#endif
    ) {
        uint32_t lo = (uint32_t)(uintptr_t)a->gc_alloc_table_start, hi = (uint32_t)(uintptr_t)a->gc_pool_end;
        if (lo < AMP_STM32H7_SRAM123_END && hi > AMP_STM32H7_SRAM123_BASE)
            cfg->host_owned[n++] = (struct amp_stm32h7_range){lo, hi - lo};
    }
}

int ampy_plat_open(struct ampy_dev *d)
{
    struct amp_stm32h7_cfg cfg = {
        .ticks_ms = ticks_ms,
        .on_notify = on_notify,
        .irq_priority = AMP_STM32H7_PRIO(10),
        .mpu_uncached = true,
    };
    struct amp_rproc_cfg rc;
    plat_t *p = gc_alloc(sizeof(plat_t), GC_ALLOC_FLAG_HAS_FINALISER); /* NULL: no jump */
    if (!p)
        return -ENOMEM;
    memset(p, 0, sizeof(*p));
    p->base.type = &plat_type;
    int err = amp_stm32h7_rproc_cfg(&rc, AMP_STM32H7_MICROPYTHON, p->slots, NSLOTS);
    if (!err)
        err = amp_stm32h7_mpu_uncached(AMP_STM32H7_SRAM4_BASE, AMP_STM32H7_SRAM4_LOG2);
    if (err)
        return err; /* the block is garbage: its finaliser does nothing */
    host_owned(&cfg);
    MP_STATE_PORT(openamp_amp_plat) = p; /* before the HSEM1 interrupt is on */
    err = amp_stm32h7_init(&p->hw, &cfg);
    if (err) {
        MP_STATE_PORT(openamp_amp_plat) = NULL;
        return err;
    }
    p->port = amp_stm32h7_port(&p->hw);
    amp_rpmsg_init(&p->rpmsg, AMP_ROLE_HOST, &p->port);
    amp_rproc_init(&p->rproc, &p->port, &p->rpmsg, &rc);
    ampy_set_events(d, p->ev, NEVENTS, p->ns_names);
    d->rpmsg = &p->rpmsg;
    d->plat = p;
    return 0;
}

void ampy_plat_close(struct ampy_dev *d)
{
    ampy_rproc_shutdown(d); /* the HSEM1 interrupt goes off */
    d->plat = NULL;
    d->rpmsg = NULL;
    MP_STATE_PORT(openamp_amp_plat) = NULL; /* the GC takes the block */
}

/* The binding's condition wait: 0 once something was queued or changed
 * (a broadcast), -ETIMEDOUT when timeout_ms passed first. Waiting is
 * polling: deliver what came, run MicroPython's scheduled work (our poll
 * among it) and sleep until the next interrupt or a millisecond. It must
 * not return 0 without a broadcast: the binding waits again with the
 * whole timeout after every 0, so a recv(timeout=...) would never end. */
static volatile uint32_t broadcasts;

int ampy_plat_wait(struct ampy_dev *d, int32_t timeout_ms)
{
    uint32_t t0 = mp_hal_ticks_ms(), seen = broadcasts;
    for (;;) {
        amp_rpmsg_poll(d->rpmsg);
        if (broadcasts != seen)
            return 0;
        if (timeout_ms >= 0 && mp_hal_ticks_ms() - t0 >= (uint32_t)timeout_ms)
            return -ETIMEDOUT;
        mp_event_wait_ms(1);
    }
}

void ampy_plat_broadcast(struct ampy_dev *d)
{
    (void)d;
    broadcasts++;
}

/* ==== Remote processor ==== */

/* The image file stays open (a root pointer keeps it from the GC) so a
 * restart can load it again. */
static int file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    int err = 0;
    mp_obj_t f = MP_STATE_PORT(openamp_amp_image);
    (void)ctx;
    if (f == MP_OBJ_NULL)
        return -EIO;
    if (mp_stream_seek(f, (mp_off_t)off, MP_SEEK_SET, &err) == (mp_off_t)-1 && err)
        return -EIO;
    mp_uint_t n = mp_stream_read_exactly(f, buf, len, &err);
    return err || n != len ? -EIO : 0;
}

static void close_image(void)
{
    mp_obj_t f = MP_STATE_PORT(openamp_amp_image);
    MP_STATE_PORT(openamp_amp_image) = MP_OBJ_NULL;
    if (f != MP_OBJ_NULL && !sweeping) /* in the sweep: the file's own finaliser closes it */
        mp_stream_close(f);
}

int ampy_rproc_load(struct ampy_dev *d, const char *path)
{
    nlr_buf_t nlr;
    mp_obj_t f;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t args[2] = {mp_obj_new_str_from_cstr(path), MP_OBJ_NEW_QSTR(MP_QSTR_rb)};
        f = mp_vfs_open(2, args, (mp_map_t *)&mp_const_empty_map);
        nlr_pop();
    } else {
        P(d)->rproc.why = AMPY_WHY("cannot open the firmware file");
        return -ENOENT;
    }
    int err = 0;
    mp_off_t size = mp_stream_seek(f, 0, MP_SEEK_END, &err);
    if (err || size < 0) {
        mp_stream_close(f);
        return -EIO;
    }
    close_image();
    MP_STATE_PORT(openamp_amp_image) = f;
    err = amp_rproc_load(&P(d)->rproc, file_read, NULL, (uint64_t)size);
    if (err)
        close_image();
    return err;
}

int ampy_rproc_attach(struct ampy_dev *d, uint64_t entry)
{
    return amp_rproc_attach(&P(d)->rproc, entry);
}

int ampy_rproc_start(struct ampy_dev *d)
{
    int err = amp_stm32h7_can_start(&P(d)->hw);
    return err ? err : amp_rproc_start(&P(d)->rproc);
}

int ampy_rproc_stop(struct ampy_dev *d)
{
    return amp_rproc_stop(&P(d)->rproc);
}

int ampy_rproc_shutdown(struct ampy_dev *d)
{
    int err = amp_rproc_shutdown(&P(d)->rproc);
    close_image();
    return err;
}

enum amp_rproc_state ampy_rproc_state(struct ampy_dev *d)
{
    return P(d)->rproc.state;
}

int ampy_rproc_trace(struct ampy_dev *d, uint32_t i, char *buf, size_t n)
{
    return amp_rproc_trace_read(&P(d)->rproc, i, buf, n);
}

const char *ampy_rproc_why(struct ampy_dev *d)
{
    plat_t *p = d ? P(d) : NULL;
    if (!p)
        return "";
    const char *hw = amp_stm32h7_why(&p->hw);
    return hw ? hw : p->rproc.why ? p->rproc.why : "";
}

MP_REGISTER_ROOT_POINTER(mp_obj_t openamp_amp_image);
MP_REGISTER_ROOT_POINTER(void *openamp_amp_plat);

#endif /* MICROPY_PY_OPENAMP_AMP */
