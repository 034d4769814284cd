/*
 * The broker's log: one line per event on stderr, with a UTC timestamp and a
 * level. Only broker/ logs; storage/, protocol/ and config/ return errors and
 * the broker decides what to say.
 */
#ifndef GB_LOGGER_H
#define GB_LOGGER_H

enum { GB_LOGGER_ERROR, GB_LOGGER_WARN, GB_LOGGER_INFO, GB_LOGGER_DEBUG };

/* Lines above this level are dropped (GREGOR_LOG_LEVEL=debug|info|warn|error). */
extern int gb_logger_level;

void gb_logger_init_from_env(void);
void gb_logger(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gb_logger_error(...) gb_logger(GB_LOGGER_ERROR, __VA_ARGS__)
#define gb_logger_warn(...) gb_logger(GB_LOGGER_WARN, __VA_ARGS__)
#define gb_logger_info(...) gb_logger(GB_LOGGER_INFO, __VA_ARGS__)
#define gb_logger_debug(...)                                                                                           \
    do {                                                                                                               \
        if (gb_logger_level >= GB_LOGGER_DEBUG)                                                                        \
            gb_logger(GB_LOGGER_DEBUG, __VA_ARGS__);                                                                   \
    } while (0)

#endif
