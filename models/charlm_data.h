/* The char LM's data: a text's bytes, its vocabulary (the distinct bytes,
 * sorted), and the streams that truncated backpropagation through time
 * reads it in, as char-rnn does. */
#ifndef AG_MODEL_CHARLM_DATA_H
#define AG_MODEL_CHARLM_DATA_H

#include <stdint.h>

#include "ag.h"

/* A whole text in memory. */
typedef struct charlm_text {
    unsigned char *bytes;
    int64_t size;
    uint64_t fingerprint; /* FNV-1a (64 bits) of the bytes: a resumed run checks it reads the same text */
} charlm_text;

/* Reads a file, or every regular file of a directory in name order (not
 * symbolic links, hidden files nor fortune's .dat indexes: the directory
 * /usr/share/games/fortunes gives its texts once each), concatenated.
 * A FIFO is read to its end; a device or socket is refused.
 * AG_ERROR_IO naming the path and why; AG_ERROR_FORMAT for an empty text
 * (or a directory without one). */
ag_status charlm_text_load(const char *path, charlm_text *text);
void charlm_text_free(charlm_text *text);

/* The vocabulary: the distinct bytes in increasing order; index[byte] is
 * a byte's position in it, -1 for a byte not in it. */
typedef struct charlm_vocab {
    int size;
    unsigned char bytes[256];
    int16_t index[256];
} charlm_vocab;
enum { CHARLM_VOCAB_HEX = 2 * 256 + 1 }; /* the longest hex form, with its NUL */

void charlm_vocab_build(charlm_vocab *vocab, const unsigned char *bytes, int64_t size);
/* The bytes as lowercase hex ("0a2021..."), how checkpoints store it. */
void charlm_vocab_to_hex(const charlm_vocab *vocab, char hex[CHARLM_VOCAB_HEX]);
/* AG_ERROR_FORMAT unless hex is 1 to 256 pairs of hex digits, strictly increasing. */
ag_status charlm_vocab_from_hex(charlm_vocab *vocab, const char *hex);

/* A stretch of the text cut into `streams` contiguous streams of `length`
 * bytes each (the remainder dropped), every byte an index into the
 * vocabulary. Chunk k of every stream holds positions k * steps ... */
typedef struct charlm_streams {
    unsigned char *tokens; /* [streams * length] */
    int streams;
    int64_t length;
} charlm_streams;

/* text->bytes[start, start + size) cut into `streams` streams (each of
 * size / streams bytes); AG_ERROR_ARGUMENT if that is under 2 bytes,
 * AG_ERROR_MEMORY. Every byte must be in the vocabulary. */
ag_status charlm_streams_init(charlm_streams *s, const charlm_text *text, int64_t start, int64_t size, int streams,
                              const charlm_vocab *vocab);
void charlm_streams_free(charlm_streams *s);
/* How many chunks of `steps` inputs (each with its next byte as target)
 * one pass reads: (length - 1) / steps. */
int64_t charlm_streams_chunks(const charlm_streams *s, int steps);
/* The inputs and targets [streams, steps] of the chunk that starts at
 * `position` in every stream: inputs are positions position ..
 * position + steps - 1, targets the bytes one further on. */
void charlm_streams_chunk(const charlm_streams *s, int64_t position, int steps, int *inputs, int *targets);

#endif
