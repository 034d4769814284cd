/*
 * Every generated decoder, requests and responses, at every version the
 * schema defines.
 *
 * Input: byte 0 picks the API (index into gp_apis, modulo their number),
 * byte 1 the direction (even: request, odd: response), byte 2 the version
 * (min + byte modulo the number of versions); the rest is the message body.
 * The body is decoded straight from libFuzzer's buffer, which ends exactly
 * at the input's end, so ASan sees any read past it.
 *
 * Checked: no out-of-bounds read, arena memory bounded by the input size,
 * and for every body that decodes, the round trip of fuzz_common.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz_common.h"

#define FZ_PREFIX 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FZ_PREFIX)
        return 0;
    const gp_api *api = &gp_apis[data[0] % gp_api_count];
    bool is_request = (data[1] & 1) == 0;
    int nversions = api->max_version - api->min_version + 1;
    int16_t version = (int16_t)(api->min_version + data[2] % nversions);
    const gp_msg_ops *ops = is_request ? &api->request : &api->response;
    const uint8_t *body = data + FZ_PREFIX;
    size_t len = size - FZ_PREFIX;

    char what[96];
    snprintf(what, sizeof what, "%s %s v%d", api->name, is_request ? "request" : "response", version);

    gp_arena a;
    gp_arena_init(&a, NULL, 0);
    void *msg = gp_arena_alloc(&a, ops->size_of);
    gp_reader r;
    gp_reader_init(&r, body, len);
    int rc = ops->decode(&r, &a, version, msg);
    if (rc != r.err)
        fz_fail("%s: decode returned %d but the reader says %d", what, rc, r.err);
    if (rc > 0 || rc < GP_ERR_VERSION)
        fz_fail("%s: decode returned %d, not a GP_ERR_* code", what, rc);
    if (rc == GP_ERR_VERSION)
        fz_fail("%s: a version inside the API's range was refused", what);
    fz_check_arena(&a, len, what);
    if (rc == 0)
        fz_check_roundtrip(ops, version, msg, len - gp_reader_left(&r), what);
    gp_arena_reset(&a, NULL, 0);
    return 0;
}
