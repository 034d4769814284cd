/*
 * The broker: everything the loop thread owns. One instance per process,
 * passed explicitly (no global state reached from everywhere).
 */
#ifndef GB_BROKER_H
#define GB_BROKER_H

#include <uv.h>

#include "config/gc_config.h"
#include "storage/gs_meta.h"

typedef struct gb_server gb_server;

typedef struct gb_broker {
    uv_loop_t *loop;
    const gc_config *cfg;
    const char *data_dir; /* the effective log directory */
    gs_meta meta;         /* cluster id and node id */
    gb_server *server;
} gb_broker;

#endif
