/*
 * rta_g711: G.711 codecs. The per-sample functions are the reference algorithm (Sun Microsystems'
 * g711.c, as carried by CPython's audioop.c and audioop-lts); the bulk functions run on tables built
 * from them once, so the tables cannot disagree with the reference.
 */
#define _POSIX_C_SOURCE 200809L
#include "rta_g711.h"

#include <pthread.h>
#include <string.h>

#define SIGN_BIT (0x80)   /* Sign bit for an A-law byte. */
#define QUANT_MASK (0xf)  /* Quantization field mask. */
#define SEG_SHIFT (4)     /* Left shift for segment number. */
#define SEG_MASK (0x70)   /* Segment field mask. */
#define BIAS (0x84)       /* Bias for linear code (mu-law adds 33 in 14-bit terms). */
#define CLIP (8159)       /* Largest 14-bit magnitude mu-law encodes before it saturates. */

/* Upper ends of the 8 segments, in the 13-bit (A-law) and 14-bit (mu-law) magnitude ranges. */
static const int16_t seg_aend[8] = {0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF};
static const int16_t seg_uend[8] = {0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF};

static int16_t search(int16_t val, const int16_t *table, int size) {
    for (int i = 0; i < size; i++) {
        if (val <= table[i])
            return (int16_t)i;
    }
    return (int16_t)size;
}

/*
 * Linear (14-bit two's complement, i.e. a 16-bit sample >> 2) to mu-law.
 *
 *      Biased Linear Input Code        Compressed Code
 *      ------------------------        ---------------
 *      00000001wxyza                   000wxyz
 *      0000001wxyzab                   001wxyz
 *      000001wxyzabc                   010wxyz
 *      00001wxyzabcd                   011wxyz
 *      0001wxyzabcde                   100wxyz
 *      001wxyzabcdef                   101wxyz
 *      01wxyzabcdefg                   110wxyz
 *      1wxyzabcdefgh                   111wxyz
 *
 * Each biased linear code has a leading 1 which identifies the segment number. The value of the segment
 * number is equal to 7 minus the number of leading 0's. The quantization interval is directly available
 * as the four bits wxyz. The trailing bits (a - h) are ignored. Ordinarily the complement of the
 * resulting code word is used for transmission, and so the code word is complemented before it is
 * returned.
 */
unsigned char rta_ulaw_from_linear14(int16_t pcm_val) {
    int16_t mask, seg;
    unsigned char uval;

    /* u-law inverts all bits. Get the sign and the magnitude of the value. */
    if (pcm_val < 0) {
        pcm_val = (int16_t)-pcm_val;
        mask = 0x7F;
    } else {
        mask = 0xFF;
    }
    if (pcm_val > CLIP)
        pcm_val = CLIP; /* clip the magnitude */
    pcm_val = (int16_t)(pcm_val + (BIAS >> 2));

    /* Convert the scaled magnitude to segment number. */
    seg = search(pcm_val, seg_uend, 8);

    /* Combine the sign, segment, quantization bits; and complement the code word. */
    if (seg >= 8) /* out of range, return maximum value. */
        return (unsigned char)(0x7F ^ mask);
    uval = (unsigned char)((seg << 4) | ((pcm_val >> (seg + 1)) & 0xF));
    return (unsigned char)(uval ^ mask);
}

/*
 * Linear (13-bit two's complement, a 16-bit sample >> 3) to A-law.
 *
 *      Linear Input Code       Compressed Code
 *      ------------------------        ---------------
 *      0000000wxyza                    000wxyz
 *      0000001wxyza                    001wxyz
 *      000001wxyzab                    010wxyz
 *      00001wxyzabc                    011wxyz
 *      0001wxyzabcd                    100wxyz
 *      001wxyzabcde                    101wxyz
 *      01wxyzabcdef                    110wxyz
 *      1wxyzabcdefg                    111wxyz
 *
 * For further information see John C. Bellamy's Digital Telephony, 1982, John Wiley & Sons, pps 98-111
 * and 472-476. A-law transmits with even bits inverted (the 0x55 mask).
 */
unsigned char rta_alaw_from_linear13(int16_t pcm_val) {
    int16_t mask, seg;
    unsigned char aval;

    if (pcm_val >= 0) {
        mask = 0xD5; /* sign (7th) bit = 1 */
    } else {
        mask = 0x55; /* sign bit = 0 */
        pcm_val = (int16_t)(-pcm_val - 1);
    }

    /* Convert the scaled magnitude to segment number. */
    seg = search(pcm_val, seg_aend, 8);

    /* Combine the sign, segment, and quantization bits. */
    if (seg >= 8) /* out of range, return maximum value. */
        return (unsigned char)(0x7F ^ mask);
    aval = (unsigned char)(seg << SEG_SHIFT);
    if (seg < 2)
        aval |= (pcm_val >> 1) & QUANT_MASK;
    else
        aval |= (pcm_val >> seg) & QUANT_MASK;
    return (unsigned char)(aval ^ mask);
}

/* mu-law to 16-bit linear. Two codes decode to zero: 0xFF (+0) and 0x7F (-0). */
int16_t rta_ulaw_to_linear16(unsigned char uval) {
    int t;
    uval = (unsigned char)~uval; /* complement to obtain the normal u-law value */
    /* Extract and bias the quantization bits, shift up by the segment number, subtract the bias. */
    t = ((uval & QUANT_MASK) << 3) + BIAS;
    t <<= ((unsigned)uval & SEG_MASK) >> SEG_SHIFT;
    return (int16_t)((uval & SIGN_BIT) ? (BIAS - t) : (t - BIAS));
}

/* A-law to 16-bit linear. */
int16_t rta_alaw_to_linear16(unsigned char a_val) {
    int t, seg;
    a_val ^= 0x55;
    t = (a_val & QUANT_MASK) << 4;
    seg = ((unsigned)a_val & SEG_MASK) >> SEG_SHIFT;
    switch (seg) {
    case 0:
        t += 8;
        break;
    case 1:
        t += 0x108;
        break;
    default:
        t += 0x108;
        t <<= seg - 1;
    }
    return (int16_t)((a_val & SIGN_BIT) ? t : -t);
}

/* Encode tables indexed by the sample's top 14 (mu-law) or 13 (A-law) bits as an unsigned pattern:
 * 16 KiB + 8 KiB, small enough to stay in L1 while a frame is encoded. */
static unsigned char ulaw_table[1 << 14];
static unsigned char alaw_table[1 << 13];
/* Decode tables hold each sample as its two little-endian bytes, so one 2-byte copy stores it on any
 * host. */
static uint16_t ulaw_decode_table[256];
static uint16_t alaw_decode_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void choose_decoders(void);

static void build_tables(void) {
    for (int i = 0; i < (1 << 14); i++) /* pattern i is the 14-bit two's complement value */
        ulaw_table[i] = rta_ulaw_from_linear14((int16_t)(i >= (1 << 13) ? i - (1 << 14) : i));
    for (int i = 0; i < (1 << 13); i++)
        alaw_table[i] = rta_alaw_from_linear13((int16_t)(i >= (1 << 12) ? i - (1 << 13) : i));
    for (int c = 0; c < 256; c++) {
        uint16_t u = (uint16_t)rta_ulaw_to_linear16((unsigned char)c);
        uint16_t a = (uint16_t)rta_alaw_to_linear16((unsigned char)c);
        unsigned char ule[2] = {(unsigned char)u, (unsigned char)(u >> 8)};
        unsigned char ale[2] = {(unsigned char)a, (unsigned char)(a >> 8)};
        memcpy(&ulaw_decode_table[c], ule, 2);
        memcpy(&alaw_decode_table[c], ale, 2);
    }
    choose_decoders();
}

void rta_g711_init(void) { pthread_once(&tables_once, build_tables); }

/* Little-endian by construction, whatever the host; compilers turn this into one load on LE hosts. */
static inline uint16_t load_le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Four samples per step, gathered into one 8-byte store. */
static void decode_with(const uint16_t *table, const unsigned char *codes, size_t n, unsigned char *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint16_t four[4] = {table[codes[i]], table[codes[i + 1]], table[codes[i + 2]], table[codes[i + 3]]};
        memcpy(out + 2 * i, four, 8);
    }
    for (; i < n; i++)
        memcpy(out + 2 * i, &table[codes[i]], 2);
}

/* Four samples per step: one 8-byte load, four lookups, one 4-byte store. */
static void encode_with(const unsigned char *table, int shift, const unsigned char *pcm, size_t n,
                        unsigned char *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const unsigned char *p = pcm + 2 * i;
        unsigned char four[4] = {table[load_le16(p) >> shift], table[load_le16(p + 2) >> shift],
                                 table[load_le16(p + 4) >> shift], table[load_le16(p + 6) >> shift]};
        memcpy(out + i, four, 4);
    }
    for (; i < n; i++)
        out[i] = table[load_le16(pcm + 2 * i) >> shift];
}

void rta_ulaw_encode(const unsigned char *pcm, size_t n, unsigned char *out) {
    rta_g711_init();
    encode_with(ulaw_table, 2, pcm, n, out);
}

void rta_alaw_encode(const unsigned char *pcm, size_t n, unsigned char *out) {
    rta_g711_init();
    encode_with(alaw_table, 3, pcm, n, out);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RTA_G711_SSSE3 1

/*
 * SSSE3 decoders, 16 codes per step, computing the reference formulas instead of looking up 256
 * entries (a byte shuffle can only index 16). Both laws decode as  magnitude = base << shift  with
 * base and shift taken from the code's nibbles, so each step is: split nibbles, two 16-entry shuffles
 * for the per-segment constants, one 16-bit multiply by 2^shift, then the sign.
 *   mu-law  (u = ~code):    t = ((u & 0xF) << 3) + 0x84) << seg;  out = sign ? 0x84 - t : t - 0x84
 *   A-law   (a = code^0x55): t = (a & 0xF) << 4 + (seg ? 0x108 : 8), then << (seg - 1) for seg >= 2;
 *                            out = sign ? t : -t
 */
__attribute__((target("ssse3"))) static void ulaw_decode_ssse3(const unsigned char *codes, size_t n,
                                                                unsigned char *out) {
    const __m128i pow2 = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)128, 1, 2, 4, 8, 16, 32, 64, (char)128);
    const __m128i low4 = _mm_set1_epi8(0x0F), bias = _mm_set1_epi16(0x84), zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i u = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(codes + i)), _mm_set1_epi8((char)0xFF));
        __m128i mant = _mm_and_si128(u, low4);
        __m128i scale = _mm_shuffle_epi8(pow2, _mm_and_si128(_mm_srli_epi16(u, 4), low4)); /* 2^seg */
        __m128i neg = _mm_cmplt_epi8(u, zero);                                           /* sign bit */
        for (int half = 0; half < 2; half++) {
            __m128i m16 = half ? _mm_unpackhi_epi8(mant, zero) : _mm_unpacklo_epi8(mant, zero);
            __m128i s16 = half ? _mm_unpackhi_epi8(scale, zero) : _mm_unpacklo_epi8(scale, zero);
            __m128i n16 = half ? _mm_unpackhi_epi8(neg, neg) : _mm_unpacklo_epi8(neg, neg);
            __m128i t = _mm_mullo_epi16(_mm_add_epi16(_mm_slli_epi16(m16, 3), bias), s16);
            __m128i x = _mm_sub_epi16(t, bias);
            x = _mm_sub_epi16(_mm_xor_si128(x, n16), n16); /* negate where the sign bit was set */
            _mm_storeu_si128((__m128i *)(out + 2 * i + 16 * half), x);
        }
    }
    decode_with(ulaw_decode_table, codes + i, n - i, out + 2 * i);
}

__attribute__((target("ssse3"))) static void alaw_decode_ssse3(const unsigned char *codes, size_t n,
                                                                unsigned char *out) {
    /* Per segment (the low 3 bits of the high nibble; bit 3 is the sign): shift = max(seg - 1, 0) and
     * the high byte of the added constant (0x108 for seg >= 1, 0x008 for seg 0). */
    const __m128i pow2 = _mm_setr_epi8(1, 1, 2, 4, 8, 16, 32, 64, 1, 1, 2, 4, 8, 16, 32, 64);
    const __m128i addhi = _mm_setr_epi8(0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1);
    const __m128i low4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi16(8), zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(codes + i)), _mm_set1_epi8(0x55));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(a, 4), low4);
        __m128i mant = _mm_and_si128(a, low4);
        __m128i scale = _mm_shuffle_epi8(pow2, hi);
        __m128i add = _mm_shuffle_epi8(addhi, hi);
        __m128i pos = _mm_cmplt_epi8(a, zero); /* A-law: sign bit set means positive */
        for (int half = 0; half < 2; half++) {
            __m128i m16 = half ? _mm_unpackhi_epi8(mant, zero) : _mm_unpacklo_epi8(mant, zero);
            __m128i s16 = half ? _mm_unpackhi_epi8(scale, zero) : _mm_unpacklo_epi8(scale, zero);
            __m128i a16 = half ? _mm_unpackhi_epi8(zero, add) : _mm_unpacklo_epi8(zero, add); /* add << 8 */
            __m128i p16 = half ? _mm_unpackhi_epi8(pos, pos) : _mm_unpacklo_epi8(pos, pos);
            __m128i t = _mm_add_epi16(_mm_add_epi16(_mm_slli_epi16(m16, 4), a16), eight);
            t = _mm_mullo_epi16(t, s16);
            __m128i negmask = _mm_xor_si128(p16, _mm_set1_epi16(-1)); /* negate the negatives */
            t = _mm_sub_epi16(_mm_xor_si128(t, negmask), negmask);
            _mm_storeu_si128((__m128i *)(out + 2 * i + 16 * half), t);
        }
    }
    decode_with(alaw_decode_table, codes + i, n - i, out + 2 * i);
}
#endif

typedef void (*decode_fn)(const unsigned char *, size_t, unsigned char *);
static void ulaw_decode_scalar(const unsigned char *codes, size_t n, unsigned char *out) {
    decode_with(ulaw_decode_table, codes, n, out);
}
static void alaw_decode_scalar(const unsigned char *codes, size_t n, unsigned char *out) {
    decode_with(alaw_decode_table, codes, n, out);
}
static decode_fn ulaw_decoder = ulaw_decode_scalar, alaw_decoder = alaw_decode_scalar;

static void choose_decoders(void) {
#ifdef RTA_G711_SSSE3
    /* SSSE3 stores little-endian 16-bit lanes: right for the wire format, and x86 is little-endian. */
    if (__builtin_cpu_supports("ssse3")) {
        ulaw_decoder = ulaw_decode_ssse3;
        alaw_decoder = alaw_decode_ssse3;
    }
#endif
}

int rta_g711_force_scalar(int scalar) {
    rta_g711_init();
    if (scalar) {
        ulaw_decoder = ulaw_decode_scalar;
        alaw_decoder = alaw_decode_scalar;
    } else {
        choose_decoders();
    }
    return ulaw_decoder != ulaw_decode_scalar;
}

void rta_ulaw_decode(const unsigned char *codes, size_t n, unsigned char *out) {
    rta_g711_init();
    ulaw_decoder(codes, n, out);
}

void rta_alaw_decode(const unsigned char *codes, size_t n, unsigned char *out) {
    rta_g711_init();
    alaw_decoder(codes, n, out);
}
