/*
 * __consumer_offsets keys and values (see gb_group_records.h). The layouts
 * are Kafka's generated serialisation of OffsetCommitKey/Value and
 * GroupMetadataKey/Value: big-endian integers, int16-length strings, int32-
 * length bytes and arrays up to the flexible version 4, which has compact
 * (uvarint length + 1) strings, bytes and arrays and tagged-field sections.
 */
#include "broker/core/gb_group_records.h"

#include <string.h>

/* ---- Java's view of strings --------------------------------------------- */

/* Decode one code point from UTF-8; malformed bytes become U+FFFD one byte
 * at a time (as Java's decoder replaces them). Returns the bytes used. */
static size_t gb__utf8_next(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    if (left < n) {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = 0xfffd;
        return 1;
    }
    *cp = v;
    return n;
}

int32_t gb_java_string_hash(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    uint32_t h = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        i += gb__utf8_next(p + i, len - i, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

size_t gb_utf16_length(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, units = 0;
    while (i < len) {
        uint32_t cp;
        i += gb__utf8_next(p + i, len - i, &cp);
        units += cp >= 0x10000 ? 2 : 1;
    }
    return units;
}

int32_t gb_group_partition_for(const char *group_id, size_t len, int32_t npartitions)
{
    if (npartitions <= 0)
        return 0;
    int32_t h = gb_java_string_hash(group_id, len);
    int32_t pos = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return pos % npartitions;
}

/* ---- encoding ------------------------------------------------------------ */

static gp_bytes gb__finish(gp_writer *w)
{
    return (gp_bytes){w->start, (int32_t)(w->p - w->start)};
}

gp_bytes gb_offset_key_encode(gp_arena *a, gp_str group, gp_str topic, int32_t partition)
{
    size_t n = 2 + gp_size_string(false, group) + gp_size_string(false, topic) + 4;
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, 1);
    gp_write_string(&w, false, group);
    gp_write_string(&w, false, topic);
    gp_write_int32(&w, partition);
    return gb__finish(&w);
}

gp_bytes gb_offset_value_encode(gp_arena *a, const gb_offset_value *v)
{
    /* v1 carries an explicit expire timestamp (and no leader epoch); v3 is
     * what Kafka 3.x writes otherwise. */
    int16_t version = v->expire_timestamp >= 0 ? 1 : 3;
    gp_str md = v->metadata.len < 0 ? GP_STR_LIT("") : v->metadata;
    size_t n = 2 + 8 + (version >= 3 ? 4 : 0) + gp_size_string(false, md) + 8 + (version == 1 ? 8 : 0);
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, version);
    gp_write_int64(&w, v->offset);
    if (version >= 3)
        gp_write_int32(&w, v->leader_epoch);
    gp_write_string(&w, false, md);
    gp_write_int64(&w, v->commit_timestamp);
    if (version == 1)
        gp_write_int64(&w, v->expire_timestamp);
    return gb__finish(&w);
}

gp_bytes gb_group_key_encode(gp_arena *a, gp_str group)
{
    size_t n = 2 + gp_size_string(false, group);
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, 2);
    gp_write_string(&w, false, group);
    return gb__finish(&w);
}

gp_bytes gb_group_value_encode(gp_arena *a, const gb_group_value *v)
{
    gp_str ptype = v->protocol_type.len < 0 ? GP_STR_LIT("") : v->protocol_type;
    size_t n = 2 + gp_size_string(false, ptype) + 4 + gp_size_string(false, v->protocol) +
               gp_size_string(false, v->leader) + 8 + 4;
    for (int32_t i = 0; i < v->nmembers; i++) {
        const gb_group_value_member *m = &v->members[i];
        n += gp_size_string(false, m->member_id) + gp_size_string(false, m->group_instance_id) +
             gp_size_string(false, m->client_id) + gp_size_string(false, m->client_host) + 4 + 4 +
             gp_size_bytes(false, m->subscription) + gp_size_bytes(false, m->assignment);
    }
    gp_writer w;
    gp_writer_init(&w, gp_arena_alloc(a, n), n);
    gp_write_int16(&w, 3);
    gp_write_string(&w, false, ptype);
    gp_write_int32(&w, v->generation);
    gp_write_string(&w, false, v->protocol);
    gp_write_string(&w, false, v->leader);
    gp_write_int64(&w, v->current_state_timestamp);
    gp_write_int32(&w, v->nmembers);
    for (int32_t i = 0; i < v->nmembers; i++) {
        const gb_group_value_member *m = &v->members[i];
        gp_write_string(&w, false, m->member_id);
        gp_write_string(&w, false, m->group_instance_id);
        gp_write_string(&w, false, m->client_id);
        gp_write_string(&w, false, m->client_host);
        gp_write_int32(&w, m->rebalance_timeout);
        gp_write_int32(&w, m->session_timeout);
        gp_write_bytes(&w, false, m->subscription.len < 0 ? (gp_bytes){NULL, 0} : m->subscription);
        gp_write_bytes(&w, false, m->assignment.len < 0 ? (gp_bytes){NULL, 0} : m->assignment);
    }
    return gb__finish(&w);
}

/* ---- decoding ------------------------------------------------------------ */

/* A tagged-field section (flexible versions): every field is unknown here. */
static void gb__skip_tags(gp_reader *r)
{
    uint32_t n = gp_read_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)gp_read_uvarint(r);
        gp_read_skip(r, gp_read_uvarint(r));
    }
}

int gb_group_key_decode(gp_bytes key, gb_group_key *out)
{
    memset(out, 0, sizeof *out);
    if (key.len < 0)
        return GP_ERR_NULL;
    gp_reader r;
    gp_reader_init(&r, key.p, (size_t)key.len);
    out->version = gp_read_int16(&r);
    if (r.err)
        return r.err;
    if (out->version == 0 || out->version == 1) {
        out->type = GB_KEY_OFFSET;
        out->group = gp_read_string(&r, false, false);
        out->topic = gp_read_string(&r, false, false);
        out->partition = gp_read_int32(&r);
    } else if (out->version == 2) {
        out->type = GB_KEY_GROUP;
        out->group = gp_read_string(&r, false, false);
    } else {
        out->type = GB_KEY_UNKNOWN;
    }
    return r.err;
}

/* Start reading a record value (offset or group metadata, versions 0-4)
 * into out (zeroed here; the caller sets its defaults after): r at the
 * field after the version, which is in *v. Returns 0 (a short
 * value shows later in r.err), GP_ERR_NULL for a tombstone or
 * GP_ERR_VERSION. */
static int gb__value_open(gp_bytes value, gp_reader *r, int16_t *v, void *out, size_t out_size)
{
    memset(out, 0, out_size);
    if (value.len < 0)
        return GP_ERR_NULL;
    gp_reader_init(r, value.p, (size_t)value.len);
    *v = gp_read_int16(r);
    if (!r->err && (*v < 0 || *v > 4))
        return GP_ERR_VERSION;
    return 0;
}

int gb_offset_value_decode(gp_bytes value, gb_offset_value *out)
{
    gp_reader r;
    int16_t v;
    int rc = gb__value_open(value, &r, &v, out, sizeof *out);
    out->leader_epoch = -1;
    out->expire_timestamp = -1;
    if (rc)
        return rc;
    bool flex = v >= 4;
    out->offset = gp_read_int64(&r);
    if (v >= 3)
        out->leader_epoch = gp_read_int32(&r);
    out->metadata = gp_read_string(&r, flex, false);
    out->commit_timestamp = gp_read_int64(&r);
    if (v == 1)
        out->expire_timestamp = gp_read_int64(&r);
    if (flex)
        gb__skip_tags(&r);
    return r.err;
}

int gb_group_value_decode(gp_arena *a, gp_bytes value, gb_group_value *out)
{
    gp_reader r;
    int16_t v;
    int rc = gb__value_open(value, &r, &v, out, sizeof *out);
    out->current_state_timestamp = -1;
    if (rc)
        return rc;
    bool flex = v >= 4;
    out->protocol_type = gp_read_string(&r, flex, false);
    out->generation = gp_read_int32(&r);
    out->protocol = gp_read_string(&r, flex, true);
    out->leader = gp_read_string(&r, flex, true);
    if (v >= 2)
        out->current_state_timestamp = gp_read_int64(&r);
    int32_t n = gp_read_array_len(&r, flex, false);
    if (r.err)
        return r.err;
    out->nmembers = n > 0 ? n : 0;
    out->members = gp_arena_calloc(a, (size_t)(out->nmembers ? out->nmembers : 1), sizeof *out->members);
    for (int32_t i = 0; i < out->nmembers && !r.err; i++) {
        gb_group_value_member *m = &out->members[i];
        m->member_id = gp_read_string(&r, flex, false);
        m->group_instance_id = v >= 3 ? gp_read_string(&r, flex, true) : GP_STR_NULL;
        m->client_id = gp_read_string(&r, flex, false);
        m->client_host = gp_read_string(&r, flex, false);
        m->rebalance_timeout = v >= 1 ? gp_read_int32(&r) : -1;
        m->session_timeout = gp_read_int32(&r);
        if (v == 0)
            m->rebalance_timeout = m->session_timeout;
        m->subscription = gp_read_bytes(&r, flex, false);
        m->assignment = gp_read_bytes(&r, flex, false);
        if (flex)
            gb__skip_tags(&r);
    }
    if (flex)
        gb__skip_tags(&r);
    return r.err;
}
