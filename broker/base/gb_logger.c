#include "broker/base/gb_logger.h"

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

void gb_logger(int level, const char *fmt, ...)
{
    if (level > gb_logger_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000, gb__level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}
