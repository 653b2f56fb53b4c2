/*
 * fuzz_ring.h - the script language of the ring targets (fuzz_host,
 * fuzz_remote), shared with the seed generator.
 *
 * A script is a header of FZ_HDR bytes that lays out the link, then ops
 * until the input ends. An op is one byte (taken modulo FZ_OP_COUNT) and
 * its arguments; an argument past the end of the input reads as zero.
 *
 * Header:
 *   [0] vring size: 1 << (b % 5) (1..16); with bit 7 set, b & 0x7f as is
 *       (remote target only: the adversarial host writes it in the vdev)
 *   [1] vring alignment: 1 << (b % 8) (1..128); bit 7: b & 0x7f as is
 *       (remote target only)
 *   [2] buffer size: fz_buf_sizes[(b & 0x7f) % 6]; on the remote it is
 *       the size of the buffers the host posts, and bit 7 caps ours at 64
 *       bytes
 *   [3] features: bit 0 name service, bit 1 event index
 *   [4] host: send buffers, 1 + b % num; remote: bit 0 puts both rings
 *       at the same address
 *   [5] callback mode at the start (see FZ_CB_*)
 */
#ifndef FUZZ_RING_H
#define FUZZ_RING_H

#define FZ_HDR 6u

static const unsigned fz_buf_sizes[6] = {16, 20, 64, 128, 256, 96};

enum fz_op {
    /* ours: calls into the device under test */
    FZ_POLL,          /* */
    FZ_WAIT,          /* timeout u8 % 4 */
    FZ_SEND,          /* ept u8, len u16, dst (fz_addr), timeout u8 % 4 */
    FZ_ALLOC_TX,      /* timeout u8 % 4 */
    FZ_SEND_NOCOPY,   /* held u8, ept u8, len u16, dst (fz_addr) */
    FZ_RELEASE_TX,    /* held u8 */
    FZ_RELEASE_RX,    /* held u8, stale u8 (bit 0: pass an older generation) */
    FZ_RELEASE_BOGUS, /* kind u8, where u16: a pointer nobody was given */
    FZ_EPT_CREATE,    /* ept u8, name u8, src (fz_addr), dest (fz_addr) */
    FZ_EPT_DESTROY,   /* ept u8 */
    FZ_STOP,          /* */
    FZ_START,         /* remote: the adversary zeroes and refills the rings first */
    FZ_BUSY_POLL,     /* on u8 & 1 */
    FZ_CB_MODE,       /* mode u8 (FZ_CB_*) */
    /* the peer's: the input plays the other core, writing the window */
    FZ_PEER_WRITE,    /* off u16, n u8 % 64, n bytes */
    FZ_PEER_PUSH,     /* ring u8, id u8 (+u32 host / u16 remote target), len u8 (+u32);
                       * remote target: addr u8 (+u64), flags u8 (+u16) */
    FZ_PEER_MSG,      /* buf u8, dst, src (fz_addr), hlen u8 (+u16), n u8, n bytes, len u8 (+u32) */
    FZ_PEER_NS,       /* buf u8, name u8 (+32 bytes), addr (fz_addr), flags u8 (+u32), mlen u8,
                       * src (fz_addr), len u8 (+u32) */
    FZ_PEER_CONSUME,  /* ring u8, len u8 (+u32) */
    FZ_PEER_IDX,      /* ring u8, delta u8 (0x80: raw u16 follows) */
    FZ_PEER_FLAGS,    /* ring u8, which u8, value u16 */
    FZ_OP_COUNT
};

/* An address argument: u8 selector, then a u32 for FZ_ADDR_RAW. */
enum fz_addr {
    FZ_ADDR_ANY,   /* AMP_ADDR_ANY */
    FZ_ADDR_EPT0,  /* our endpoint 0..3's address (EPT0 + i) */
    FZ_ADDR_NS = 5, /* 53 */
    FZ_ADDR_PEER,  /* 0x400, the peer's usual address */
    FZ_ADDR_RAW,   /* the u32 that follows */
    FZ_ADDR_COUNT  /* and up: 1024 + b */
};

/* Callback behaviour (bits of the mode). */
#define FZ_CB_HOLD 0x01u     /* keep the buffer (AMP_RX_HOLD) */
#define FZ_CB_REPLY 0x02u    /* send back to the source from inside */
#define FZ_CB_DESTROY 0x04u  /* destroy our own endpoint */
#define FZ_CB_RELEASE 0x08u  /* release the oldest held buffer */
#define FZ_CB_POLL 0x10u     /* poll from inside (must do nothing) */
#define FZ_CB_CREATE 0x20u   /* ns callback: create an endpoint bound to it */
#define FZ_CB_STOP 0x40u     /* take the link down from inside */
#define FZ_CB_WAIT_HELPS 0x80u /* a sender's wait lets the peer return a buffer */

#endif /* FUZZ_RING_H */
