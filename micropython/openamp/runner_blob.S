/* The virtual core's runner, built into the module (see micropython.mk). */
#include "../../ports/linux/amp_vcore_blob.S"
