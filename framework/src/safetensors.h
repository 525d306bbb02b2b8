/* Checkpoints in the safetensors format
 * (https://github.com/huggingface/safetensors), written by
 * checkpoint_write.c and read by checkpoint_read.c:
 *
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   JSON: {"__metadata__": {"key": "value", ...},
 *                    "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 *             padded with spaces so that the data begins at a multiple of 8
 *   the rest  the tensors' raw little-endian values; offsets count from the
 *             end of the header
 *
 * Values are always stored as F32, whatever ag_real is.
 *
 * The checksum: every file ag writes has the metadata entry
 * "ag.crc32c": "xxxxxxxx" (first in __metadata__; 8 lowercase hex digits),
 * the CRC-32C (ag_crc32c) of the whole file, length field, header, padding
 * and data, taken with those 8 characters set to "00000000". Nothing is
 * appended, so the file stays plain safetensors for any other reader. The
 * loader checks it after the structure (so a truncated file is still named
 * as truncated): a mismatch is a damaged file. A file without the entry (an
 * older ag's, PyTorch's) loads unverified (ag_checkpoint_verified); a
 * metadata key one bit from "ag.crc32c" is taken for a damaged entry, so
 * that no single flipped bit can pass a file off as unverified.
 *
 * Status codes:
 *   AG_ERROR_ARGUMENT  NULL params or path, malformed metadata arguments, a
 *                      parameter that cannot be saved under its name
 *   AG_ERROR_MEMORY    an allocation failed
 *   AG_ERROR_IO        a file could not be opened, read, written, synced or
 *                      renamed, or the path is not a regular file
 *   AG_ERROR_FORMAT    the file's content is malformed, or lacks a parameter
 *   AG_ERROR_SHAPE     a tensor in the file has another shape than the
 *                      parameter of its name
 *
 * The loader treats the file as hostile: every length and offset is checked
 * before it is used, and nothing is copied into the parameters until the
 * whole file has been checked.
 */
#ifndef AG_SAFETENSORS_H
#define AG_SAFETENSORS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ag.h"

/* Far above any header ag writes, low enough that a corrupt length field
 * cannot make the loader parse gigabytes of JSON. The writer refuses a
 * header over it, so that everything ag saves loads again. */
#define SAFETENSORS_HEADER_LIMIT ((uint64_t)100 * 1000 * 1000)
/* The header's one entry that is not a tensor: string keys and values. */
#define SAFETENSORS_METADATA_KEY "__metadata__"
/* The checksum's metadata entry, and its value while the CRC is taken. */
#define SAFETENSORS_CRC_KEY "ag.crc32c"
#define SAFETENSORS_CRC_PLACEHOLDER "00000000"
/* How the entry appears in the header text: the value follows it. */
#define SAFETENSORS_CRC_TEXT "\"" SAFETENSORS_CRC_KEY "\":\""

/* Whether `key` is the checksum's key with exactly one bit flipped: such a
 * key in a file is a damaged checksum entry, and the writer refuses it. */
static inline bool safetensors_near_crc_key(const char *key) {
    const char *crc_key = SAFETENSORS_CRC_KEY;
    int bits = 0;
    size_t i = 0;
    for (; key[i] && crc_key[i]; i++)
        for (unsigned diff = (unsigned char)key[i] ^ (unsigned char)crc_key[i]; diff; diff &= diff - 1) bits++;
    return !key[i] && !crc_key[i] && bits == 1;
}

/* Byte by byte, so that the file is little-endian on any host and data at
 * any alignment can be read. */
static inline void safetensors_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t safetensors_get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void safetensors_put_f32(unsigned char *p, ag_real value) {
    float f = (float)value;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(bits >> (8 * i));
}

static inline ag_real safetensors_get_f32(const unsigned char *p) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return (ag_real)f;
}

#endif
