/*
 * The broker's log: one line per event on stderr, with a UTC timestamp and a
 * level. Only broker/ logs; storage/, protocol/ and config/ return errors and
 * the broker decides what to say.
 */
#ifndef GB_LOGGER_H
#define GB_LOGGER_H

#include <stdbool.h>
#include <stdint.h>

/* log4j's levels, which Kafka's BROKER_LOGGER resource names; Gregor
 * writes no FATAL or TRACE lines of its own, but the level may be set. */
enum { GB_LOGGER_FATAL, GB_LOGGER_ERROR, GB_LOGGER_WARN, GB_LOGGER_INFO, GB_LOGGER_DEBUG, GB_LOGGER_TRACE };

/* Lines above this level are dropped (GREGOR_LOG_LEVEL=trace|debug|info|warn|error|fatal;
 * at run time IncrementalAlterConfigs on BROKER_LOGGER, logger "root"). */
extern int gb_logger_level;

void gb_logger_init_from_env(void);
/* The level named name exactly (upper case, as log4j's names: "DEBUG"), or -1. */
int gb_logger_level_find(const char *name);
/* The name of a level ("INFO"). */
const char *gb_logger_level_name(int level);
void gb_logger(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gb_logger_error(...) gb_logger(GB_LOGGER_ERROR, __VA_ARGS__)
#define gb_logger_warn(...) gb_logger(GB_LOGGER_WARN, __VA_ARGS__)
#define gb_logger_info(...) gb_logger(GB_LOGGER_INFO, __VA_ARGS__)
#define gb_logger_debug(...)                                                                                           \
    do {                                                                                                               \
        if (gb_logger_level >= GB_LOGGER_DEBUG)                                                                        \
            gb_logger(GB_LOGGER_DEBUG, __VA_ARGS__);                                                                   \
    } while (0)

/*
 * Rate-limited lines, for a warning that an outside event can repeat
 * thousands of times a second (accept failing with EMFILE, a full disk
 * failing every append): one limiter per call site lets its first line
 * through, then at most one line per interval; the next line that passes
 * ends with "(N similar lines suppressed)". Usage:
 *
 *     GB_LOG_RATELIMITED(GB_LOGGER_WARN, 10000, "append to %s failed: %s", name, msg);
 *
 * The macro declares a static gb_logger_limit at the call site, so every
 * call of that line shares one budget whatever its arguments. Safe from
 * any thread (a mutex guards the limiters). A line dropped by the level
 * (gb_logger_level) is not counted.
 */
typedef struct gb_logger_limit {
    uint64_t next_ms;    /* CLOCK_MONOTONIC ms before which lines are suppressed; 0: none yet */
    uint64_t suppressed; /* lines suppressed since the last one written */
} gb_logger_limit;

/* The decision alone, on a clock the caller gives (unit tests): true if a
 * line at now_ms may be written, then *suppressed is how many were dropped
 * since the last one (and the count restarts); false counts one more. Not
 * locked: gb_logger_limited holds the lock around it. */
bool gb_logger_limit_pass(gb_logger_limit *lim, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed);

/* Log through lim (see above); returns whether the line was written. */
bool gb_logger_limited(gb_logger_limit *lim, int level, uint64_t interval_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define GB_LOG_RATELIMITED(level, interval_ms, ...)                                                                    \
    do {                                                                                                               \
        static gb_logger_limit gb__log_limit_;                                                                         \
        gb_logger_limited(&gb__log_limit_, (level), (interval_ms), __VA_ARGS__);                                       \
    } while (0)

#endif
