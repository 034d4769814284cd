/*
 * The partition append path (core/gb_append.h).
 */
#include "broker/core/gb_append.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "broker/base/gb_logger.h"
#include "broker/core/gb_flusher.h"
#include "broker/core/gb_partition_events.h"

/* After the data is in the log (or was, for a duplicate): the flush policy. */
static void gb__flush_policy(gb_broker *b, gb_partition *p, const gb_append *a, int64_t last)
{
    if (a->flush == GB_FLUSH_MESSAGES) {
        gb_flusher_maybe_flush(b, p, last); /* flush.messages */
    } else if (a->flush == GB_FLUSH_WAIT) {
        gs_log_start_writeback(p->log); /* the flusher's fdatasync follows */
        gb_flusher_wait(b, p, last, a->on_flushed, a->on_flushed_arg);
    }
}

/* A failed log append: logged at once when it is the first, a different
 * error, or GB_APPEND_FAIL_LOG_INTERVAL_MS after the last line; counted
 * otherwise, the count going into the next line. */
static void gb__append_failed(gb_partition *p, int rc, int64_t now)
{
    gb_append_part *ap = &p->append;
    ap->fails++;
    if (ap->fail_logged_ms != 0 && rc == ap->fail_errno && now >= ap->fail_logged_ms &&
        now - ap->fail_logged_ms < GB_APPEND_FAIL_LOG_INTERVAL_MS) {
        ap->fails_unlogged++;
        return;
    }
    const char *why = rc == -ENOSPC || rc == -EDQUOT ? "reads go on, appends work again once space is freed" : NULL;
    if (ap->fails_unlogged > 0)
        gb_logger_error("partition %s-%d: append failed: %s (%" PRId64 " more failed since the last message, %" PRId64
                        " s ago%s%s)",
                        p->topic->name, p->index, strerror(-rc), ap->fails_unlogged, (now - ap->fail_logged_ms) / 1000,
                        why ? "; " : "", why ? why : "");
    else if (why)
        gb_logger_error("partition %s-%d: append failed: %s (%s)", p->topic->name, p->index, strerror(-rc), why);
    else
        gb_logger_error("partition %s-%d: append failed: %s", p->topic->name, p->index, strerror(-rc));
    ap->fail_logged_ms = now;
    ap->fail_errno = rc;
    ap->fails_unlogged = 0;
}

/* The first append that works after failures says so (one line). */
static void gb__append_succeeded(gb_partition *p)
{
    gb_append_part *ap = &p->append;
    if (ap->fails == 0)
        return;
    gb_logger_info("partition %s-%d: appends work again, after %" PRId64 " failed append(s)", p->topic->name, p->index,
                   ap->fails);
    *ap = (gb_append_part){0};
}

int gb_partition_append(gb_broker *b, gb_partition *p, gb_append *a, gb_append_result *r)
{
    memset(r, 0, sizeof *r);
    /* Idempotence: checked before anything is written (Kafka's
     * analyzeAndValidateProducerState). */
    if (a->marker) {
        int verdict = gs_pstate_check_marker(p->pstate, a->marker, &r->verdict);
        if (verdict < 0) {
            r->pstate_error = verdict;
            return GB_APPEND_PRODUCER;
        }
    } else if (a->pa.producer_id >= 0) {
        int verdict = gs_pstate_check(p->pstate, &a->pa, &r->verdict);
        if (verdict == GS_PSTATE_DUPLICATE) {
            r->base = r->verdict.first_offset;
            r->last = r->verdict.last_offset;
            gb__flush_policy(b, p, a, r->last);
            return GB_APPEND_DUPLICATE;
        }
        if (verdict < 0) {
            r->pstate_error = verdict;
            return GB_APPEND_PRODUCER;
        }
    }
    if (a->prepare && a->prepare(a->prepare_arg, &a->data, &a->len) < 0)
        return GB_APPEND_PREPARE;
    int rc = gs_log_append(p->log, a->data, a->len, a->now, a->log_append_time, 0, &r->base, &r->last);
    if (rc < 0) {
        gb__append_failed(p, rc, a->now);
        r->errno_ = rc;
        return GB_APPEND_STORAGE;
    }
    gb__append_succeeded(p);
    if (a->pa.producer_id >= 0) {
        a->pa.first_offset = r->base;
        a->pa.last_offset = r->last;
        a->pa.timestamp = a->log_append_time ? a->now : a->create_time;
        gs_pstate_update(p->pstate, &a->pa, a->now);
    }
    int status = GB_APPEND_OK;
    if (a->marker) {
        gp_txn_marker m = *a->marker;
        if (a->log_append_time)
            m.timestamp = a->now;
        int ended = gs_pstate_end_txn(p->pstate, &m, r->base, a->now, NULL);
        r->aborted_txn = ended != 0;
        if (ended < 0) {
            /* The marker is in the log and the state in memory is right;
             * the file is rebuilt by recovery's replay. */
            gb_logger_error("partition %s-%d: cannot write the aborted transaction of producer %lld to its "
                            ".txnindex: %s",
                            p->topic->name, p->index, (long long)m.producer_id, strerror(-ended));
            r->errno_ = ended;
            status = GB_APPEND_STORAGE;
        }
    }
    /* Appended: waiters see it (the LSO may have moved too). */
    gb_partition_publish(b, p, GB_PARTITION_APPENDED);
    if (status == GB_APPEND_OK)
        gb__flush_policy(b, p, a, r->last);
    return status;
}
