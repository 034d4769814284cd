/*
 * The client quota file (see gs_quotas.h).
 */
#include "storage/gs_quotas.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const gs_quota_type_names[GS_QUOTA_NTYPES] = {"user", "client-id", "ip"};

static void gs__append(char **text, size_t *len, const char *p, size_t n)
{
    char *t = realloc(*text, *len + n + 1);
    if (!t)
        abort();
    memcpy(t + *len, p, n);
    *len += n;
    t[*len] = '\0';
    *text = t;
}

static bool gs__plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

void gs_quotas_format(char **text, size_t *len, const gs_quota_line *line)
{
    bool first = true;
    char buf[64];
    for (int t = 0; t < GS_QUOTA_NTYPES; t++) {
        if (!line->has[t])
            continue;
        if (!first)
            gs__append(text, len, ",", 1);
        first = false;
        gs__append(text, len, gs_quota_type_names[t], strlen(gs_quota_type_names[t]));
        if (!line->name[t])
            continue;
        gs__append(text, len, ":", 1);
        for (const unsigned char *p = (const unsigned char *)line->name[t]; *p; p++) {
            if (gs__plain(*p)) {
                gs__append(text, len, (const char *)p, 1);
            } else {
                snprintf(buf, sizeof buf, "%%%02X", *p);
                gs__append(text, len, buf, 3);
            }
        }
    }
    gs__append(text, len, "/", 1);
    gs__append(text, len, line->key, strlen(line->key));
    int n = snprintf(buf, sizeof buf, "=%.17g\n", line->value);
    gs__append(text, len, buf, (size_t)n);
}

static int gs__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode %XX in place; -1 on a bad escape or an encoded NUL. */
static int gs__unescape(char *s)
{
    char *out = s;
    for (char *p = s; *p; p++) {
        if (*p != '%') {
            *out++ = *p;
            continue;
        }
        int hi = gs__hex(p[1]), lo = hi < 0 ? -1 : gs__hex(p[2]);
        if (lo < 0 || (hi == 0 && lo == 0))
            return -1;
        *out++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *out = '\0';
    return 0;
}

/* Parse "entity/key=value" in place. */
static int gs__parse(char *s, gs_quota_line *line)
{
    memset(line, 0, sizeof *line);
    char *slash = strchr(s, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    char *eq = strchr(slash + 1, '=');
    if (!eq || eq == slash + 1)
        return -1;
    *eq = '\0';
    line->key = slash + 1;
    char *end;
    errno = 0;
    line->value = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end)
        return -1;
    for (char *comp = s, *next; comp; comp = next) {
        next = strchr(comp, ',');
        if (next)
            *next++ = '\0';
        char *colon = strchr(comp, ':');
        if (colon)
            *colon = '\0';
        int t = 0;
        while (t < GS_QUOTA_NTYPES && strcmp(comp, gs_quota_type_names[t]) != 0)
            t++;
        if (t == GS_QUOTA_NTYPES || line->has[t])
            return -1;
        line->has[t] = true;
        if (colon) {
            if (gs__unescape(colon + 1) < 0 || !colon[1])
                return -1;
            line->name[t] = colon + 1;
        }
    }
    return 0;
}

int gs_quotas_read(const char *dir, int (*fn)(void *arg, const gs_quota_line *line), void *arg, char *err,
                   size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, GS_QUOTAS_FILE);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (n == 0 || buf[0] == '#')
            continue;
        gs_quota_line line;
        if (gs__parse(buf, &line) < 0) {
            snprintf(err, errlen, "%s:%d: cannot read this line", path, lineno);
            rc = -1;
        } else if (fn(arg, &line) < 0) {
            snprintf(err, errlen, "%s:%d: not a client quota", path, lineno);
            rc = -1;
        }
    }
    free(buf);
    fclose(f);
    return rc;
}
