/*
 * A request frame (without its 4-byte size) as gb_dispatch_frame reads it:
 * the fixed header start, the API table lookup and version check, the
 * request header at its header version, then the body of the API and version
 * the header names, decoded into an arena that starts on an inline block as
 * a gb_request's does. Then the response side of the same step: the
 * response the dispatcher builds for a version Gregor does not implement
 * (init, set the top-level error, size, encode).
 *
 * Input: byte 0 chooses the header version: 0, 1 or 2 read the header at
 * that version whatever the API (so every header version meets every body),
 * 3 and above use gp_request_header_version() as the broker does. The rest is
 * the frame, read straight from libFuzzer's buffer (ASan sees overreads).
 *
 * Checked: no out-of-bounds read; header fields agree with the raw bytes;
 * the client id lies inside the frame; bounded arena use; header + body
 * re-encoded, read again and re-encoded give the same bytes; the error
 * response's size and encoding agree.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz_common.h"
#include "protocol/gp_errors.h"
#include "protocol/gp_header.h"

#define FZ_REQUEST_BLOCK 3072 /* as GB_REQUEST_BLOCK in broker/net/gb_request.h */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int16_t fz_be16(const uint8_t *p)
{
    return (int16_t)((p[0] << 8) | p[1]);
}

static int32_t fz_be32(const uint8_t *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

/* Write header + body, read both back, write again: same bytes. */
static void fz_check_frame_roundtrip(const gp_api *api, int hv, const gp_request_header *h, const void *body,
                                     const char *what)
{
    int16_t v = h->api_version;
    size_t hn = gp_request_header_size(hv, h);
    size_t bn = api->request.size(v, body);
    size_t n = hn + bn;
    uint8_t *buf1 = malloc(n);
    uint8_t *buf2 = malloc(n);
    if (!buf1 || !buf2)
        abort();
    gp_writer w;
    gp_writer_init(&w, buf1, n);
    gp_request_header_write(&w, hv, h);
    if ((size_t)(w.p - buf1) != hn)
        fz_fail("%s: header v%d size %zu, wrote %zu", what, hv, hn, (size_t)(w.p - buf1));
    api->request.encode(&w, v, body);
    if (w.p != w.end)
        fz_fail("%s: body size %zu, wrote %zu", what, bn, (size_t)(w.p - buf1) - hn);

    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    gp_reader r;
    gp_reader_init(&r, buf1, n);
    gp_request_header h2;
    if (gp_request_header_read(&r, hv, &h2) < 0)
        fz_fail("%s: own header v%d does not read back: %s", what, hv, gp_strerror(r.err));
    if (h2.api_key != h->api_key || h2.api_version != h->api_version || h2.correlation_id != h->correlation_id ||
        !gp_str_eq(h2.client_id, h->client_id))
        fz_fail("%s: header v%d fields differ after a round trip", what, hv);
    void *body2 = gp_arena_alloc(&a, api->request.size_of);
    if (api->request.decode(&r, &a, v, body2) < 0 || gp_reader_left(&r) != 0)
        fz_fail("%s: own frame does not decode back (%s, %zu bytes left)", what, gp_strerror(r.err),
                gp_reader_left(&r));
    gp_writer_init(&w, buf2, n);
    gp_request_header_write(&w, hv, &h2);
    if (api->request.size(v, body2) != bn)
        fz_fail("%s: body size changed after a round trip", what);
    api->request.encode(&w, v, body2);
    if (w.p != w.end || memcmp(buf1, buf2, n) != 0) {
        fz_hexdump("first frame", buf1, n);
        fz_hexdump("second frame", buf2, n);
        fz_fail("%s: frame decode/encode is not a fixed point", what);
    }
    gp_arena_reset(&a, NULL, 0);
    free(buf1);
    free(buf2);
}

/* The response gb_dispatch_frame sends for an unimplemented version. */
static void fz_check_error_response(const gp_api *api, int16_t v, gp_arena *a, const char *what)
{
    void *resp = gp_arena_alloc(a, api->response.size_of);
    api->response.init(resp);
    if (!api->response_set_error(resp, v, GP_E_UNSUPPORTED_VERSION))
        return;
    int hv = gp_response_header_version(api, v);
    size_t n = gp_response_header_size(hv) + api->response.size(v, resp);
    uint8_t *buf = gp_arena_alloc(a, n);
    gp_writer w;
    gp_writer_init(&w, buf, n);
    gp_response_header_write(&w, hv, 42);
    api->response.encode(&w, v, resp);
    if (w.p != w.end)
        fz_fail("%s: error response size %zu, wrote %zu", what, n, (size_t)(w.p - buf));
    /* The body must read back as what the client will see. */
    gp_reader r;
    gp_reader_init(&r, buf + gp_response_header_size(hv), n - gp_response_header_size(hv));
    void *back = gp_arena_alloc(a, api->response.size_of);
    if (api->response.decode(&r, a, v, back) < 0 || gp_reader_left(&r) != 0)
        fz_fail("%s: error response does not decode: %s", what, gp_strerror(r.err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] < 3 ? data[0] : 3;
    const uint8_t *frame = data + 1;
    size_t len = size - 1;
    /* The server refuses a frame shorter than the fixed header start. */
    if (len < GP_REQUEST_HEADER_MIN)
        return 0;
    int16_t key = fz_be16(frame);
    int16_t version = fz_be16(frame + 2);
    const gp_api *api = gp_api_get(key);
    if (!api)
        return 0;
    int hv = mode < 3 ? mode : gp_request_header_version(api, version);
    if (mode == 3 && (version < api->min_version || version > api->max_version))
        return 0; /* the broker closes the connection before reading further */
    bool known = version >= api->min_version && version <= api->max_version;

    char what[96];
    snprintf(what, sizeof what, "%s v%d, header v%d", api->name, version, hv);

    _Alignas(16) uint8_t block[FZ_REQUEST_BLOCK];
    gp_arena a;
    gp_arena_init(&a, block, sizeof block);
    gp_reader r;
    gp_reader_init(&r, frame, len);
    gp_request_header h;
    int rc = gp_request_header_read(&r, hv, &h);
    if (rc != r.err)
        fz_fail("%s: header read returned %d, reader says %d", what, rc, r.err);
    if (rc == 0) {
        if (h.api_key != key || h.api_version != version || h.correlation_id != fz_be32(frame + 4))
            fz_fail("%s: header fields disagree with the frame's first bytes", what);
        if (hv == 0 && h.client_id.len != -1)
            fz_fail("%s: header v0 has a client id", what);
        if (h.client_id.len < -1 ||
            (h.client_id.len > 0 && ((const uint8_t *)h.client_id.p < frame ||
                                     (const uint8_t *)h.client_id.p + h.client_id.len > frame + len)))
            fz_fail("%s: client id outside the frame", what);
    }
    if (rc == 0 && known) {
        size_t at = len - gp_reader_left(&r);
        void *body = gp_arena_alloc(&a, api->request.size_of);
        rc = api->request.decode(&r, &a, version, body);
        fz_check_arena(&a, len, what);
        if (rc == 0) {
            fz_check_roundtrip(&api->request, version, body, len - gp_reader_left(&r) - at, what);
            fz_check_frame_roundtrip(api, hv, &h, body, what);
        }
        fz_check_error_response(api, version, &a, what);
    }
    gp_arena_reset(&a, block, sizeof block);
    return 0;
}
