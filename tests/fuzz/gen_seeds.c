/*
 * gen_seeds OUTDIR: seed corpora for the fuzz targets, made with the test
 * fill functions (valid pseudo-random messages at a given version).
 *
 *   OUTDIR/decoders  every request and response of every API at every
 *                    version, in fuzz_decoders' format (3-byte selector +
 *                    body);
 *   OUTDIR/header    every request at every version as a frame without its
 *                    size, in fuzz_header's format (mode byte + frame);
 *   OUTDIR/frames    byte streams for fuzz_frames: framed requests (size +
 *                    header + body) of the implemented APIs (ApiVersions
 *                    0-4, Metadata 0-12) alone and pipelined, Produce
 *                    (valid batches to topic "fuzz", acks 1/-1/0) and
 *                    Fetch at every version, one request for each
 *                    version of the others, and a few edge cases (unknown
 *                    ApiVersions version, a frame larger than the read
 *                    buffer cut short, enough Metadata requests with many
 *                    topics to pass the per-wake-up burst and fill the
 *                    socket);
 *   OUTDIR/batch     record batches for fuzz_batch (option byte + records):
 *                    one and two valid uncompressed batches, each option.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/gp_crc32c.h"
#include "protocol/gp_header.h"
#include "protocol/gp_messages.h"

#define SEEDS_PER_VERSION 2

static char outdir[1024];
static size_t nwritten;

static void put_file(const char *sub, const char *name, const uint8_t *p, size_t n)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    nwritten++;
}

static void make_dir(const char *sub)
{
    char path[1100];
    snprintf(path, sizeof path, "%s%s%s", outdir, sub ? "/" : "", sub ? sub : "");
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "gen_seeds: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* A growable byte buffer. */
typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static uint8_t *buf_grow(buf *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

static const gpt_message *find_message(const gp_api *api, bool is_request)
{
    for (size_t i = 0; i < gpt_message_count; i++)
        if (gpt_messages[i].api == api && gpt_messages[i].is_request == is_request)
            return &gpt_messages[i];
    abort();
}

static void *fill(gp_arena *a, const gpt_message *m, int16_t v, uint64_t seed)
{
    const gp_msg_ops *ops = m->is_request ? &m->api->request : &m->api->response;
    void *msg = gp_arena_alloc(a, ops->size_of);
    uint64_t rng = seed;
    m->fill(a, v, msg, &rng);
    return msg;
}

/* Append a request frame: 4-byte size, header at the API's header version,
 * body. client_id NULL means a null client id. */
static void append_frame(buf *b, const gp_api *api, int16_t v, int32_t correlation_id, const char *client_id,
                         const void *body)
{
    gp_request_header h = {api->key, v, correlation_id, gp_str_c(client_id)};
    int hv = gp_request_header_version(api, v);
    size_t n = gp_request_header_size(hv, &h) + api->request.size(v, body);
    gp_writer w;
    gp_writer_init(&w, buf_grow(b, 4 + n), 4 + n);
    gp_write_int32(&w, (int32_t)n);
    gp_request_header_write(&w, hv, &h);
    api->request.encode(&w, v, body);
}

static void append_request(buf *b, const gp_api *api, int16_t v, uint64_t seed, int32_t correlation_id)
{
    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    const void *body = fill(&a, find_message(api, true), v, seed);
    append_frame(b, api, v, correlation_id, seed & 1 ? "fuzz-client" : NULL, body);
    gp_arena_reset(&a, NULL, 0);
}

/* fuzz_decoders and fuzz_header inputs. */
static void gen_codec_seeds(void)
{
    for (size_t i = 0; i < gp_api_count; i++) {
        const gp_api *api = &gp_apis[i];
        for (int dir = 0; dir < 2; dir++) {
            const gpt_message *m = find_message(api, dir == 0);
            const gp_msg_ops *ops = dir == 0 ? &api->request : &api->response;
            for (int16_t v = api->min_version; v <= api->max_version; v++)
                for (uint64_t s = 1; s <= SEEDS_PER_VERSION; s++) {
                    gp_arena a;
                    gp_arena_init(&a, NULL, 0);
                    uint64_t seed = s * 7919 + i * 104729 + (uint64_t)v * 31 + (uint64_t)dir;
                    const void *msg = fill(&a, m, v, seed);
                    size_t n = ops->size(v, msg);
                    buf b = {0};
                    uint8_t *p = buf_grow(&b, 3 + n);
                    p[0] = (uint8_t)i;
                    p[1] = (uint8_t)dir;
                    p[2] = (uint8_t)(v - api->min_version);
                    gp_writer w;
                    gp_writer_init(&w, p + 3, n);
                    ops->encode(&w, v, msg);
                    char name[128];
                    snprintf(name, sizeof name, "%s_%s_v%d_%llu", api->name, dir == 0 ? "req" : "resp", v,
                             (unsigned long long)s);
                    put_file("decoders", name, b.p, b.len);

                    if (dir == 0) {
                        /* fuzz_header: mode 3 (header version as the broker
                         * picks it) + the frame without its size. */
                        buf f = {0};
                        append_frame(&f, api, v, (int32_t)seed, s == 1 ? "fuzz" : NULL, msg);
                        f.p[3] = 3;
                        snprintf(name, sizeof name, "%s_v%d_%llu", api->name, v, (unsigned long long)s);
                        put_file("header", name, f.p + 3, f.len - 3);
                        free(f.p);
                    }
                    free(b.p);
                    gp_arena_reset(&a, NULL, 0);
                }
        }
    }
}

/* A record batch (magic 2, uncompressed) of n records with small keys and
 * values, its CRC-32C computed: what a producer sends. */
static size_t make_batch(uint8_t *out, size_t cap, int n, uint64_t seed)
{
    uint8_t rec[256];
    gp_writer w;
    gp_writer_init(&w, out, cap);
    gp_write_int64(&w, 0);                             /* baseOffset */
    gp_write_int32(&w, 0);                             /* batchLength, below */
    gp_write_int32(&w, -1);                            /* partitionLeaderEpoch */
    gp_write_int8(&w, 2);                              /* magic */
    gp_write_uint32(&w, 0);                            /* crc, below */
    gp_write_int16(&w, 0);                             /* attributes: CreateTime, no codec */
    gp_write_int32(&w, n - 1);                         /* lastOffsetDelta */
    gp_write_int64(&w, 1700000000000 + (int64_t)seed); /* baseTimestamp */
    gp_write_int64(&w, 1700000000000 + (int64_t)seed + n - 1);
    gp_write_int64(&w, -1); /* producerId */
    gp_write_int16(&w, -1); /* producerEpoch */
    gp_write_int32(&w, -1); /* baseSequence */
    gp_write_int32(&w, n);  /* records count */
    for (int i = 0; i < n; i++) {
        char key[16], value[64];
        int kl = snprintf(key, sizeof key, "k%d", i);
        int vl = snprintf(value, sizeof value, "value %d of seed %llu", i, (unsigned long long)seed);
        gp_writer r;
        gp_writer_init(&r, rec, sizeof rec);
        gp_write_int8(&r, 0);    /* attributes */
        gp_write_varlong(&r, i); /* timestampDelta */
        gp_write_varint(&r, i);  /* offsetDelta */
        gp_write_varint(&r, (i % 3 == 2) ? -1 : kl);
        if (i % 3 != 2)
            gp_write_bytes_raw(&r, key, (size_t)kl);
        gp_write_varint(&r, vl);
        gp_write_bytes_raw(&r, value, (size_t)vl);
        gp_write_varint(&r, i % 2); /* headers */
        if (i % 2) {
            gp_write_varint(&r, 1);
            gp_write_bytes_raw(&r, "h", 1);
            gp_write_varint(&r, 2);
            gp_write_bytes_raw(&r, "hv", 2);
        }
        size_t rl = (size_t)(r.p - rec);
        gp_write_varint(&w, (int32_t)rl);
        gp_write_bytes_raw(&w, rec, rl);
    }
    size_t len = (size_t)(w.p - out);
    gp_writer_init(&w, out + 8, 4);
    gp_write_int32(&w, (int32_t)(len - 12));
    gp_writer_init(&w, out + 17, 4);
    gp_write_uint32(&w, gp_crc32c(0, out + 21, len - 21));
    return len;
}

/* Produce (v3+: magic 2 only) to topic "fuzz", which fuzz_frames creates. */
static void append_produce(buf *b, int16_t v, int16_t acks, int nbatches, uint64_t seed)
{
    const gp_api *api = gp_api_get(GP_API_PRODUCE);
    static uint8_t batch[2][8192];
    gp_produce_request_partition_data parts[2];
    for (int i = 0; i < nbatches && i < 2; i++) {
        size_t n = make_batch(batch[i], sizeof batch[i], 1 + (int)((seed + (uint64_t)i) % 5), seed + (uint64_t)i);
        parts[i] = (gp_produce_request_partition_data){i, {batch[i], (int32_t)n, NULL}};
    }
    gp_produce_request_topic_data topic = {GP_STR_LIT("fuzz"), parts, nbatches};
    gp_produce_request req;
    gp_produce_request_init(&req);
    req.acks = acks;
    req.timeout_ms = 1000;
    req.topic_data = &topic;
    req.topic_data_count = 1;
    append_frame(b, api, v, (int32_t)seed, "fuzz-producer", &req);
}

/* Fetch from topic "fuzz" (by name before v13, by id after: the id is not
 * known here, so v13+ asks for an unknown id). */
static void append_fetch(buf *b, int16_t v, int32_t max_wait_ms, int64_t offset, uint64_t seed)
{
    const gp_api *api = gp_api_get(GP_API_FETCH);
    gp_fetch_request_partition parts[2];
    for (int i = 0; i < 2; i++) {
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].partition = i;
        parts[i].current_leader_epoch = -1;
        parts[i].fetch_offset = offset;
        parts[i].last_fetched_epoch = -1;
        parts[i].log_start_offset = -1;
        parts[i].partition_max_bytes = 1 << 20;
    }
    gp_fetch_request_topic topic;
    memset(&topic, 0, sizeof topic);
    topic.topic = GP_STR_LIT("fuzz");
    topic.topic_id.b[15] = (uint8_t)seed;
    topic.partitions = parts;
    topic.partitions_count = 2;
    gp_fetch_request req;
    gp_fetch_request_init(&req);
    req.replica_id = -1;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.isolation_level = (int8_t)(seed & 1);
    req.topics = &topic;
    req.topics_count = 1;
    append_frame(b, api, v, (int32_t)seed, "fuzz-consumer", &req);
}

/* fuzz_frames inputs. */
static void gen_frame_seeds(void)
{
    const gp_api *apiv = gp_api_get(GP_API_API_VERSIONS);
    const gp_api *meta = gp_api_get(GP_API_METADATA);
    char name[128];

    /* The implemented APIs: each version alone, a few seeds each. */
    const gp_api *impl[] = {apiv, meta};
    for (size_t k = 0; k < 2; k++)
        for (int16_t v = impl[k]->min_version; v <= impl[k]->max_version; v++)
            for (uint64_t s = 1; s <= 3; s++) {
                buf b = {0};
                append_request(&b, impl[k], v, s * 1009 + (uint64_t)v, (int32_t)s);
                snprintf(name, sizeof name, "%s_v%d_%llu", impl[k]->name, v, (unsigned long long)s);
                put_file("frames", name, b.p, b.len);
                free(b.p);
            }

    /* A client's usual opening: ApiVersions then Metadata, pipelined. */
    for (int16_t v = 0; v <= meta->max_version; v++) {
        buf b = {0};
        append_request(&b, apiv, apiv->max_version < 3 ? apiv->max_version : 3, 5, 1);
        append_request(&b, meta, v, 77 + (uint64_t)v, 2);
        append_request(&b, meta, v, 78 + (uint64_t)v, 3);
        snprintf(name, sizeof name, "pipeline_metadata_v%d", v);
        put_file("frames", name, b.p, b.len);
        free(b.p);
    }

    /* Every other API at its lowest and highest version. */
    for (size_t i = 0; i < gp_api_count; i++) {
        const gp_api *api = &gp_apis[i];
        if (api == apiv || api == meta)
            continue;
        int16_t vs[2] = {api->min_version, api->max_version};
        for (int k = 0; k < 2; k++) {
            buf b = {0};
            append_request(&b, api, vs[k], 4242 + i, 9);
            snprintf(name, sizeof name, "%s_v%d", api->name, vs[k]);
            put_file("frames", name, b.p, b.len);
            free(b.p);
        }
    }

    /* The data path: Produce with acks 1, -1 and 0, then Fetch, at every
     * version, and a produce-then-fetch pipeline. */
    for (int16_t v = 3; v <= gp_api_get(GP_API_PRODUCE)->max_version; v++) {
        static const int16_t acks[] = {1, -1, 0};
        for (int k = 0; k < 3; k++) {
            buf b = {0};
            append_produce(&b, v, acks[k], 1 + k % 2, (uint64_t)v * 10 + (uint64_t)k);
            snprintf(name, sizeof name, "Produce_v%d_acks%d", v, acks[k]);
            put_file("frames", name, b.p, b.len);
            free(b.p);
        }
    }
    for (int16_t v = 4; v <= gp_api_get(GP_API_FETCH)->max_version; v++) {
        buf b = {0};
        append_fetch(&b, v, v % 2 ? 0 : 50, 0, (uint64_t)v);
        snprintf(name, sizeof name, "Fetch_v%d", v);
        put_file("frames", name, b.p, b.len);
        free(b.p);
        b = (buf){0};
        append_produce(&b, 9, 1, 2, (uint64_t)v);
        append_fetch(&b, v, 100, 0, (uint64_t)v + 1);
        append_request(&b, meta, v <= 12 ? v : 12, 99, 77);
        snprintf(name, sizeof name, "produce_fetch_v%d", v);
        put_file("frames", name, b.p, b.len);
        free(b.p);
    }

    /* ApiVersions at a version the broker does not know (v0 answer). */
    {
        gp_arena a;
        gp_arena_init(&a, NULL, 0);
        void *body = fill(&a, find_message(apiv, true), apiv->max_version, 3);
        buf b = {0};
        /* The body of the newest version, labelled one past it. */
        append_frame(&b, apiv, (int16_t)(apiv->max_version + 1), 7, "future-client", body);
        put_file("frames", "api_versions_unknown_version", b.p, b.len);
        free(b.p);
        gp_arena_reset(&a, NULL, 0);
    }

    /* A frame larger than the 64 KiB read buffer, cut short by the end of
     * the input (the broker gives it a buffer of its own, then sees EOF). */
    {
        buf b = {0};
        gp_writer w;
        gp_writer_init(&w, buf_grow(&b, 4 + 8), 4 + 8);
        gp_write_int32(&w, 200000);
        gp_write_int16(&w, GP_API_METADATA);
        gp_write_int16(&w, 1);
        gp_write_int32(&w, 1);
        memset(buf_grow(&b, 1000), 'x', 1000);
        put_file("frames", "large_frame_truncated", b.p, b.len);
        free(b.p);
    }

    /* 40 Metadata v1 requests of ~780 empty topic names each: more frames
     * than one wake-up serves, responses that fill the socket buffers. */
    {
        gp_arena a;
        gp_arena_init(&a, NULL, 0);
        gp_metadata_request *req = gp_arena_alloc(&a, sizeof *req);
        gp_metadata_request_init(req);
        req->topics_count = 780;
        req->topics = gp_arena_calloc(&a, 780, sizeof req->topics[0]);
        for (int i = 0; i < 780; i++)
            req->topics[i].name = GP_STR_LIT("");
        buf b = {0};
        for (int i = 0; i < 40; i++)
            append_frame(&b, meta, 1, i, "burst", req);
        put_file("frames", "metadata_burst", b.p, b.len);
        free(b.p);
        gp_arena_reset(&a, NULL, 0);
    }
}

/* fuzz_batch inputs: byte 0 its options (see fuzz_batch.c), then batches. */
static void gen_batch_seeds(void)
{
    static uint8_t b[2 * 8192 + 1];
    for (int opts = 0; opts < 8; opts++)
        for (int nb = 1; nb <= 2; nb++) {
            size_t n = 1;
            b[0] = (uint8_t)opts;
            for (int k = 0; k < nb; k++)
                n += make_batch(b + n, 8192, 1 + (opts + k) % 5, (uint64_t)(opts * 2 + k));
            char name[64];
            snprintf(name, sizeof name, "batches%d_opts%d", nb, opts);
            put_file("batch", name, b, n);
        }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR\n");
        return 2;
    }
    snprintf(outdir, sizeof outdir, "%s", argv[1]);
    make_dir(NULL);
    make_dir("decoders");
    make_dir("header");
    make_dir("frames");
    make_dir("batch");
    gen_codec_seeds();
    gen_frame_seeds();
    gen_batch_seeds();
    printf("gen_seeds: %zu files in %s\n", nwritten, outdir);
    return 0;
}
