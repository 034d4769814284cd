/*
 * Kafka error codes, the int16 values that appear in responses. Internal
 * functions return negative error codes of their own; a handler maps them to
 * one of these when it fills a response.
 */
#ifndef GP_ERRORS_H
#define GP_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

enum {
#define GP_ERROR(code, name, retriable) GP_E_##name = code,
#include "protocol/gp_errors.def"
#undef GP_ERROR
};

/* "UNSUPPORTED_VERSION" for 35; "UNKNOWN" for a code not in the table. */
const char *gp_error_name(int16_t code);
bool gp_error_retriable(int16_t code);

#endif
