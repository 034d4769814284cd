#include "protocol/gp_crc32c.h"

#include <string.h>

#define GP_CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t gp__crc_table[8][256];

/* Built once at load time: cheaper than a 8 KiB literal and obviously right. */
__attribute__((constructor)) static void gp__crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (GP_CRC32C_POLY & (0u - (c & 1)));
        gp__crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            gp__crc_table[t][i] = (gp__crc_table[t - 1][i] >> 8) ^ gp__crc_table[0][gp__crc_table[t - 1][i] & 0xff];
}

uint32_t gp_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ gp__crc_table[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian hosts only: Gregor targets x86-64 and arm64 Linux */
        crc = gp__crc_table[7][w & 0xff] ^ gp__crc_table[6][(w >> 8) & 0xff] ^ gp__crc_table[5][(w >> 16) & 0xff] ^
              gp__crc_table[4][(w >> 24) & 0xff] ^ gp__crc_table[3][(w >> 32) & 0xff] ^
              gp__crc_table[2][(w >> 40) & 0xff] ^ gp__crc_table[1][(w >> 48) & 0xff] ^ gp__crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ gp__crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/*
 * The crc32 instruction has a latency of 3 cycles and a throughput of 1, so
 * one dependency chain uses a third of it. Large inputs are cut into three
 * blocks of GP__CRC_BLOCK bytes, CRC'd as three interleaved chains (the
 * second and third from state 0), and joined with the CRC's linearity:
 * crc(s, A B) = crc(0, B) ^ Z(crc(s, A)), where Z advances a state over
 * GP__CRC_BLOCK zero bytes, a linear map applied with four byte tables.
 */
#define GP__CRC_BLOCK 1024
static uint32_t gp__zero_table[4][256];

/* Advance a raw (not inverted) CRC state over n zero bytes, bit by bit. */
static uint32_t gp__crc_zeros_slow(uint32_t s, size_t n)
{
    for (size_t i = 0; i < n * 8; i++)
        s = (s >> 1) ^ (GP_CRC32C_POLY & (0u - (s & 1)));
    return s;
}

__attribute__((constructor)) static void gp__crc32c_zero_init(void)
{
    uint32_t basis[32];
    for (int b = 0; b < 32; b++)
        basis[b] = gp__crc_zeros_slow(1u << b, GP__CRC_BLOCK);
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int bit = 0; bit < 8; bit++)
                if (v & (1u << bit))
                    r ^= basis[8 * k + bit];
            gp__zero_table[k][v] = r;
        }
}

static inline uint32_t gp__crc_shift(uint32_t s)
{
    return gp__zero_table[0][s & 0xff] ^ gp__zero_table[1][(s >> 8) & 0xff] ^ gp__zero_table[2][(s >> 16) & 0xff] ^
           gp__zero_table[3][s >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t gp__crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    while (len >= 3 * GP__CRC_BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < GP__CRC_BLOCK; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + GP__CRC_BLOCK + i, 8);
            memcpy(&w2, p + 2 * GP__CRC_BLOCK + i, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = gp__crc_shift(gp__crc_shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * GP__CRC_BLOCK;
        len -= 3 * GP__CRC_BLOCK;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

uint32_t gp_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static int have_hw = -1;
    if (have_hw < 0)
        have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return have_hw ? gp__crc32c_hw(crc, buf, len) : gp_crc32c_sw(crc, buf, len);
}
#else
uint32_t gp_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return gp_crc32c_sw(crc, buf, len);
}
#endif
