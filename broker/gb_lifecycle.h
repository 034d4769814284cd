/*
 * The broker's lifecycle, on top of every layer: start the services and
 * the listeners in order, stop on SIGINT/SIGTERM, close after the loop.
 */
#ifndef GB_LIFECYCLE_H
#define GB_LIFECYCLE_H

#include <stddef.h>

#include "broker/core/gb_broker.h"

/* Open the data directory's topics, start the flusher and the listeners.
 * Returns 0 or -1 with a message in err. */
int gb_broker_start(gb_broker *b, char *err, size_t errlen);
/* Begin an orderly stop (signals): the loop then runs dry. */
void gb_broker_stop(gb_broker *b);
/* After uv_run returned: logs durable, checkpoints, clean-shutdown marker. */
void gb_broker_close(gb_broker *b);

#endif
