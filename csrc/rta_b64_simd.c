/*
 * rta_b64_simd: AVX2 (x86-64) and NEON (AArch64) kernels for the bulk of base64; see rta_b64_simd.h
 * for the contract. The algorithms are those of Wojciech Mula and Daniel Lemire, "Faster Base64
 * Encoding and Decoding Using AVX2 Instructions" (ACM TOW 2018), as also used by aklomp/base64:
 *
 * Encode: spread each 3 input bytes over a 32-bit lane with a byte shuffle, move the four 6-bit
 *   fields into the four bytes with one multiply-high and one multiply-low on 16-bit halves, then
 *   turn each 6-bit value into its character by adding an offset looked up by range.
 * Decode: validate every character with two 16-entry lookups (by its low nibble and by its high
 *   nibble, each giving a bit set; a character is valid iff the two sets are disjoint), translate
 *   with a third lookup of an offset by high nibble ('/' handled apart), then pack the 6-bit values
 *   with two multiply-add instructions.
 *
 * The x86 functions carry __attribute__((target("avx2"))) (or "ssse3", for a 128-bit version of
 * the same code) so that this file, like the rest of the build, compiles for baseline x86-64;
 * rta_b64_simd_kernels() offers each only when the CPU (and, for AVX2, the OS: the YMM registers)
 * supports it. NEON is part of every AArch64 CPU.
 */
#include "rta_b64_simd.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

/* Per 128-bit lane: the offset to add to a 6-bit value to get its character, indexed as below. */
#define ENC_SHIFT_LANE                                                                              \
    'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,       \
        '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0

/* 6-bit values (one per byte) -> characters. The alphabet is four runs: 0-25 'A'-'Z', 26-51
 * 'a'-'z', 52-61 '0'-'9', 62 '+', 63 '/'. Saturating subtraction of 51 sends 0-51 to 0 and 52-63
 * to 1-12 (one index each, so digits, '+' and '/' each find their offset); values below 26 are then
 * marked with index 13. One byte shuffle of the offset table does the rest. */
static AVX2 inline __m256i avx2_enc_translate(__m256i v) {
    const __m256i shift = _mm256_setr_epi8(ENC_SHIFT_LANE, ENC_SHIFT_LANE);
    __m256i idx = _mm256_subs_epu8(v, _mm256_set1_epi8(51));
    __m256i upper = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), v); /* 0xFF where v < 26 ('A'-'Z') */
    idx = _mm256_or_si256(idx, _mm256_and_si256(upper, _mm256_set1_epi8(13)));
    return _mm256_add_epi8(v, _mm256_shuffle_epi8(shift, idx));
}

/* 24 bytes -> 32 characters per step. */
static AVX2 size_t avx2_encode(const unsigned char *src, size_t n, char *out) {
    /* Bytes a b c of each triple go to a 32-bit lane as b a c b (memory order), so that the lane's
     * low 16 bits read aaaaaaaa bbbbbbbb and its high 16 bits bbbbbbbb cccccccc: every 6-bit field
     * now lies inside one 16-bit half. vpshufb works within each 128-bit lane, so each lane gets 12
     * bytes: the low lane bytes 0-11, the high lane bytes 12-23. */
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    size_t i = 0;
    /* The high lane's 16-byte load starts at byte 12 and so reads 28 bytes for 24 used. */
    for (; n - i >= 28; i += 24, out += 32) {
        __m128i lo = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i hi = _mm_loadu_si128((const __m128i *)(src + i + 12));
        __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        in = _mm256_shuffle_epi8(in, spread);
        /* With the 6-bit fields named A B C D (A the top of a): the low half holds AAAAAABB BBBB....
         * and the high half BBBBCCCC CCDDDDDD. Keep A (bits 10-15 of the low half) and C (bits 6-11
         * of the high half); multiplying the halves by 2^6 and 2^10 and keeping the high 16 bits
         * shifts A and C right by 10 and 6, to bits 0-5 of bytes 0 and 2. */
        __m256i ac = _mm256_and_si256(in, _mm256_set1_epi32(0x0FC0FC00));
        ac = _mm256_mulhi_epu16(ac, _mm256_set1_epi32(0x04000040));
        /* Keep B (bits 4-9 of the low half) and D (bits 0-5 of the high half); multiplying by 2^4
         * and 2^8 and keeping the low 16 bits moves them to bits 8-13: bits 0-5 of bytes 1 and 3. */
        __m256i bd = _mm256_and_si256(in, _mm256_set1_epi32(0x003F03F0));
        bd = _mm256_mullo_epi16(bd, _mm256_set1_epi32(0x01000010));
        /* Bytes are now A B C D in memory order, each 0-63. */
        __m256i v = _mm256_or_si256(ac, bd);
        _mm256_storeu_si256((__m256i *)out, avx2_enc_translate(v));
    }
    return i;
}

/* Decode lookups, indexed by a nibble, one copy per 128-bit lane.
 * Classes of high nibble: 2 -> 0x01, 3 -> 0x02, 4 and 6 -> 0x04, 5 and 7 -> 0x08; any other high
 * nibble (controls, and every byte >= 0x80) -> 0x10, which every low-nibble entry contains. */
#define DEC_LUT_HI_LANE 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, \
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10
/* For each low nibble, the classes of high nibble in which it makes an invalid character:
 *   0: 0x20 ' ', 0x40 '@', 0x60 '`'        -> 0x01 | 0x04
 *   1-9: 0x2_ (!"#$%&'()) only             -> 0x01
 *   A: 0x2A '*', 0x3A ':'                  -> 0x01 | 0x02
 *   B: 0x3B ';', 0x5B '[', 0x7B '{'        -> 0x02 | 0x08  ('+' = 0x2B is valid)
 *   C-E: 0x2C-0x2E ",-.", 0x3C-0x3E "<=>", 0x5C-0x5E, 0x7C-0x7E  -> 0x01 | 0x02 | 0x08
 *   F: 0x3F '?', 0x5F '_', 0x7F            -> 0x02 | 0x08  ('/' = 0x2F is valid)
 * each with 0x10 added. '=' (0x3D) is invalid here: padding is the scalar code's business. */
#define DEC_LUT_LO_LANE 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
    0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A
/* Offset from character to 6-bit value by high nibble: 2 '+' (62 - 43 = 19), 3 digits
 * (52 - 48 = 4), 4-5 'A'-'Z' (-65), 6-7 'a'-'z' (26 - 97 = -71). '/' shares high nibble 2 with
 * '+' and needs 16 (63 - 47): its index is moved to 1 by adding -1 (the compare mask). */
#define DEC_LUT_ROLL_LANE 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0

/* 32 characters -> 24 bytes per step. */
static AVX2 size_t avx2_decode(const unsigned char *src, size_t len, unsigned char *out) {
    const __m256i lut_hi = _mm256_setr_epi8(DEC_LUT_HI_LANE, DEC_LUT_HI_LANE);
    const __m256i lut_lo = _mm256_setr_epi8(DEC_LUT_LO_LANE, DEC_LUT_LO_LANE);
    const __m256i lut_roll = _mm256_setr_epi8(DEC_LUT_ROLL_LANE, DEC_LUT_ROLL_LANE);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    /* After packing, each 32-bit lane holds 3 bytes, most significant first in the stream: pick
     * them in stream order, 12 to a 128-bit lane, then close the 4-byte gap between the lanes. */
    const __m256i pick = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                          2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i close_gap = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    size_t i = 0;
    for (; len - i >= 32; i += 32, out += 24) {
        __m256i in = _mm256_loadu_si256((const __m256i *)(src + i));
        /* vpshufb looks only at the low 4 bits of an index (and zeroes on bit 7), so mask both. */
        __m256i hi_nib = _mm256_and_si256(_mm256_srli_epi32(in, 4), nibble);
        __m256i lo_nib = _mm256_and_si256(in, nibble);
        __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nib);
        __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nib);
        /* Any byte whose two class sets meet is not in the alphabet: leave this block to the
         * scalar code, which will find and name it. */
        if (!_mm256_testz_si256(lo, hi))
            break;
        __m256i is_slash = _mm256_cmpeq_epi8(in, _mm256_set1_epi8('/'));
        __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(hi_nib, is_slash));
        __m256i v = _mm256_add_epi8(in, roll); /* 6-bit values, one per byte */
        /* Pairs of bytes (a, b) -> 16-bit a * 64 + b: 12 bits each. */
        __m256i v12 = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        /* Pairs of those (ab, cd) -> 32-bit ab * 4096 + cd: the 24 output bits of one quad. */
        __m256i v24 = _mm256_madd_epi16(v12, _mm256_set1_epi32(0x00011000));
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v24, pick), close_gap);
        /* Store exactly 24 bytes: the output may end right here (a ring region, a bytes object). */
        _mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(bytes));
        _mm_storel_epi64((__m128i *)(out + 16), _mm256_extracti128_si256(bytes, 1));
    }
    return i;
}

/* SSSE3: the same two algorithms on 128 bits, for x86-64 CPUs without AVX2 (pshufb is SSSE3; the
 * multiplies are SSE2). Comments as in the AVX2 functions above. */
#define SSSE3 __attribute__((target("ssse3")))

static SSSE3 inline __m128i ssse3_enc_translate(__m128i v) {
    const __m128i shift = _mm_setr_epi8(ENC_SHIFT_LANE);
    __m128i idx = _mm_subs_epu8(v, _mm_set1_epi8(51));
    __m128i upper = _mm_cmpgt_epi8(_mm_set1_epi8(26), v);
    idx = _mm_or_si128(idx, _mm_and_si128(upper, _mm_set1_epi8(13)));
    return _mm_add_epi8(v, _mm_shuffle_epi8(shift, idx));
}

/* 12 bytes -> 16 characters per step (a 16-byte load, of which 12 are used). */
static SSSE3 size_t ssse3_encode(const unsigned char *src, size_t n, char *out) {
    const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    size_t i = 0;
    for (; n - i >= 16; i += 12, out += 16) {
        __m128i in = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + i)), spread);
        __m128i ac = _mm_and_si128(in, _mm_set1_epi32(0x0FC0FC00));
        ac = _mm_mulhi_epu16(ac, _mm_set1_epi32(0x04000040));
        __m128i bd = _mm_and_si128(in, _mm_set1_epi32(0x003F03F0));
        bd = _mm_mullo_epi16(bd, _mm_set1_epi32(0x01000010));
        _mm_storeu_si128((__m128i *)out, ssse3_enc_translate(_mm_or_si128(ac, bd)));
    }
    return i;
}

/* 16 characters -> 12 bytes per step. */
static SSSE3 size_t ssse3_decode(const unsigned char *src, size_t len, unsigned char *out) {
    const __m128i lut_hi = _mm_setr_epi8(DEC_LUT_HI_LANE);
    const __m128i lut_lo = _mm_setr_epi8(DEC_LUT_LO_LANE);
    const __m128i lut_roll = _mm_setr_epi8(DEC_LUT_ROLL_LANE);
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i pick = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    size_t i = 0;
    for (; len - i >= 16; i += 16, out += 12) {
        __m128i in = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i hi_nib = _mm_and_si128(_mm_srli_epi32(in, 4), nibble);
        __m128i lo_nib = _mm_and_si128(in, nibble);
        __m128i clash = _mm_and_si128(_mm_shuffle_epi8(lut_lo, lo_nib), _mm_shuffle_epi8(lut_hi, hi_nib));
        /* No ptest before SSE4.1: compare with zero and collect the byte masks instead. */
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(clash, _mm_setzero_si128())) != 0xFFFF)
            break;
        __m128i is_slash = _mm_cmpeq_epi8(in, _mm_set1_epi8('/'));
        __m128i v = _mm_add_epi8(in, _mm_shuffle_epi8(lut_roll, _mm_add_epi8(hi_nib, is_slash)));
        __m128i v12 = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
        __m128i v24 = _mm_madd_epi16(v12, _mm_set1_epi32(0x00011000));
        __m128i bytes = _mm_shuffle_epi8(v24, pick);
        /* Exactly 12 bytes: 8, then 4. */
        _mm_storel_epi64((__m128i *)out, bytes);
        uint32_t last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(bytes, 8));
        memcpy(out + 8, &last, 4);
    }
    return i;
}

static const rta_b64_kernel avx2_kernel = {"avx2", avx2_encode, avx2_decode};
static const rta_b64_kernel ssse3_kernel = {"ssse3", ssse3_encode, ssse3_decode};

const rta_b64_kernel *const *rta_b64_simd_kernels(void) {
    static const rta_b64_kernel *const both[] = {&avx2_kernel, &ssse3_kernel, NULL};
    static const rta_b64_kernel *const ssse3_only[] = {&ssse3_kernel, NULL};
    static const rta_b64_kernel *const none[] = {NULL};
    /* libgcc and compiler-rt report avx2 only if the OS also saves the YMM registers (XCR0). */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("ssse3"))
        return none;
    return __builtin_cpu_supports("avx2") ? both : ssse3_only;
}

#elif defined(__aarch64__)
#include <arm_neon.h>

static const unsigned char ALPHABET[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 48 bytes -> 64 characters per step. vld3 de-interleaves the bytes so that a, b and c of 16 triples
 * sit in three registers; the four 6-bit fields are then plain shifts and masks, vqtbl4 (a 64-byte
 * table lookup) maps them to characters, and vst4 interleaves them back into quads. */
static size_t neon_encode(const unsigned char *src, size_t n, char *out) {
    const uint8x16x4_t alphabet = {{vld1q_u8(ALPHABET), vld1q_u8(ALPHABET + 16), vld1q_u8(ALPHABET + 32),
                                    vld1q_u8(ALPHABET + 48)}};
    const uint8x16_t low2 = vdupq_n_u8(0x03), low4 = vdupq_n_u8(0x0F), low6 = vdupq_n_u8(0x3F);
    size_t i = 0;
    for (; n - i >= 48; i += 48, out += 64) {
        uint8x16x3_t in = vld3q_u8(src + i);
        uint8x16x4_t q;
        q.val[0] = vshrq_n_u8(in.val[0], 2);                                             /* a >> 2 */
        q.val[1] = vorrq_u8(vshlq_n_u8(vandq_u8(in.val[0], low2), 4), vshrq_n_u8(in.val[1], 4));
        q.val[2] = vorrq_u8(vshlq_n_u8(vandq_u8(in.val[1], low4), 2), vshrq_n_u8(in.val[2], 6));
        q.val[3] = vandq_u8(in.val[2], low6);                                            /* c & 63 */
        for (int k = 0; k < 4; k++)
            q.val[k] = vqtbl4q_u8(alphabet, q.val[k]);
        vst4q_u8((uint8_t *)out, q);
    }
    return i;
}

/* The same nibble-class validation and offset lookup as the AVX2 decoder, on 16 characters. */
static const uint8_t DEC_LUT_HI[16] = {0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                                       0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10};
static const uint8_t DEC_LUT_LO[16] = {0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                       0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A};
static const int8_t DEC_LUT_ROLL[16] = {0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0};

typedef struct {
    uint8x16_t hi, lo, roll;
} neon_dec_luts;

/* Characters -> 6-bit values; ORs into *bad a nonzero byte for each character outside the alphabet. */
static inline uint8x16_t neon_dec_translate(uint8x16_t c, const neon_dec_luts *t, uint8x16_t *bad) {
    uint8x16_t hi_nib = vshrq_n_u8(c, 4);
    uint8x16_t lo_nib = vandq_u8(c, vdupq_n_u8(0x0F));
    *bad = vorrq_u8(*bad, vandq_u8(vqtbl1q_u8(t->lo, lo_nib), vqtbl1q_u8(t->hi, hi_nib)));
    uint8x16_t idx = vaddq_u8(hi_nib, vceqq_u8(c, vdupq_n_u8('/'))); /* '/' -> index 1 */
    return vaddq_u8(c, vqtbl1q_u8(t->roll, idx));
}

/* 64 characters -> 48 bytes per step: vld4 puts character k of 16 quads in register k, so packing
 * the 6-bit values is three shift-and-or's, and vst3 interleaves the bytes back. */
static size_t neon_decode(const unsigned char *src, size_t len, unsigned char *out) {
    const neon_dec_luts t = {vld1q_u8(DEC_LUT_HI), vld1q_u8(DEC_LUT_LO),
                             vreinterpretq_u8_s8(vld1q_s8(DEC_LUT_ROLL))};
    size_t i = 0;
    for (; len - i >= 64; i += 64, out += 48) {
        uint8x16x4_t in = vld4q_u8(src + i);
        uint8x16_t bad = vdupq_n_u8(0);
        uint8x16_t v0 = neon_dec_translate(in.val[0], &t, &bad);
        uint8x16_t v1 = neon_dec_translate(in.val[1], &t, &bad);
        uint8x16_t v2 = neon_dec_translate(in.val[2], &t, &bad);
        uint8x16_t v3 = neon_dec_translate(in.val[3], &t, &bad);
        if (vmaxvq_u8(bad) != 0)
            break; /* leave this block to the scalar code, which names the culprit */
        uint8x16x3_t o;
        o.val[0] = vorrq_u8(vshlq_n_u8(v0, 2), vshrq_n_u8(v1, 4)); /* shifts drop the bits */
        o.val[1] = vorrq_u8(vshlq_n_u8(v1, 4), vshrq_n_u8(v2, 2)); /* that belong to the    */
        o.val[2] = vorrq_u8(vshlq_n_u8(v2, 6), v3);                /* neighbouring byte     */
        vst3q_u8(out, o);
    }
    return i;
}

static const rta_b64_kernel neon_kernel = {"neon", neon_encode, neon_decode};

const rta_b64_kernel *const *rta_b64_simd_kernels(void) {
    static const rta_b64_kernel *const kernels[] = {&neon_kernel, NULL};
    return kernels; /* Advanced SIMD is mandatory on AArch64 */
}

#else

const rta_b64_kernel *const *rta_b64_simd_kernels(void) {
    static const rta_b64_kernel *const none[] = {NULL};
    return none;
}

#endif
