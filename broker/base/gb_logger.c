#include "broker/base/gb_logger.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int gb_logger_level = GB_LOGGER_INFO;

static const char *const gb__level_names[] = {"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
#define GB__NLEVELS 6

void gb_logger_init_from_env(void)
{
    const char *s = getenv("GREGOR_LOG_LEVEL");
    if (!s)
        return;
    for (int i = 0; i < GB__NLEVELS; i++)
        if (strcasecmp(s, gb__level_names[i]) == 0)
            gb_logger_level = i;
}

int gb_logger_level_find(const char *name)
{
    for (int i = 0; name && i < GB__NLEVELS; i++)
        if (strcmp(name, gb__level_names[i]) == 0)
            return i;
    return -1;
}

const char *gb_logger_level_name(int level)
{
    return level >= 0 && level < GB__NLEVELS ? gb__level_names[level] : "INFO";
}

/* Format one line (timestamp, level, message, suffix) and write it with
 * one fwrite, so that lines from threads do not interleave. */
static void gb__logger_write(int level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000, gb__level_names[level]);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m < 0)
        return;
    n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    if (suffix) {
        m = snprintf(line + n, sizeof line - n - 1, "%s", suffix);
        n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    }
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

void gb_logger(int level, const char *fmt, ...)
{
    if (level > gb_logger_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    gb__logger_write(level, NULL, fmt, ap);
    va_end(ap);
}

bool gb_logger_limit_pass(gb_logger_limit *lim, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed)
{
    if (lim->next_ms != 0 && now_ms < lim->next_ms) {
        lim->suppressed++;
        return false;
    }
    *suppressed = lim->suppressed;
    lim->suppressed = 0;
    lim->next_ms = now_ms + (interval_ms ? interval_ms : 1);
    return true;
}

static pthread_mutex_t gb__limit_lock = PTHREAD_MUTEX_INITIALIZER;

bool gb_logger_limited(gb_logger_limit *lim, int level, uint64_t interval_ms, const char *fmt, ...)
{
    if (level > gb_logger_level)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1; /* never 0 */
    uint64_t suppressed = 0;
    pthread_mutex_lock(&gb__limit_lock);
    bool pass = gb_logger_limit_pass(lim, now, interval_ms, &suppressed);
    pthread_mutex_unlock(&gb__limit_lock);
    if (!pass)
        return false;
    char suffix[64];
    if (suppressed)
        snprintf(suffix, sizeof suffix, " (%llu similar lines suppressed)", (unsigned long long)suppressed);
    va_list ap;
    va_start(ap, fmt);
    gb__logger_write(level, suppressed ? suffix : NULL, fmt, ap);
    va_end(ap);
    return true;
}
