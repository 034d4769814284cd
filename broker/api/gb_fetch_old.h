/*
 * Fetch v0-v3 answers, down-converted to message format v0/v1 off the loop
 * thread (api/gb_fetch_old.c). gb_fetch.c reads the slices as for any
 * version and hands them here instead of to sendfile.
 */
#ifndef GB_FETCH_OLD_H
#define GB_FETCH_OLD_H

#include <stddef.h>

#include "broker/core/gb_broker.h"
#include "broker/net/gb_request.h"
#include "protocol/gp_messages.h"
#include "storage/gs_log.h"

/* Convert slices[i], read for a fetch at offset from[i], into ops[i]->records (or an error code there) on a
 * threadpool thread, then answer req. The slices stay referenced until the
 * request is freed (the caller defers their release). */
void gb_fetch_old_answer(gb_broker *b, gb_request *req, gs_log_slice *slices, gp_fetch_response_partition **ops,
                         const int64_t *from, size_t n);

#endif
