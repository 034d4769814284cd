/*
 * Producer ids: handed out by InitProducerId from blocks reserved on disk,
 * so that an id is never given twice, even across kill -9.
 *
 *   <log.dirs>/gregor-producer-ids.properties   next_producer_id_block=N
 *
 * Every id below N may have been handed out; a restart continues at N.
 * Blocks are of 1000 ids, as Kafka's controller allocates them: the file
 * is rewritten (fsync, rename, fsync of the directory) off the loop thread
 * before an id of a new block leaves the broker, and the next block is
 * reserved while the last hundred of the current one are handed out, so a
 * request waits for the disk only for the first id after a start.
 */
#ifndef GB_PRODUCER_IDS_H
#define GB_PRODUCER_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "broker/core/gb_broker.h"

/* Read the reservation file (a malformed one is an error: ids could be
 * given twice). Returns 0 or -1 with a message in err. */
int gb_producer_ids_open(gb_broker *b, char *err, size_t errlen);

/* After the loop stopped. Waiting calls are dropped without their callback
 * (their requests go with the connections). */
void gb_producer_ids_close(gb_broker *b);

/* A new producer id, now or once its block is on disk: done(arg, 0, id),
 * or done(arg, error, -1) with a Kafka error code when the block cannot be
 * written (COORDINATOR_LOAD_IN_PROGRESS: the client retries). Calls are
 * served in order. */
void gb_producer_ids_get(gb_broker *b, void (*done)(void *arg, int16_t error, int64_t id), void *arg);

#endif
