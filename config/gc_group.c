#include "config/gc_group.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a value is checked beyond its type. */
enum { GC_GK_PLAIN, GC_GK_RESET, GC_GK_ISOLATION, GC_GK_ASSIGNOR, GC_GK_TAGS };

typedef struct gc_group_key_def {
    gc_group_key_info info;
    long at_least;              /* INT: the lower limit of the type check */
    const char *min_key, *max_key; /* INT: the broker keys that bound it, or NULL */
    int kind;
} gc_group_key_def;

#define GC_NOLIMIT LONG_MIN

/*
 * In the order Kafka's GroupConfig.validate checks the bounds (asked of
 * Kafka 4.4 with one request holding every out-of-bounds value): the
 * first failing key of this order is the one answered.
 */
static const gc_group_key_def gc__group_keys[] = {
    {{"consumer.heartbeat.interval.ms", "int", "group.consumer.heartbeat.interval.ms", NULL,
      "The heartbeat interval given to the members of a consumer group."},
     1, "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms", GC_GK_PLAIN},
    {{"consumer.session.timeout.ms", "int", "group.consumer.session.timeout.ms", NULL,
      "The timeout to detect client failures when using the consumer group protocol."},
     1, "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms", GC_GK_PLAIN},
    {{"consumer.assignment.interval.ms", "int", "group.consumer.assignment.interval.ms", NULL,
      "The interval between assignment updates for a consumer group."},
     0, "group.consumer.min.assignment.interval.ms", "group.consumer.max.assignment.interval.ms", GC_GK_PLAIN},
    {{"share.heartbeat.interval.ms", "int", "group.share.heartbeat.interval.ms", NULL,
      "The heartbeat interval given to the members of a share group."},
     1, "group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms", GC_GK_PLAIN},
    {{"share.session.timeout.ms", "int", "group.share.session.timeout.ms", NULL,
      "The timeout to detect client failures when using the share group protocol."},
     1, "group.share.min.session.timeout.ms", "group.share.max.session.timeout.ms", GC_GK_PLAIN},
    {{"share.record.lock.duration.ms", "int", "group.share.record.lock.duration.ms", NULL,
      "The record acquisition lock duration in milliseconds for share groups."},
     1000, "group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms", GC_GK_PLAIN},
    {{"share.delivery.count.limit", "int", "group.share.delivery.count.limit", NULL,
      "The maximum number of delivery attempts for a record delivered to a share group."},
     2, "group.share.min.delivery.count.limit", "group.share.max.delivery.count.limit", GC_GK_PLAIN},
    {{"share.partition.max.record.locks", "int", "group.share.partition.max.record.locks", NULL,
      "Share-group record lock limit per share-partition."},
     100, "group.share.min.partition.max.record.locks", "group.share.max.partition.max.record.locks", GC_GK_PLAIN},
    {{"share.assignment.interval.ms", "int", "group.share.assignment.interval.ms", NULL,
      "The interval between assignment updates for a share group."},
     0, "group.share.min.assignment.interval.ms", "group.share.max.assignment.interval.ms", GC_GK_PLAIN},
    {{"streams.heartbeat.interval.ms", "int", "group.streams.heartbeat.interval.ms", NULL,
      "The heartbeat interval given to the members."},
     1, "group.streams.min.heartbeat.interval.ms", "group.streams.max.heartbeat.interval.ms", GC_GK_PLAIN},
    {{"streams.session.timeout.ms", "int", "group.streams.session.timeout.ms", NULL,
      "The timeout to detect client failures when using the streams group protocol."},
     1, "group.streams.min.session.timeout.ms", "group.streams.max.session.timeout.ms", GC_GK_PLAIN},
    {{"streams.num.standby.replicas", "int", "group.streams.num.standby.replicas", NULL,
      "The number of standby replicas for each task."},
     0, NULL, "group.streams.max.standby.replicas", GC_GK_PLAIN},
    {{"streams.assignment.interval.ms", "int", "group.streams.assignment.interval.ms", NULL,
      "The interval between assignment updates for a streams group."},
     0, "group.streams.min.assignment.interval.ms", "group.streams.max.assignment.interval.ms", GC_GK_PLAIN},
    {{"streams.assignor.name", "string", "group.streams.assignors", NULL,
      "The task assignor to use for this streams group, selected by short name from the assignors registered via "
      "the broker configuration group.streams.assignors. When unset, the group defaults to the first assignor "
      "configured in the broker's group.streams.assignors setting. Changing the assignor does not trigger a "
      "rebalance for the group; the new assignor takes effect on the next rebalance."},
     GC_NOLIMIT, NULL, NULL, GC_GK_ASSIGNOR},
    {{"streams.initial.rebalance.delay.ms", "int", "group.streams.initial.rebalance.delay.ms", NULL,
      "The amount of time the group coordinator will wait for more streams clients to join a new group before "
      "performing the first rebalance. A longer delay means potentially fewer rebalances."},
     0, NULL, NULL, GC_GK_PLAIN},
    {{"streams.rack.aware.assignment.tags", "list", "group.streams.rack.aware.assignment.tags", NULL,
      "List of client tag keys used to distribute standby replicas across Kafka Streams instances. When "
      "configured, and the used broker-side assignor supports it, it will make a best-effort to distribute "
      "standby tasks over each client tag dimension."},
     GC_NOLIMIT, NULL, NULL, GC_GK_TAGS},
    {{"share.auto.offset.reset", "string", NULL, "latest",
      "The strategy to initialize the share-partition start offset. <ul><li>earliest: automatically reset the "
      "offset to the earliest offset</li><li>latest: automatically reset the offset to the latest "
      "offset</li><li>by_duration:&lt;duration&gt;: automatically reset the offset to a configured duration from "
      "the current timestamp. &lt;duration&gt; must be specified in ISO8601 format (PnDTnHnMn.nS). Negative "
      "duration is not allowed.</li><li>anything else: throw exception to the share consumer.</li></ul>"},
     GC_NOLIMIT, NULL, NULL, GC_GK_RESET},
    {{"share.isolation.level", "string", NULL, "read_uncommitted",
      "Controls how to read records written transactionally. If set to \"read_committed\", the share group will "
      "only deliver transactional records which have been committed. If set to \"read_uncommitted\", the share "
      "group will return all messages, even transactional messages which have been aborted. Non-transactional "
      "records will be returned unconditionally in either mode."},
     GC_NOLIMIT, NULL, NULL, GC_GK_ISOLATION},
    {{"share.renew.acknowledge.enable", "boolean", NULL, "true",
      "Whether the renew acknowledge type is enabled for the share group."},
     GC_NOLIMIT, NULL, NULL, GC_GK_PLAIN},
    {{"errors.deadletterqueue.topic.name", "string", NULL, "",
      "The name of the topic to be used as the dead-letter queue (DLQ) topic for this share group. If blank (the "
      "default), the group does not have a DLQ topic."},
     GC_NOLIMIT, NULL, NULL, GC_GK_PLAIN},
    {{"errors.deadletterqueue.copy.record.enable", "boolean", NULL, "false",
      "When writing onto the dead-letter queue topic, whether to copy the original record onto the DLQ topic, or "
      "just write a record containing the context information headers."},
     GC_NOLIMIT, NULL, NULL, GC_GK_PLAIN},
};

#define GC_GROUP_KEYS (sizeof gc__group_keys / sizeof gc__group_keys[0])

size_t gc_group_key_count(void)
{
    return GC_GROUP_KEYS;
}

const gc_group_key_info *gc_group_key(size_t i)
{
    return i < GC_GROUP_KEYS ? &gc__group_keys[i].info : NULL;
}

int gc_group_key_find(const char *name)
{
    for (size_t i = 0; i < GC_GROUP_KEYS; i++)
        if (strcmp(gc__group_keys[i].info.name, name) == 0)
            return (int)i;
    return -1;
}

/* value without leading and trailing whitespace, as Kafka's ConfigDef
 * trims every value before parsing it. */
static void gc__trim(const char *value, const char **b, size_t *n)
{
    const char *s = value, *e = value + strlen(value);
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *b = s;
    *n = (size_t)(e - s);
}

/* A Java int (Integer.parseInt of the trimmed text). */
static bool gc__parse_int(const char *value, long *out)
{
    const char *b;
    size_t n;
    gc__trim(value, &b, &n);
    char tmp[32];
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    const char *d = tmp + (tmp[0] == '-' || tmp[0] == '+');
    if (!*d)
        return false;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    long v = strtol(tmp, NULL, 10);
    if (errno || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = v;
    return true;
}

static int gc__parse_bool(const char *value)
{
    const char *b;
    size_t n;
    gc__trim(value, &b, &n);
    if (n == 4 && strncasecmp(b, "true", 4) == 0)
        return 1;
    if (n == 5 && strncasecmp(b, "false", 5) == 0)
        return 0;
    return -1;
}

/* Digits, then one of the units in order: the d..s parts of an ISO-8601
 * duration as Java's Duration.parse takes them, '+' signs allowed and '-'
 * refused (Kafka refuses a negative duration). */
static bool gc__iso_duration(const char *s)
{
    s += *s == '+';
    if (*s != 'P' && *s != 'p')
        return false;
    s++;
    bool any = false, time = false;
    const char *units = "DHMS";
    size_t at = 0;
    while (*s) {
        if ((*s == 'T' || *s == 't') && !time) {
            time = true;
            if (at < 1)
                at = 1;
            s++;
            if (!*s)
                return false;
            continue;
        }
        s += *s == '+';
        const char *d = s;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == d)
            return false;
        bool frac = false;
        if (*s == '.' || *s == ',') {
            frac = true;
            s++;
            const char *f = s;
            while (*s >= '0' && *s <= '9')
                s++;
            if (s - f > 9)
                return false;
        }
        char u = (char)toupper((unsigned char)*s);
        const char *pos = strchr(units, u);
        if (!u || !pos || (size_t)(pos - units) < at || (frac && u != 'S') || ((u == 'D') == time))
            return false;
        at = (size_t)(pos - units) + 1;
        any = true;
        s++;
    }
    return any;
}

/* Whether name is one of the items of the comma-separated list. */
static bool gc__list_has(const char *list, const char *name, size_t nlen)
{
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, ",");
        const char *b = p, *e = p + l;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if ((size_t)(e - b) == nlen && memcmp(b, name, nlen) == 0)
            return true;
        p += l + (p[l] == ',');
    }
    return false;
}

static long gc__broker_int(const gc_config *cfg, const char *key)
{
    char buf[64];
    int k = gc_config_key_find(key);
    const char *t = k < 0 ? NULL : gc_config_value_text(cfg, (size_t)k, buf, sizeof buf);
    return t ? strtol(t, NULL, 10) : 0;
}

/* The type and lower-limit check of one value (Kafka's ConfigDef.parse). */
static int gc__parse(size_t i, const char *value, char *msg, size_t len)
{
    const gc_group_key_def *d = &gc__group_keys[i];
    const char *name = d->info.name;
    if (strcmp(d->info.type, "int") == 0) {
        long v;
        if (!gc__parse_int(value, &v)) {
            snprintf(msg, len, "Invalid value %s for configuration %s: Not a number of type INT", value, name);
            return -1;
        }
        if (d->at_least != GC_NOLIMIT && v < d->at_least) {
            snprintf(msg, len, "Invalid value %s for configuration %s: Value must be at least %ld", value, name,
                     d->at_least);
            return -1;
        }
        return 0;
    }
    if (strcmp(d->info.type, "boolean") == 0) {
        if (gc__parse_bool(value) < 0) {
            snprintf(msg, len, "Invalid value %s for configuration %s: Expected value to be either true or false",
                     value, name);
            return -1;
        }
        return 0;
    }
    const char *b;
    size_t n;
    gc__trim(value, &b, &n);
    switch (d->kind) {
    case GC_GK_RESET:
        if (!((n == 8 && memcmp(b, "earliest", 8) == 0) || (n == 6 && memcmp(b, "latest", 6) == 0) ||
              (n > 12 && memcmp(b, "by_duration:", 12) == 0 && gc__iso_duration(b + 12) &&
               strlen(b + 12) == n - 12))) {
            snprintf(msg, len,
                     "Invalid value %s for configuration %s: Invalid value `%.*s` for configuration %s. The value "
                     "must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.",
                     value, name, (int)n, b, name);
            return -1;
        }
        break;
    case GC_GK_ISOLATION:
        if (!((n == 14 && memcmp(b, "read_committed", 14) == 0) ||
              (n == 16 && memcmp(b, "read_uncommitted", 16) == 0))) {
            snprintf(msg, len,
                     "Invalid value %s for configuration %s: String must be one of: read_committed, read_uncommitted",
                     value, name);
            return -1;
        }
        break;
    case GC_GK_TAGS:
        /* "" is the empty list; an empty item anywhere else is refused */
        for (const char *p = b, *e = b + n; n > 0 && p <= e;) {
            const char *c = memchr(p, ',', (size_t)(e - p));
            const char *ie = c ? c : e, *ib = p;
            while (ib < ie && isspace((unsigned char)*ib))
                ib++;
            if (ib == ie) {
                snprintf(msg, len, "Configuration '%s' values must not be empty.", name);
                return -1;
            }
            p = ie + 1;
        }
        break;
    }
    return 0;
}

/* The broker-bounded check (Kafka's GroupConfig.validateValues). */
static int gc__bounds(const gc_config *cfg, size_t i, const char *value, char *msg, size_t len)
{
    const gc_group_key_def *d = &gc__group_keys[i];
    if (d->kind == GC_GK_ASSIGNOR) {
        char buf[4096];
        int k = gc_config_key_find(d->info.broker_key);
        const char *list = k < 0 ? NULL : gc_config_value_text(cfg, (size_t)k, buf, sizeof buf);
        const char *b;
        size_t n;
        gc__trim(value, &b, &n);
        if (!gc__list_has(list, b, n)) {
            /* Java's List.toString: [a, b] */
            char names[4096];
            size_t used = 0;
            names[0] = '\0';
            for (const char *p = list; p && *p && used < sizeof names - 1;) {
                size_t l = strcspn(p, ",");
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%.*s", used ? ", " : "", (int)l, p);
                p += l + (p[l] == ',');
            }
            snprintf(msg, len, "%s '%.*s' is not a registered task assignor. Registered assignors are: [%s].",
                     d->info.name, (int)n, b, names);
            return -1;
        }
        return 0;
    }
    if (!d->max_key)
        return 0;
    long v = 0;
    gc__parse_int(value, &v);
    long hi = gc__broker_int(cfg, d->max_key);
    if (!d->min_key) {
        if (v > hi) {
            snprintf(msg, len, "%s must be less than or equal to %ld", d->info.name, hi);
            return -1;
        }
        return 0;
    }
    long lo = gc__broker_int(cfg, d->min_key);
    if (v < lo || v > hi) {
        snprintf(msg, len, "%s must be in the range %ld to %ld inclusive.", d->info.name, lo, hi);
        return -1;
    }
    return 0;
}

int gc_group_config_check(const gc_config *cfg, const gc_kv *kv, size_t n, char *msg, size_t len)
{
    for (size_t j = 0; j < n; j++)
        if (gc_group_key_find(kv[j].key) < 0) {
            snprintf(msg, len, "Unknown group config name: %s", kv[j].key);
            return -1;
        }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < GC_GROUP_KEYS; i++)
            for (size_t j = 0; j < n; j++)
                if (strcmp(kv[j].key, gc__group_keys[i].info.name) == 0 &&
                    (pass == 0 ? gc__parse(i, kv[j].value, msg, len) : gc__bounds(cfg, i, kv[j].value, msg, len)) < 0)
                    return -1;
    return 0;
}

const char *gc_group_value_canonical(size_t i, const char *value, char *buf, size_t len)
{
    const gc_group_key_def *d = &gc__group_keys[i];
    if (strcmp(d->info.type, "int") == 0) {
        long v = 0;
        gc__parse_int(value, &v);
        snprintf(buf, len, "%ld", v);
        return buf;
    }
    if (strcmp(d->info.type, "boolean") == 0) {
        snprintf(buf, len, "%s", gc__parse_bool(value) > 0 ? "true" : "false");
        return buf;
    }
    const char *b;
    size_t n;
    gc__trim(value, &b, &n);
    if (strcmp(d->info.type, "list") != 0) {
        snprintf(buf, len, "%.*s", (int)n, b);
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = b, *e = b + n; n > 0 && p < e && used + 1 < len;) {
        const char *c = memchr(p, ',', (size_t)(e - p));
        const char *ie = c ? c : e, *ib = p;
        while (ib < ie && isspace((unsigned char)*ib))
            ib++;
        while (ie > ib && isspace((unsigned char)ie[-1]))
            ie--;
        used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? "," : "", (int)(ie - ib), ib);
        p = (c ? c : e) + 1;
    }
    return buf;
}

const char *gc_group_default_text(const gc_config *cfg, size_t i, char *buf, size_t len)
{
    const gc_group_key_def *d = &gc__group_keys[i];
    if (!d->info.broker_key)
        return d->info.default_text;
    int k = gc_config_key_find(d->info.broker_key);
    const char *t = k < 0 ? NULL : gc_config_value_text(cfg, (size_t)k, buf, len);
    if (t && d->kind == GC_GK_ASSIGNOR)
        buf[strcspn(buf, ",")] = '\0'; /* the first registered assignor */
    return t ? t : "";
}
