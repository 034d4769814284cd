#include "config/gc_config.h"
#include "config/gc_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/gu_common.h"

/*
 * The key table, expanded from gc_keys.def. The public part (gc_key_info)
 * comes first so that gc_config_key() can hand out a pointer into it; the
 * rest tells the generic code where the field is and what a value must be.
 */
typedef struct gc__key {
    gc_key_info info;
    int type;            /* GC_T_* */
    size_t offset;       /* of the field in gc_config */
    int64_t min, max;    /* numbers only */
    const char *choices; /* ", "-separated allowed values, or NULL */
} gc__key;

static const gc__key gc__keys[GC_KEY_COUNT] = {
#define GC_KEY(field, name, type, def, lo, hi, choices, flags, doc)                                                    \
    {{name, GC__TNAME_##type, def, doc, flags}, GC_T_##type, offsetof(gc_config, field), lo, hi, choices},
#include "config/gc_keys.def"
#undef GC_KEY
};

static const gc__table gc__ktable = {
    gc__keys, sizeof gc__keys[0], GC_KEY_COUNT, offsetof(gc__key, type), offsetof(gc__key, offset),
};

/* The range each number type can hold, and what to call it in an error. */
static const struct {
    int64_t lo, hi;
    const char *what;
} gc__num[] = {
    [GC_T_INT] = {INT32_MIN, INT32_MAX, "a 32-bit integer"},
    [GC_T_LONG] = {INT64_MIN, INT64_MAX, "a 64-bit integer"},
    [GC_T_SHORT] = {INT16_MIN, INT16_MAX, "a 16-bit integer"},
};

/* Variables of the apache/kafka image that are not configuration keys. */
static const char *const gc__env_skip[] = {
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JMX_PORT",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_VERSION",
    "KAFKA_HOME",
    "KAFKA_DEBUG",
};

#define GC__COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The state of one gc_config_load() call. For each key it remembers where
 * the current value came from, so that a check made after everything is
 * loaded can still say "path:line" or which variable to fix.
 */
typedef struct gc__loader {
    gc_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int line[GC_KEY_COUNT];        /* file line, when the source is the file */
    const char *env[GC_KEY_COUNT]; /* "KAFKA_X=v", when the source is the environment */
} gc__loader;

/* A growable byte buffer for the logical lines of the properties file. */
typedef struct gc__buf {
    char *p;
    size_t len, cap;
} gc__buf;

char *gc__strndup(const char *s, size_t n)
{
    char *p = gu_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void gc__buf_add(gc__buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = gu_realloc(b->p, cap);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Java's String.trim(): every byte up to and including ' ' is whitespace. */
void gc__trim(const char **b, const char **e)
{
    while (*b < *e && (unsigned char)**b <= ' ')
        (*b)++;
    while (*e > *b && (unsigned char)(*e)[-1] <= ' ')
        (*e)--;
}

/* Whitespace as java.util.Properties sees it. */
static bool gc__is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int gc__fail(gc__loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gc__fail(gc__loader *ld, const char *fmt, ...)
{
    if (ld->err && ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int gc__why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gc__why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int gc__find(const char *name, size_t len)
{
    return gc__table_find(&gc__ktable, name, len);
}

/* Whether s[0..len) is one of the ", "-separated words in choices. */
static bool gc__in(const char *choices, const char *s, size_t len)
{
    const char *p = choices;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *b = p, *e = comma ? comma : p + strlen(p);
        gc__trim(&b, &e);
        if ((size_t)(e - b) == len && memcmp(b, s, len) == 0)
            return true;
        if (!comma)
            return false;
        p = comma + 1;
    }
}

/* Parse like Java's Long.parseLong, then check the type's range and the
 * key's bounds. */
static int gc__parse_num(const gc__spec *k, const char *s, int64_t *out, char *why, size_t wlen)
{
    const char *p = s;
    bool neg = false, over = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return gc__why(why, wlen, "not an integer");
    uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return gc__why(why, wlen, "not an integer");
        unsigned d = (unsigned)(*p - '0');
        if (mag > (limit - d) / 10)
            over = true;
        else
            mag = mag * 10 + d;
    }
    int64_t n = neg && mag ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    if (over || n < gc__num[k->type].lo || n > gc__num[k->type].hi)
        return gc__why(why, wlen, "not %s", gc__num[k->type].what);
    if (n < k->min)
        return gc__why(why, wlen, "must be at least %" PRId64, k->min);
    if (n > k->max)
        return gc__why(why, wlen, "must be at most %" PRId64, k->max);
    *out = n;
    return 0;
}

/* A list becomes its trimmed, non-empty items joined by ','. */
static int gc__parse_list(const gc__spec *k, const char *s, char **out, char *why, size_t wlen)
{
    char *list = gu_malloc(strlen(s) + 1);
    size_t n = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        const char *b = p, *e = comma ? comma : p + strlen(p);
        gc__trim(&b, &e);
        if (b < e) {
            if (k->choices && !gc__in(k->choices, b, (size_t)(e - b))) {
                free(list);
                return gc__why(why, wlen, "each item must be one of %s", k->choices);
            }
            if (n)
                list[n++] = ',';
            memcpy(list + n, b, (size_t)(e - b));
            n += (size_t)(e - b);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    list[n] = '\0';
    *out = list;
    return 0;
}

/* Parse like Java's Double.parseDouble (but refusing NaN and infinities),
 * then check the key's bounds. */
static int gc__parse_double(const gc__spec *k, const char *s, double *out, char *why, size_t wlen)
{
    char *end;
    double d = strtod(s, &end);
    if (!*s || *end || !isfinite(d))
        return gc__why(why, wlen, "not a number");
    if (k->min != GC_NOMIN && d < (double)k->min)
        return gc__why(why, wlen, "must be at least %" PRId64, k->min);
    if (k->max != GC_NOMAX && d > (double)k->max)
        return gc__why(why, wlen, "must be at most %" PRId64, k->max);
    *out = d;
    return 0;
}

/* Turn a trimmed value into v, or explain in why what is wrong with it. */
int gc__parse(const gc__spec *k, const char *s, gc__val *v, char *why, size_t wlen)
{
    switch (k->type) {
    case GC_T_BOOL:
        if (strcasecmp(s, "true") != 0 && strcasecmp(s, "false") != 0)
            return gc__why(why, wlen, "must be true or false");
        v->b = strcasecmp(s, "true") == 0;
        return 0;
    case GC_T_STRING:
        if (k->choices && !gc__in(k->choices, s, strlen(s)))
            return gc__why(why, wlen, "must be one of %s", k->choices);
        v->s = gc__strndup(s, strlen(s));
        return 0;
    case GC_T_LIST:
        return gc__parse_list(k, s, &v->s, why, wlen);
    case GC_T_DOUBLE:
        return gc__parse_double(k, s, &v->d, why, wlen);
    default:
        return gc__parse_num(k, s, &v->n, why, wlen);
    }
}

/*
 * Java's Double.toString(): the shortest digits that read back as d, in
 * plain notation when 1e-3 <= |d| < 1e7 and as d.dddE<n> otherwise, always
 * with a digit after the point. DescribeConfigs shows doubles this way.
 */
const char *gc__double_text(double d, char *buf, size_t len)
{
    if (d == 0) {
        snprintf(buf, len, "%s", signbit(d) ? "-0.0" : "0.0");
        return buf;
    }
    char sci[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    /* sci is [-]D[.DDD]e<exp>: gather the digits and the exponent. */
    char digits[24];
    size_t nd = 0;
    const char *p = sci + (sci[0] == '-');
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = atoi(p + 1);
    char out[48], *o = out;
    if (d < 0)
        *o++ = '-';
    double mag = d < 0 ? -d : d;
    if (mag >= 1e-3 && mag < 1e7) {
        /* Plain: the point goes after digit exp (exp is -3 to 6). */
        if (exp < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int z = -1; z > exp; z--)
                *o++ = '0';
        }
        for (int k = 0; k <= exp || k < (int)nd; k++) {
            *o++ = k < (int)nd ? digits[k] : '0';
            if (k == exp)
                *o++ = '.';
        }
        if (o[-1] == '.')
            *o++ = '0';
        *o = '\0';
        snprintf(buf, len, "%s", out);
    } else {
        *o = '\0';
        snprintf(buf, len, "%s%c.%sE%d", out, digits[0], nd > 1 ? digits + 1 : "0", exp);
    }
    return buf;
}

static void *gc__field(const gc_config *cfg, size_t i)
{
    return (char *)cfg + gc__keys[i].offset;
}

/* Store *v (owned by cfg from now on) in key i's field; NULL v stores null. */
static void gc__store(gc_config *cfg, size_t i, const gc__val *v)
{
    gc__field_store(gc__keys[i].type, gc__field(cfg, i), v);
    cfg->isnull[i] = !v;
}

/* Where a value came from, for messages: "path:12", "environment variable
 * KAFKA_X", "--override" or "default". */
static const char *gc__where(const gc__loader *ld, int src, int line, const char *env, char *buf, size_t len)
{
    switch (src) {
    case GC_SRC_FILE:
        snprintf(buf, len, "%s:%d", ld->path, line);
        break;
    case GC_SRC_ENV:
        snprintf(buf, len, "environment variable %.*s", (int)strcspn(env, "="), env);
        break;
    case GC_SRC_OVERRIDE:
        snprintf(buf, len, "--override");
        break;
    default:
        snprintf(buf, len, "default");
        break;
    }
    return buf;
}

static const char *gc__origin(const gc__loader *ld, size_t i, char *buf, size_t len)
{
    return gc__where(ld, ld->cfg->source[i], ld->line[i], ld->env[i], buf, len);
}

/*
 * Set key i from the text of one source. Every value goes through here,
 * defaults included, so a default that does not parse is caught by the
 * first load.
 */
static int gc__set(gc__loader *ld, size_t i, const char *text, int src, int line, const char *env)
{
    const char *b = text, *e = text + strlen(text);
    gc__trim(&b, &e);
    char *s = gc__strndup(b, (size_t)(e - b));
    char why[256], where[512];
    gc__val v = {0};
    const gc__key *k = &gc__keys[i];
    gc__spec spec = {k->type, k->min, k->max, k->choices};
    int rc = gc__parse(&spec, s, &v, why, sizeof why);
    if (rc < 0) {
        gc__fail(ld, "%s: invalid value '%s' for '%s': %s", gc__where(ld, src, line, env, where, sizeof where), s,
                 gc__keys[i].info.name, why);
    } else {
        gc__store(ld->cfg, i, &v);
        ld->cfg->source[i] = (uint8_t)src;
        ld->line[i] = line;
        ld->env[i] = env;
    }
    free(s);
    return rc;
}

static int gc__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undo java.util.Properties escapes: \t \n \r \f \uXXXX (written as UTF-8)
 * and \c for any other c. NULL for a malformed or NUL \u. */
static char *gc__unescape(const char *s, size_t len)
{
    char *out = gu_malloc(len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        if (++i == len)
            break;
        switch (s[i]) {
        case 't':
            *o++ = '\t';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            unsigned cp = 0;
            for (int j = 1; j <= 4; j++) {
                int d = i + j < len ? gc__hex(s[i + j]) : -1;
                if (d < 0) {
                    free(out);
                    return NULL;
                }
                cp = cp * 16 + (unsigned)d;
            }
            i += 4;
            if (cp == 0) {
                free(out);
                return NULL;
            } else if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            *o++ = s[i];
            break;
        }
    }
    *o = '\0';
    return out;
}

/*
 * One logical line of the file, continuations joined: the key runs to the
 * first unescaped '=', ':' or whitespace; then whitespace, at most one '='
 * or ':', and whitespace again come before the value.
 */
static int gc__file_entry(gc__loader *ld, int line, const char *s, size_t len)
{
    size_t k = 0;
    while (k < len && s[k] != '=' && s[k] != ':' && !gc__is_ws(s[k]))
        k += s[k] == '\\' && k + 1 < len ? 2u : 1u;
    size_t v = k;
    while (v < len && gc__is_ws(s[v]))
        v++;
    if (v < len && (s[v] == '=' || s[v] == ':'))
        v++;
    while (v < len && gc__is_ws(s[v]))
        v++;

    char *key = gc__unescape(s, k), *val = gc__unescape(s + v, len - v);
    int rc, i = key ? gc__find(key, strlen(key)) : -1;
    if (!key || !val)
        rc = gc__fail(ld, "%s:%d: malformed \\uxxxx escape", ld->path, line);
    else if (i < 0)
        rc = gc__fail(ld, "%s:%d: unknown configuration key '%s'", ld->path, line, key);
    else
        rc = gc__set(ld, (size_t)i, val, GC_SRC_FILE, line, NULL);
    free(key);
    free(val);
    return rc;
}

/* The natural line at *pos, without its terminator (\n, \r or \r\n) and
 * leading whitespace, as [*b, *e); *pos moves to the next line. */
static void gc__next_line(const char *t, size_t n, size_t *pos, size_t *b, size_t *e)
{
    size_t p = *pos;
    while (p < n && t[p] != '\n' && t[p] != '\r')
        p++;
    *b = *pos;
    *e = p;
    while (*b < *e && gc__is_ws(t[*b]))
        (*b)++;
    if (p < n && t[p] == '\r' && p + 1 < n && t[p + 1] == '\n')
        p++;
    *pos = p < n ? p + 1 : p;
}

static char *gc__read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    gc__buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        gc__buf_add(&b, chunk, n);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(b.p);
        errno = e;
        return NULL;
    }
    fclose(f);
    if (!b.p)
        gc__buf_add(&b, "", 0);
    *len = b.len;
    return b.p;
}

/*
 * Read a file in java.util.Properties syntax. Blank lines and lines whose
 * first non-blank character is '#' or '!' are skipped; a line ending in an
 * odd number of backslashes continues on the next one, whose leading
 * whitespace is dropped. Each entry is applied as it is read, so a key
 * given twice ends with the last value.
 */
static int gc__load_file(gc__loader *ld)
{
    size_t n, pos = 0, b, e;
    char *text = gc__read_file(ld->path, &n);
    if (!text)
        return gc__fail(ld, "%s: %s", ld->path, strerror(errno));
    gc__buf line = {0};
    int lineno = 0, rc = 0;
    while (rc == 0 && pos < n) {
        gc__next_line(text, n, &pos, &b, &e);
        int start = ++lineno;
        if (b == e || text[b] == '#' || text[b] == '!')
            continue;
        line.len = 0;
        for (;;) {
            size_t bs = 0;
            while (bs < e - b && text[e - 1 - bs] == '\\')
                bs++;
            gc__buf_add(&line, text + b, e - b - bs % 2);
            if (bs % 2 == 0 || pos >= n)
                break;
            gc__next_line(text, n, &pos, &b, &e);
            lineno++;
        }
        rc = gc__file_entry(ld, start, line.p, line.len);
    }
    free(line.p);
    free(text);
    return rc;
}

/* KAFKA_FOO_BAR__BAZ___QUX becomes foo.bar_baz-qux, as the apache/kafka
 * image maps its environment to server.properties. */
static char *gc__env_key(const char *s, size_t len)
{
    char *key = gu_malloc(len + 1), *o = key;
    for (size_t i = 0; i < len;) {
        if (s[i] != '_') {
            char c = s[i++];
            *o++ = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        } else if (i + 2 < len && s[i + 1] == '_' && s[i + 2] == '_') {
            *o++ = '-';
            i += 3;
        } else if (i + 1 < len && s[i + 1] == '_') {
            *o++ = '_';
            i += 2;
        } else {
            *o++ = '.';
            i++;
        }
    }
    *o = '\0';
    return key;
}

static int gc__load_env(gc__loader *ld, char *const *envp, gc_warn_fn warn, void *ud)
{
    for (char *const *ep = envp; ep && *ep; ep++) {
        const char *var = *ep, *eq = strchr(var, '=');
        if (!eq || strncmp(var, "KAFKA_", 6) != 0)
            continue;
        size_t nlen = (size_t)(eq - var);
        bool skip = false;
        for (size_t j = 0; j < GC__COUNT(gc__env_skip) && !skip; j++)
            skip = strlen(gc__env_skip[j]) == nlen && memcmp(gc__env_skip[j], var, nlen) == 0;
        if (skip)
            continue;
        char *key = gc__env_key(var + 6, nlen - 6);
        int i = gc__find(key, strlen(key));
        if (i < 0 && warn) {
            char msg[512];
            snprintf(msg, sizeof msg, "ignoring environment variable %.*s: unknown configuration key '%s'", (int)nlen,
                     var, key);
            warn(ud, msg);
        }
        free(key);
        if (i >= 0 && gc__set(ld, (size_t)i, eq + 1, GC_SRC_ENV, 0, var) < 0)
            return -EINVAL;
    }
    return 0;
}

static int gc__load_overrides(gc__loader *ld, int n, char *const *overrides)
{
    for (int j = 0; j < n; j++) {
        const char *o = overrides[j], *eq = strchr(o, '=');
        if (!eq)
            return gc__fail(ld, "--override '%s': expected key=value", o);
        const char *b = o, *e = eq;
        gc__trim(&b, &e);
        int i = gc__find(b, (size_t)(e - b));
        if (i < 0)
            return gc__fail(ld, "--override: unknown configuration key '%.*s'", (int)(e - b), b);
        if (gc__set(ld, (size_t)i, eq + 1, GC_SRC_OVERRIDE, 0, NULL) < 0)
            return -EINVAL;
    }
    return 0;
}

/* Give key dst the value and origin of src (both int32). */
static void gc__copy_int(gc__loader *ld, size_t dst, size_t src)
{
    *(int32_t *)gc__field(ld->cfg, dst) = *(int32_t *)gc__field(ld->cfg, src);
    ld->cfg->isnull[dst] = false;
    ld->cfg->source[dst] = ld->cfg->source[src];
    ld->line[dst] = ld->line[src];
    ld->env[dst] = ld->env[src];
}

/*
 * Checks that involve more than one key, or that a single node adds to
 * Kafka's own, made once every source has been read.
 */
static int gc__check(gc__loader *ld)
{
    gc_config *cfg = ld->cfg;
    char a[512], b[512];

    /* broker.id is node.id's older name: setting either sets both. */
    bool bset = cfg->source[GC_K_broker_id] != GC_SRC_DEFAULT;
    bool nset = cfg->source[GC_K_node_id] != GC_SRC_DEFAULT;
    if (bset && nset && cfg->broker_id != cfg->node_id)
        return gc__fail(ld,
                        "%s: broker.id %" PRId32 " differs from node.id %" PRId32
                        " (%s); they are synonyms: set one, or both to the same value",
                        gc__origin(ld, GC_K_broker_id, a, sizeof a), cfg->broker_id, cfg->node_id,
                        gc__origin(ld, GC_K_node_id, b, sizeof b));
    if (bset)
        gc__copy_int(ld, GC_K_node_id, GC_K_broker_id);
    else
        gc__copy_int(ld, GC_K_broker_id, GC_K_node_id);

    if (cfg->log_dirs) {
        size_t n = cfg->log_dirs[0] != '\0';
        for (const char *p = cfg->log_dirs; *p; p++)
            n += *p == ',';
        if (n != 1)
            return gc__fail(ld, "%s: log.dirs %s '%s', but Gregor stores its data in one directory",
                            gc__origin(ld, GC_K_log_dirs, a, sizeof a), n ? "lists several directories" : "is empty",
                            cfg->log_dirs);
    } else if (!cfg->log_dir || !cfg->log_dir[0]) {
        return gc__fail(ld, "%s: log.dir is empty", gc__origin(ld, GC_K_log_dir, a, sizeof a));
    }

    if (cfg->default_replication_factor != 1)
        return gc__fail(ld,
                        "%s: invalid value '%" PRId16
                        "' for 'default.replication.factor': a single node has one replica, so it must be 1",
                        gc__origin(ld, GC_K_default_replication_factor, a, sizeof a), cfg->default_replication_factor);

    if (cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms)
        return gc__fail(ld,
                        "%s: group.min.session.timeout.ms %" PRId32
                        " is greater than group.max.session.timeout.ms %" PRId32 " (%s)",
                        gc__origin(ld, GC_K_group_min_session_timeout_ms, a, sizeof a),
                        cfg->group_min_session_timeout_ms, cfg->group_max_session_timeout_ms,
                        gc__origin(ld, GC_K_group_max_session_timeout_ms, b, sizeof b));
    return 0;
}

int gc_config_load(gc_config *cfg, const char *path, char *const *envp, int noverrides, char *const *overrides,
                   gc_warn_fn warn, void *ud, char *err, size_t errlen)
{
    gc__loader ld = {.cfg = cfg, .path = path, .err = err, .errlen = errlen};
    int rc = 0;
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = '\0';
    for (size_t i = 0; i < GC_KEY_COUNT && rc == 0; i++) {
        if (gc__keys[i].info.default_text)
            rc = gc__set(&ld, i, gc__keys[i].info.default_text, GC_SRC_DEFAULT, 0, NULL);
        else
            gc__store(cfg, i, NULL);
    }
    if (rc == 0 && path)
        rc = gc__load_file(&ld);
    if (rc == 0)
        rc = gc__load_env(&ld, envp, warn, ud);
    if (rc == 0)
        rc = gc__load_overrides(&ld, noverrides, overrides);
    if (rc == 0)
        rc = gc__check(&ld);
    if (rc < 0) {
        gc_config_free(cfg);
        return -1;
    }
    return 0;
}

bool gc__type_owns(int type)
{
    return type == GC_T_STRING || type == GC_T_LIST;
}

void gc__field_free(int type, void *field)
{
    if (gc__type_owns(type))
        free(*(char **)field);
}

void gc__field_store(int type, void *f, const gc__val *v)
{
    switch (type) {
    case GC_T_INT:
        *(int32_t *)f = v ? (int32_t)v->n : 0;
        break;
    case GC_T_LONG:
        *(int64_t *)f = v ? v->n : 0;
        break;
    case GC_T_SHORT:
        *(int16_t *)f = v ? (int16_t)v->n : 0;
        break;
    case GC_T_BOOL:
        *(bool *)f = v ? v->b : false;
        break;
    case GC_T_DOUBLE:
        *(double *)f = v ? v->d : 0;
        break;
    default:
        free(*(char **)f);
        *(char **)f = v ? v->s : NULL;
        break;
    }
}

const char *gc__field_text(int type, const void *f, char *buf, size_t len)
{
    switch (type) {
    case GC_T_INT:
        snprintf(buf, len, "%" PRId32, *(const int32_t *)f);
        break;
    case GC_T_LONG:
        snprintf(buf, len, "%" PRId64, *(const int64_t *)f);
        break;
    case GC_T_SHORT:
        snprintf(buf, len, "%d", *(const int16_t *)f);
        break;
    case GC_T_BOOL:
        snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
        break;
    case GC_T_DOUBLE:
        gc__double_text(*(const double *)f, buf, len);
        break;
    default: /* STRING, LIST */
        snprintf(buf, len, "%s", *(char *const *)f);
        break;
    }
    return buf;
}

/* ---- the key tables, generically (gc__table) ---- */

static const char *gc__table_entry(const gc__table *t, size_t i)
{
    return (const char *)t->first + i * t->size;
}

const void *gc__table_info(const gc__table *t, size_t i)
{
    return i < t->count ? gc__table_entry(t, i) : NULL;
}

int gc__table_find(const gc__table *t, const char *name, size_t len)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < t->count; i++) {
        /* The info comes first in an entry and the name first in the info. */
        const char *k = *(const char *const *)gc__table_entry(t, i);
        if (strlen(k) == len && memcmp(k, name, len) == 0)
            return (int)i;
    }
    return -1;
}

void gc__table_free(const gc__table *t, void *cfg, size_t cfg_size)
{
    for (size_t i = 0; i < t->count; i++) {
        const char *e = gc__table_entry(t, i);
        int type;
        size_t offset;
        memcpy(&type, e + t->type_at, sizeof type);
        memcpy(&offset, e + t->offset_at, sizeof offset);
        gc__field_free(type, (char *)cfg + offset);
    }
    memset(cfg, 0, cfg_size);
}

/* gc_config_free(), gc_config_key_count(), gc_config_key() */
GC__TABLE_ACCESSORS(gc__ktable, gc_config, gc_key_info, gc_config_free, gc_config_key_count, gc_config_key)

const char *gc_config_value_text(const gc_config *cfg, size_t i, char *buf, size_t len)
{
    if (i >= GC_KEY_COUNT || cfg->isnull[i])
        return NULL;
    return gc__field_text(gc__keys[i].type, gc__field(cfg, i), buf, len);
}

int gc_config_value_source(const gc_config *cfg, size_t i)
{
    return i < GC_KEY_COUNT ? cfg->source[i] : GC_SRC_DEFAULT;
}

int gc_config_key_find(const char *name)
{
    return name ? gc__find(name, strlen(name)) : -1;
}

/* A copy of key i's field of src in dst's, as gc__val (strings duplicated). */
static gc__val gc__field_copy(const gc_config *src, size_t i)
{
    gc__val v = {0};
    const void *f = gc__field(src, i);
    switch (gc__keys[i].type) {
    case GC_T_INT:
        v.n = *(const int32_t *)f;
        break;
    case GC_T_LONG:
        v.n = *(const int64_t *)f;
        break;
    case GC_T_SHORT:
        v.n = *(const int16_t *)f;
        break;
    case GC_T_BOOL:
        v.b = *(const bool *)f;
        break;
    case GC_T_DOUBLE:
        v.d = *(const double *)f;
        break;
    default:
        v.s = *(char *const *)f ? gc__strndup(*(char *const *)f, strlen(*(char *const *)f)) : NULL;
        break;
    }
    return v;
}

void gc_config_copy(gc_config *dst, const gc_config *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < GC_KEY_COUNT; i++) {
        gc__val v = gc__field_copy(src, i);
        gc__field_store(gc__keys[i].type, gc__field(dst, i), &v);
        dst->isnull[i] = src->isnull[i];
        dst->source[i] = src->source[i];
    }
}

int gc_config_set_dynamic(gc_config *cfg, size_t i, const char *text, int src, char *why, size_t wlen)
{
    if (i >= GC_KEY_COUNT)
        return gc__why(why, wlen, "unknown key");
    const char *b = text, *e = text + strlen(text);
    gc__trim(&b, &e);
    char *s = gc__strndup(b, (size_t)(e - b));
    const gc__key *k = &gc__keys[i];
    gc__spec spec = {k->type, k->min, k->max, k->choices};
    gc__val v = {0};
    int rc = gc__parse(&spec, s, &v, why, wlen) < 0 ? -1 : 0;
    free(s);
    if (rc == 0) {
        gc__store(cfg, i, &v);
        cfg->source[i] = (uint8_t)src;
    }
    return rc;
}

void gc_config_take_changes(gc_config *dst, gc_config *src)
{
    char a[8192], b[8192];
    for (size_t i = 0; i < GC_KEY_COUNT; i++) {
        const char *x = gc_config_value_text(dst, i, a, sizeof a), *y = gc_config_value_text(src, i, b, sizeof b);
        bool same = (!x && !y) || (x && y && strcmp(x, y) == 0);
        if (same && dst->source[i] == src->source[i])
            continue;
        gc__val v = gc__field_copy(src, i);
        gc__field_store(gc__keys[i].type, gc__field(dst, i), &v);
        dst->isnull[i] = src->isnull[i];
        dst->source[i] = src->source[i];
    }
    gc_config_free(src);
}

const char *gc_config_log_dir(const gc_config *cfg)
{
    return cfg->log_dirs ? cfg->log_dirs : cfg->log_dir;
}

int64_t gc_config_retention_ms(const gc_config *cfg)
{
    int64_t ms;
    if (!cfg->isnull[GC_K_log_retention_ms])
        ms = cfg->log_retention_ms;
    else if (!cfg->isnull[GC_K_log_retention_minutes])
        ms = INT64_C(60000) * cfg->log_retention_minutes;
    else
        ms = INT64_C(3600000) * cfg->log_retention_hours;
    return ms < 0 ? -1 : ms;
}

int64_t gc_config_roll_ms(const gc_config *cfg)
{
    if (!cfg->isnull[GC_K_log_roll_ms])
        return cfg->log_roll_ms;
    return INT64_C(3600000) * cfg->log_roll_hours;
}

/* Valid values in Kafka's notation: [1,...], [0,...,10] or the choices. */
static const char *gc__valid_text(const gc__key *k, char *buf, size_t len)
{
    buf[0] = '\0';
    if (k->choices) {
        snprintf(buf, len, "%s", k->choices);
    } else if (k->type == GC_T_INT || k->type == GC_T_LONG || k->type == GC_T_SHORT) {
        bool lo = k->min > gc__num[k->type].lo, hi = k->max < gc__num[k->type].hi;
        if (lo && hi)
            snprintf(buf, len, "[%" PRId64 ",...,%" PRId64 "]", k->min, k->max);
        else if (lo)
            snprintf(buf, len, "[%" PRId64 ",...]", k->min);
        else if (hi)
            snprintf(buf, len, "[...,%" PRId64 "]", k->max);
    }
    return buf;
}

void gc_config_print_help(FILE *out)
{
    char valid[256];
    fprintf(
        out,
        "Configuration keys (Kafka's names; set with --override key=value, a properties file or KAFKA_* variables):\n");
    for (size_t i = 0; i < GC_KEY_COUNT; i++) {
        const gc__key *k = &gc__keys[i];
        const char *def = k->info.default_text;
        gc__valid_text(k, valid, sizeof valid);
        fprintf(out, "  %s (%s, default %s%s%s%s)\n      %s\n", k->info.name, k->info.type,
                !def     ? "null"
                : def[0] ? def
                         : "\"\"",
                valid[0] ? ", valid " : "", valid, k->info.flags & GC_F_IGNORED ? ", ignored" : "", k->info.doc);
    }
}

void gc_config_print_markdown(FILE *out)
{
    char valid[256];
    fputs("# Gregor configuration\n"
          "\n"
          "<!-- Generated by gc_config_print_markdown() from config/gc_keys.def; do not edit. -->\n"
          "\n"
          "Gregor reads Kafka's broker configuration keys, with Kafka's meaning and, except\n"
          "where noted, Kafka's defaults. Each value comes from the first of these that sets it:\n"
          "\n"
          "1. `--override key=value` on the command line;\n"
          "2. an environment variable named as the apache/kafka container image reads them:\n"
          "   `KAFKA_` and the key in upper case, with `.` written `_`, `_` written `__` and\n"
          "   `-` written `___` (`KAFKA_LOG_RETENTION_MS` sets `log.retention.ms`);\n"
          "3. the properties file, in Java's `.properties` syntax (`key=value`, `key:value` or\n"
          "   `key value`; `#` and `!` comments; a trailing `\\` continues a line; escapes\n"
          "   `\\t`, `\\n`, `\\r`, `\\f`, `\\\\` and `\\uXXXX`);\n"
          "4. the default below.\n"
          "\n"
          "An unknown key in the file or in an override is an error. An environment variable\n"
          "that names an unknown key is ignored with a warning, since the environment is shared\n"
          "with other programs. These variables of the image are not keys and are skipped:\n",
          out);
    for (size_t j = 0; j < GC__COUNT(gc__env_skip); j++)
        fprintf(out, "%s`%s`", j ? ", " : "", gc__env_skip[j]);
    fputs(".\n"
          "\n"
          "## Keys\n"
          "\n"
          "| Key | Type | Default | Valid values | Description |\n"
          "|-----|------|---------|--------------|-------------|\n",
          out);
    for (size_t i = 0; i < GC_KEY_COUNT; i++) {
        const gc__key *k = &gc__keys[i];
        if (k->info.flags & GC_F_IGNORED)
            continue;
        fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", k->info.name, k->info.type, k->info.default_text ? "`" : "",
                k->info.default_text ? k->info.default_text : "null", k->info.default_text ? "`" : "",
                gc__valid_text(k, valid, sizeof valid), k->info.doc);
    }
    fputs("\n"
          "## Accepted for compatibility\n"
          "\n"
          "These keys configure a Kafka cluster and mean nothing on a single node. Gregor accepts\n"
          "them with any value, so that Kafka's `server.properties` and the apache/kafka image's\n"
          "environment work unchanged, and ignores them.\n"
          "\n"
          "| Key | Kafka's default |\n"
          "|-----|-----------------|\n",
          out);
    for (size_t i = 0; i < GC_KEY_COUNT; i++) {
        const char *def = gc__keys[i].info.default_text;
        if (gc__keys[i].info.flags & GC_F_IGNORED)
            fprintf(out, "| `%s` | %s%s%s |\n", gc__keys[i].info.name, def ? "`" : "",
                    !def     ? "null"
                    : def[0] ? def
                             : "\"\"",
                    def ? "`" : "");
    }
}
