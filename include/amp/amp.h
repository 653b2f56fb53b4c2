/*
 * amp.h - asymmetric multiprocessing: virtio vrings, RPMsg, resource
 * tables, ELF loading and remoteproc, in small, checked, freestanding C.
 */
#ifndef AMP_H
#define AMP_H

#define AMP_VERSION_MAJOR 0
#define AMP_VERSION_MINOR 1
#define AMP_VERSION_PATCH 0
#define AMP_VERSION "0.1.0"

#include "amp_config.h"
#include "amp_elf.h"
#include "amp_port.h"
#include "amp_rpmsg.h"
#include "amp_rproc.h"
#include "amp_rsc.h"
#include "amp_vring.h"

#endif /* AMP_H */
