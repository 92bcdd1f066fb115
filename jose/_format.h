/* Formatting float32 values as Python's "%.<P>g" % float(value) does.
 *
 * jose_format_g writes into `out` (at least JOSE_FORMAT_MAX bytes) the
 * characters Python's printf-style formatting gives for the float32 value
 * `x` with P significant digits, and returns how many (no terminating NUL).
 * Python (PyOS_double_to_string, mode 2) and C's printf both round the exact
 * binary value half-to-even, drop trailing zeros, switch to the exponent form
 * when the rounded value's decimal exponent X is < -4 or >= P, and print the
 * exponent with a sign and at least two digits; Python, unlike glibc, prints
 * every NaN as "nan" (glibc: "-nan" for a negative one), which is done here.
 *
 * The digits come from exact integer arithmetic on the float's mantissa and
 * exponent (128-bit) where the scaled value fits, which covers every normal
 * float32 for P <= 9; other values (subnormals at large P) go to snprintf,
 * which glibc rounds exactly too. Without a 128-bit integer type
 * JOSE_FORMAT_FAST is 0 and the caller formats in Python instead.
 */
#ifndef JOSE_FORMAT_H
#define JOSE_FORMAT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JOSE_FORMAT_MAX 48
#define JOSE_FORMAT_MAX_PRECISION 17

#if defined(__SIZEOF_INT128__)
#define JOSE_FORMAT_FAST 1
typedef unsigned __int128 jose_u128;

static const uint64_t JOSE_POW10[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

static inline jose_u128 jose_pow10_128(int n) {   /* n <= 38 */
    jose_u128 r = 1;
    while (n >= 19) { r *= JOSE_POW10[19]; n -= 19; }
    return r * JOSE_POW10[n];
}

static const uint64_t JOSE_POW5[28] = {1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL, 1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL, 95367431640625ULL, 476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL};

static inline jose_u128 jose_pow5_128(int n) {    /* n <= 54 */
    return n <= 27 ? (jose_u128)JOSE_POW5[n] : (jose_u128)JOSE_POW5[27] * JOSE_POW5[n - 27];
}

/* floor(a / b) for b > 0 */
static inline int jose_floor_div(int a, int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The P leading decimal digits of m * 2**e (m > 0), rounded half-to-even,
 * and the decimal exponent k of the rounded value: 10**(P-1) <= *digits <
 * 10**P and value ~ digits * 10**(k - P + 1). Returns 0 when the numbers do
 * not fit the 128-bit arithmetic (the caller then uses snprintf). */
static inline int jose_digits(uint32_t m, int e, int P, uint64_t* digits, int* k_out) {
    int bits = 31 - __builtin_clz(m);    /* the top bit's position (m > 0) */
    /* value in [2**b, 2**(b+1)), b = bits + e; log10(2) ~ 78913 / 2**18 */
    int b = bits + e;
    int k = jose_floor_div(b * 78913, 1 << 18);
    const uint64_t lo = JOSE_POW10[P - 1], hi = JOSE_POW10[P];
    for (int attempt = 0; attempt < 4; attempt++) {
        int q = P - 1 - k;           /* digits = round(value * 10**q) */
        jose_u128 Q;
        int round_up = 0;
        if (q >= 0) {
            /* value * 10**q = m * 5**q * 2**(e + q) */
            if (q > 44) return 0;    /* 5**q * 2**24 must stay below 2**128 */
            jose_u128 A = (jose_u128)m * jose_pow5_128(q);
            int s = e + q;
            if (s >= 0) {
                if (A >= hi) { k++; continue; }
                if (s > 60) { k++; continue; }   /* A >= 1, so Q >= 2**61 > hi */
                Q = A << s;
            } else {
                s = -s;
                if (s >= 127) return 0;
                Q = A >> s;
                jose_u128 rem = A & ((((jose_u128)1) << s) - 1);
                jose_u128 half = ((jose_u128)1) << (s - 1);
                round_up = rem > half || (rem == half && (Q & 1));
            }
        } else {
            /* value * 10**q = m * 2**e / 10**r */
            int r = -q;
            if (r > 38) return 0;
            jose_u128 D = jose_pow10_128(r), num;
            if (e >= 0) {
                if (e > 104) return 0;   /* m < 2**24: m << e < 2**128 */
                num = ((jose_u128)m) << e;
            } else {
                if (-e > 60) return 0;
                num = m;
                D <<= -e;
            }
            Q = num / D;
            jose_u128 rem = num - Q * D;    /* rem < D: compare it with D / 2 */
            round_up = rem > D - rem || (rem == D - rem && (Q & 1));
        }
        if (Q >= hi) { k++; continue; }
        if (Q < lo) { k--; continue; }
        uint64_t d = (uint64_t)Q + (round_up ? 1 : 0);
        if (d == hi) { d = lo; k++; }
        *digits = d;
        *k_out = k;
        return 1;
    }
    return 0;
}

static inline int jose_format_digits(char* out, int negative, uint64_t d, int k, int P) {
    char dig[20];
    int n = 0, i;
    for (i = P - 1; i >= 0; i--) { dig[i] = (char)('0' + d % 10); d /= 10; }
    int nd = P;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    if (negative) out[n++] = '-';
    if (k >= -4 && k < P) {
        if (k >= 0) {
            for (i = 0; i <= k; i++) out[n++] = dig[i];
            if (nd > k + 1) {
                out[n++] = '.';
                for (i = k + 1; i < nd; i++) out[n++] = dig[i];
            }
        } else {
            out[n++] = '0';
            out[n++] = '.';
            for (i = 0; i < -k - 1; i++) out[n++] = '0';
            for (i = 0; i < nd; i++) out[n++] = dig[i];
        }
    } else {
        out[n++] = dig[0];
        if (nd > 1) {
            out[n++] = '.';
            for (i = 1; i < nd; i++) out[n++] = dig[i];
        }
        out[n++] = 'e';
        int x = k;
        if (x < 0) { out[n++] = '-'; x = -x; } else out[n++] = '+';
        if (x >= 100) { out[n++] = (char)('0' + x / 100); x %= 100; }
        out[n++] = (char)('0' + x / 10);
        out[n++] = (char)('0' + x % 10);
    }
    return n;
}
#else
#define JOSE_FORMAT_FAST 0
#endif

static inline int jose_format_g(char* out, float x, int P) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    int negative = (int)(bits >> 31);
    uint32_t biased = (bits >> 23) & 0xFF, frac = bits & 0x7FFFFF;
    if (biased == 0xFF) {
        if (frac) { memcpy(out, "nan", 3); return 3; }
        if (negative) { memcpy(out, "-inf", 4); return 4; }
        memcpy(out, "inf", 3);
        return 3;
    }
    if (biased == 0 && frac == 0) {
        if (negative) { memcpy(out, "-0", 2); return 2; }
        out[0] = '0';
        return 1;
    }
#if JOSE_FORMAT_FAST
    {
        uint32_t m = biased ? (frac | 0x800000u) : frac;
        int e = biased ? (int)biased - 150 : -149;
        uint64_t d;
        int k;
        if (P >= 1 && P <= JOSE_FORMAT_MAX_PRECISION && jose_digits(m, e, P, &d, &k))
            return jose_format_digits(out, negative, d, k, P);
    }
#endif
    {
        /* glibc rounds exactly as Python does; finite values only get here */
        int n = snprintf(out, JOSE_FORMAT_MAX, "%.*g", P, (double)x);
        return n < 0 ? 0 : (n >= JOSE_FORMAT_MAX ? JOSE_FORMAT_MAX - 1 : n);
    }
}

#endif
