#include "protocol/gp_crc32c.h"

#include <string.h>

#include <isa-l/crc.h>

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

/*
 * The hot path (every produced batch, every batch recovery scans) uses
 * ISA-L's crc32_iscsi: the same polynomial, folded with (V)PCLMULQDQ where
 * the CPU has it, about three times the speed of the crc32 instruction on
 * one stream. ISA-L keeps the state inverted, so crc(s, buf) is
 * ~crc32_iscsi(buf, ~s); its length is an int, hence the loop.
 */
uint32_t gp_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t s = ~crc;
    while (len > 0) {
        int n = len > (size_t)(1 << 30) ? 1 << 30 : (int)len;
        s = crc32_iscsi((unsigned char *)p, n, s);
        p += n;
        len -= (size_t)n;
    }
    return ~s;
}
