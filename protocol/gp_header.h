/*
 * Request and response headers. A request header is v1 (api key, version,
 * correlation id, nullable client id) or, for flexible versions, v2 (the same
 * plus a tagged-field section); the client id is a classic int16-length
 * string in both. Response headers are v0 (correlation id) or v1 (plus tagged
 * fields) for flexible versions, except ApiVersions, always v0 so that a
 * client can read it before it knows what the broker speaks.
 */
#ifndef GP_HEADER_H
#define GP_HEADER_H

#include "protocol/gp_messages.h"

typedef struct gp_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    gp_str client_id; /* null or a view into the frame */
} gp_request_header;

/* The fixed start of every request: api key, version, correlation id. */
#define GP_REQUEST_HEADER_MIN 8

/* Header versions for a request/response of this API at this version. */
int gp_request_header_version(const gp_api *api, int16_t version);
int gp_response_header_version(const gp_api *api, int16_t version);

/* Read the fields of a request header of the given version; the reader is
 * left at the start of the body. Returns 0 or a GP_ERR_* code. */
int gp_request_header_read(gp_reader *r, int header_version, gp_request_header *h);

/* Write a request header (tests and tools only: the broker reads them). */
size_t gp_request_header_size(int header_version, const gp_request_header *h);
void gp_request_header_write(gp_writer *w, int header_version, const gp_request_header *h);

size_t gp_response_header_size(int header_version);
void gp_response_header_write(gp_writer *w, int header_version, int32_t correlation_id);

#endif
