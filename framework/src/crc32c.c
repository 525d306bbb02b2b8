/* CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, as iSCSI, ext4 and
 * SSE4.2's crc32 instruction compute it), the checksum of every
 * safetensors file ag writes (safetensors.h). Slicing by 8: eight tables of
 * 256 entries, made once, fold eight bytes per step; the bytes are read
 * one by one, so the result is the same on any host and alignment. */
#include <pthread.h>
#include <stdint.h>

#include "ag.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t tables_made = PTHREAD_ONCE_INIT;

static void make_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
}

uint32_t ag_crc32c(uint32_t crc, const void *data, size_t size) {
    pthread_once(&tables_made, make_tables);
    const unsigned char *p = data;
    crc = ~crc;
    for (; size >= 8; p += 8, size -= 8) {
        uint32_t low = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = table[7][low & 0xff] ^ table[6][(low >> 8) & 0xff] ^ table[5][(low >> 16) & 0xff] ^
              table[4][low >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
    }
    while (size--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
