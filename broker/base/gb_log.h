/*
 * The broker's log: one line per event on stderr, with a UTC timestamp and a
 * level. Only broker/ logs; storage/, protocol/ and config/ return errors and
 * the broker decides what to say.
 */
#ifndef GB_LOG_H
#define GB_LOG_H

enum { GB_LOG_ERROR, GB_LOG_WARN, GB_LOG_INFO, GB_LOG_DEBUG };

/* Lines above this level are dropped (GREGOR_LOG_LEVEL=debug|info|warn|error). */
extern int gb_log_level;

void gb_log_init_from_env(void);
void gb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gb_log_error(...) gb_log(GB_LOG_ERROR, __VA_ARGS__)
#define gb_log_warn(...) gb_log(GB_LOG_WARN, __VA_ARGS__)
#define gb_log_info(...) gb_log(GB_LOG_INFO, __VA_ARGS__)
#define gb_log_debug(...)                                                                                              \
    do {                                                                                                               \
        if (gb_log_level >= GB_LOG_DEBUG)                                                                              \
            gb_log(GB_LOG_DEBUG, __VA_ARGS__);                                                                         \
    } while (0)

#endif
