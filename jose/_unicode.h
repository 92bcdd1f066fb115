/* Word characters and simple lower-casing for jose's compiled --tokenize.
   The rule and the tables come from tools/make_unicode_tables.py. */
#pragma once
#include <stdint.h>
#include "_unicode_tables.h"

/* Whether code point cp (>= 0x80) is a word character. */
static inline int jose_is_word(uint32_t cp) {
    int lo = 0, hi = JOSE_N_WORD_RANGES;   /* first range starting after cp */
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (jose_word_ranges[mid][0] <= cp) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && cp <= jose_word_ranges[lo - 1][1];
}

/* The simple lower-case mapping of a word character cp (>= 0x80). */
static inline uint32_t jose_lower(uint32_t cp) {
    int lo = 0, hi = JOSE_N_LOWER_RUNS;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if ((uint32_t)jose_lower_runs[mid][0] <= cp) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) return cp;
    const int32_t *run = jose_lower_runs[lo - 1];
    if (cp > (uint32_t)run[1] || (cp - (uint32_t)run[0]) % (uint32_t)run[2]) return cp;
    return (uint32_t)((int32_t)cp + run[3]);
}
