/* ops.h - the FUSE operation table (ops.c). */
#ifndef CHRONOFS_FS_OPS_H
#define CHRONOFS_FS_OPS_H

#include "node.h"

extern const struct fuse_lowlevel_ops fs_ops;

#endif
