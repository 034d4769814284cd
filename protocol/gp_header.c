#include "protocol/gp_header.h"

int gp_request_header_version(const gp_api *api, int16_t version)
{
    /* Header v0 (no client id) was only used by ControlledShutdown v0, an
     * inter-broker API Gregor does not speak. */
    return gp_api_is_flexible(api, version) ? 2 : 1;
}

int gp_response_header_version(const gp_api *api, int16_t version)
{
    if (api->key == GP_API_API_VERSIONS)
        return 0;
    return gp_api_is_flexible(api, version) ? 1 : 0;
}

int gp_request_header_read(gp_reader *r, int header_version, gp_request_header *h)
{
    h->api_key = gp_read_int16(r);
    h->api_version = gp_read_int16(r);
    h->correlation_id = gp_read_int32(r);
    h->client_id = GP_STR_NULL;
    if (header_version >= 1)
        h->client_id = gp_read_string(r, false, true);
    if (header_version >= 2) {
        /* No tagged header field is defined for requests: skip them all. */
        uint32_t n = gp_read_uvarint(r);
        for (uint32_t i = 0; i < n && !r->err; i++) {
            (void)gp_read_uvarint(r);
            uint32_t len = gp_read_uvarint(r);
            if (len > gp_reader_left(r))
                gp_reader_fail(r, GP_ERR_COUNT);
            else
                gp_read_skip(r, len);
        }
    }
    return r->err;
}

size_t gp_request_header_size(int header_version, const gp_request_header *h)
{
    size_t n = GP_REQUEST_HEADER_MIN;
    if (header_version >= 1)
        n += gp_size_string(false, h->client_id);
    if (header_version >= 2)
        n += 1;
    return n;
}

void gp_request_header_write(gp_writer *w, int header_version, const gp_request_header *h)
{
    gp_write_int16(w, h->api_key);
    gp_write_int16(w, h->api_version);
    gp_write_int32(w, h->correlation_id);
    if (header_version >= 1)
        gp_write_string(w, false, h->client_id);
    if (header_version >= 2)
        gp_write_uvarint(w, 0);
}

size_t gp_response_header_size(int header_version)
{
    return header_version >= 1 ? 5 : 4;
}

void gp_response_header_write(gp_writer *w, int header_version, int32_t correlation_id)
{
    gp_write_int32(w, correlation_id);
    if (header_version >= 1)
        gp_write_uvarint(w, 0);
}
