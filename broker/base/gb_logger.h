/*
 * The broker's log: one line per event on stderr, with a UTC timestamp and a
 * level. Only broker/ logs; storage/, protocol/ and config/ return errors and
 * the broker decides what to say.
 */
#ifndef GB_LOGGER_H
#define GB_LOGGER_H

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

#endif
