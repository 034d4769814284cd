/*
 * CRC-32C (Castagnoli), the checksum of Kafka's record batch v2, from
 * ISA-L (vectorised folding); gp_crc32c_sw is an independent slicing-by-8
 * implementation the tests check it against.
 */
#ifndef GP_CRC32C_H
#define GP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes. */
uint32_t gp_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable implementation, exposed for tests that compare the two. */
uint32_t gp_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
