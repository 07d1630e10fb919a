/* cseg.c: Neuroglancer compressed_segmentation, one channel, uint32 or uint64 labels.
 * Written from the format description in neuroglancer's
 * src/neuroglancer/sliceview/compressed_segmentation/README.md.
 *
 * ALGORITHM: the channel (shape z,y,x) is cut into a grid of blocks of bs = (bx,by,bz)
 * voxels, block (i,j,k) numbered i + gx*(j + gy*k); a partial block at the upper edge is
 * treated as padded. Everything is counted in little-endian 32-bit words from the start of
 * the channel:
 *
 *   [block headers: 2 words each]  then per block: [packed indices] [lookup table]
 *
 *   header word 0: lookup table offset (low 24 bits) | encoded bits << 24
 *   header word 1: offset of the packed indices
 *
 * The lookup table holds the block's distinct labels, sorted (uint64: low word first).
 * Each voxel stores its index into the table with b bits, b the smallest of 0, 1, 2, 4, 8,
 * 16, 32 with 2^b >= table size; voxel (x,y,z) of the block sits at bit b*(x + bx*(y +
 * by*z)) of the packed words (b divides 32, so an index never straddles two words).
 * Padding voxels get index 0. A block whose table equals an earlier block's reuses that
 * table (found through a hash of the table), as the reference encoder does.
 *
 * Decoding trusts nothing: every header, offset and index is checked against the input
 * length before it is used, so a malicious chunk is AX_E_CORRUPT, never an overrun.
 *
 * MEMORY: encode uses two block-sized scratch arrays and a hash table of two slots per
 * block; the output grows geometrically. Decode allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "volume/volume_int.h"

#define CSEG_TABLE_OFFSET_MAX 0xFFFFFFu

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_label(const void *labels, int elem, size_t i)
{
    if (elem == 4) return ((const uint32_t *)labels)[i];
    return ((const uint64_t *)labels)[i];
}

static void put_label(void *labels, int elem, size_t i, uint64_t v)
{
    if (elem == 4) ((uint32_t *)labels)[i] = (uint32_t)v;
    else ((uint64_t *)labels)[i] = v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Validate elem, shape (z,y,x) and bs (x,y,z); fill the block grid g (x,y,z), the block
 * count and the number of voxels in a block. */
static int check_geometry(int elem, const int64_t shape[3], const int64_t bs[3], int64_t g[3],
                          int64_t *nblocks, int64_t *bvol, const char *what)
{
    if (elem != 4 && elem != 8)
        return ax__err(AX_E_DTYPE, "%s: compressed_segmentation holds uint32 or uint64 labels",
                       what);
    int64_t nb = 1, bv = 1;
    for (int a = 0; a < 3; a++) {
        int64_t s = shape[2 - a], b = bs[a];
        if (s <= 0 || b <= 0)
            return ax__err(AX_E_INVALID, "%s: compressed_segmentation: bad shape or block size",
                           what);
        g[a] = (s + b - 1) / b;
        if (!ax__mul_ok(nb, g[a], &nb) || !ax__mul_ok(bv, b, &bv))
            return ax__err(AX_E_RANGE, "%s: compressed_segmentation: block grid overflows",
                           what);
    }
    /* offsets are 32-bit words: a block must be addressable with 32-bit indices */
    if (bv > ((int64_t)1 << 32) || nb > ((int64_t)1 << 30))
        return ax__err(AX_E_RANGE, "%s: compressed_segmentation: blocks too large or too many",
                       what);
    *nblocks = nb;
    *bvol = bv;
    return AX_OK;
}

/* ---- encoder ---------------------------------------------------------------------- */

typedef struct wbuf {
    uint32_t *w;
    size_t n, cap;
} wbuf;

static int wbuf_grow(wbuf *b, size_t add)
{
    if (b->n + add <= b->cap) return AX_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + add) {
        if (cap > SIZE_MAX / 8) return ax__err(AX_E_NOMEM, "compressed_segmentation: too large");
        cap *= 2;
    }
    uint32_t *w = realloc(b->w, cap * sizeof *w);
    if (!w) return ax__err(AX_E_NOMEM, "compressed_segmentation: out of memory");
    b->w = w;
    b->cap = cap;
    return AX_OK;
}

typedef struct table_slot {
    uint64_t hash;
    uint32_t off, len; /* len 0: empty slot */
} table_slot;

static uint64_t table_hash(const uint64_t *t, size_t k)
{
    uint64_t h = 0xcbf29ce484222325ull ^ k;
    for (size_t i = 0; i < k; i++) {
        h ^= t[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static bool table_equal(const wbuf *b, uint32_t off, const uint64_t *t, size_t k, int elem)
{
    const uint32_t *w = b->w + off;
    for (size_t i = 0; i < k; i++) {
        uint64_t v = elem == 4 ? w[i] : (uint64_t)w[2 * i] | (uint64_t)w[2 * i + 1] << 32;
        if (v != t[i]) return false;
    }
    return true;
}

static size_t find_index(const uint64_t *t, size_t k, uint64_t v)
{
    size_t lo = 0, hi = k;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] <= v) lo = mid;
        else hi = mid;
    }
    return lo;
}

int ax__cseg_encode(const void *labels, int elem, const int64_t shape[3], const int64_t bs[3],
                    uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int64_t g[3], nblocks, bvol;
    int rc = check_geometry(elem, shape, bs, g, &nblocks, &bvol, "compressed_segmentation");
    if (rc < 0) return rc;
    const int64_t sx = shape[2], sy = shape[1], sz = shape[0];
    const int tw = elem / 4; /* words per table entry */

    /* scratch for the in-volume part of one block (smaller than a block for small shapes) */
    int64_t most = 1;
    for (int a = 0; a < 3; a++) most *= bs[a] < shape[2 - a] ? bs[a] : shape[2 - a];
    if (most >= ((int64_t)1 << 32))
        return ax__err(AX_E_RANGE, "compressed_segmentation: blocks of %lld voxels are too large",
                       (long long)most);
    wbuf b = {0};
    uint64_t *vals = ax__malloc_array((size_t)most, sizeof *vals);
    uint64_t *tab = ax__malloc_array((size_t)most, sizeof *tab);
    size_t nslots = 16;
    while (nslots < (size_t)nblocks * 2) nslots *= 2;
    table_slot *slots = ax__calloc(nslots, sizeof *slots);
    if (!vals || !tab || !slots) {
        rc = ax__err(AX_E_NOMEM, "compressed_segmentation: out of memory");
        goto out;
    }
    if ((rc = wbuf_grow(&b, (size_t)nblocks * 2)) < 0) goto out;
    memset(b.w, 0, (size_t)nblocks * 2 * sizeof *b.w);
    b.n = (size_t)nblocks * 2;

    for (int64_t bz = 0; bz < g[2]; bz++)
        for (int64_t by = 0; by < g[1]; by++)
            for (int64_t bx = 0; bx < g[0]; bx++) {
                int64_t x0 = bx * bs[0], y0 = by * bs[1], z0 = bz * bs[2];
                int64_t ex = sx - x0 < bs[0] ? sx - x0 : bs[0];
                int64_t ey = sy - y0 < bs[1] ? sy - y0 : bs[1];
                int64_t ez = sz - z0 < bs[2] ? sz - z0 : bs[2];
                /* gather the block's labels (in-volume voxels only) */
                size_t m = 0;
                for (int64_t z = 0; z < ez; z++)
                    for (int64_t y = 0; y < ey; y++) {
                        size_t row = (size_t)(((z0 + z) * sy + (y0 + y)) * sx + x0);
                        for (int64_t x = 0; x < ex; x++)
                            vals[m++] = get_label(labels, elem, row + (size_t)x);
                    }
                memcpy(tab, vals, m * sizeof *tab);
                qsort(tab, m, sizeof *tab, cmp_u64);
                size_t k = 0;
                for (size_t i = 0; i < m; i++)
                    if (k == 0 || tab[i] != tab[k - 1]) tab[k++] = tab[i];
                unsigned bits = 0;
                while (bits < 32 && ((uint64_t)1 << bits) < k) bits = bits ? bits * 2 : 1;

                /* packed indices */
                size_t nval = (size_t)(((uint64_t)bits * (uint64_t)bvol + 31) / 32);
                if (b.n > UINT32_MAX - nval) {
                    rc = ax__err(AX_E_RANGE, "compressed_segmentation: chunk too large to "
                                             "encode (32-bit offsets)");
                    goto out;
                }
                uint32_t voff = (uint32_t)b.n;
                if ((rc = wbuf_grow(&b, nval)) < 0) goto out;
                memset(b.w + b.n, 0, nval * sizeof *b.w);
                b.n += nval;
                if (bits) {
                    size_t i = 0, last = 0;
                    uint64_t last_v = tab[0];
                    for (int64_t z = 0; z < ez; z++)
                        for (int64_t y = 0; y < ey; y++)
                            for (int64_t x = 0; x < ex; x++, i++) {
                                if (vals[i] != last_v) {
                                    last_v = vals[i];
                                    last = find_index(tab, k, last_v);
                                }
                                uint64_t bit = (uint64_t)bits *
                                               (uint64_t)(x + bs[0] * (y + bs[1] * z));
                                b.w[voff + bit / 32] |= (uint32_t)last << (bit % 32);
                            }
                }

                /* lookup table: reuse an identical one */
                uint64_t h = table_hash(tab, k);
                size_t s = (size_t)h & (nslots - 1);
                while (slots[s].len &&
                       !(slots[s].hash == h && slots[s].len == k &&
                         table_equal(&b, slots[s].off, tab, k, elem)))
                    s = (s + 1) & (nslots - 1);
                uint32_t toff;
                if (slots[s].len) {
                    toff = slots[s].off;
                } else {
                    if (b.n > CSEG_TABLE_OFFSET_MAX) {
                        rc = ax__err(AX_E_RANGE, "compressed_segmentation: chunk too large to "
                                                 "encode (24-bit table offsets)");
                        goto out;
                    }
                    toff = (uint32_t)b.n;
                    if ((rc = wbuf_grow(&b, k * (size_t)tw)) < 0) goto out;
                    for (size_t i = 0; i < k; i++) {
                        if (tw == 1) {
                            b.w[b.n++] = (uint32_t)tab[i];
                        } else {
                            b.w[b.n++] = (uint32_t)tab[i];
                            b.w[b.n++] = (uint32_t)(tab[i] >> 32);
                        }
                    }
                    slots[s].hash = h;
                    slots[s].off = toff;
                    slots[s].len = (uint32_t)k;
                }
                size_t hb = (size_t)(bx + g[0] * (by + g[1] * bz)) * 2;
                b.w[hb] = toff | (uint32_t)bits << 24;
                b.w[hb + 1] = voff;
            }

    /* to little-endian bytes (a no-op on little-endian hosts) */
    uint8_t *bytes = (uint8_t *)b.w;
    for (size_t i = 0; i < b.n; i++) {
        uint32_t v = b.w[i];
        bytes[4 * i] = (uint8_t)v;
        bytes[4 * i + 1] = (uint8_t)(v >> 8);
        bytes[4 * i + 2] = (uint8_t)(v >> 16);
        bytes[4 * i + 3] = (uint8_t)(v >> 24);
    }
    *out = bytes;
    *out_len = b.n * 4;
    b.w = NULL;
    rc = AX_OK;
out:
    free(b.w);
    free(vals);
    free(tab);
    free(slots);
    return rc;
}

/* ---- decoder ---------------------------------------------------------------------- */

int ax__cseg_decode(const uint8_t *in, size_t in_len, int elem, const int64_t shape[3],
                    const int64_t bs[3], void *labels, const char *what)
{
    int64_t g[3], nblocks, bvol;
    int rc = check_geometry(elem, shape, bs, g, &nblocks, &bvol, what);
    if (rc < 0) return rc;
    const int64_t sx = shape[2], sy = shape[1], sz = shape[0];
    const uint64_t tw = (uint64_t)elem / 4;
    const uint64_t nwords = in_len / 4;
    if ((uint64_t)nblocks * 2 > nwords)
        return ax__err(AX_E_CORRUPT,
                       "%s: compressed_segmentation: %zu bytes cannot hold the %lld block "
                       "headers",
                       what, in_len, (long long)nblocks);

    for (int64_t bz = 0; bz < g[2]; bz++)
        for (int64_t by = 0; by < g[1]; by++)
            for (int64_t bx = 0; bx < g[0]; bx++) {
                const uint8_t *hp = in + (size_t)(bx + g[0] * (by + g[1] * bz)) * 8;
                uint32_t h0 = rd32(hp), h1 = rd32(hp + 4);
                uint64_t toff = h0 & 0xFFFFFFu, voff = h1;
                unsigned bits = h0 >> 24;
                if (bits != 0 && bits != 1 && bits != 2 && bits != 4 && bits != 8 &&
                    bits != 16 && bits != 32)
                    return ax__err(AX_E_CORRUPT,
                                   "%s: compressed_segmentation: block (%lld,%lld,%lld) "
                                   "encodes with %u bits (0,1,2,4,8,16 or 32 allowed)",
                                   what, (long long)bx, (long long)by, (long long)bz, bits);
                /* table entries that fit before the end of the input */
                uint64_t tmax = toff < nwords ? (nwords - toff) / tw : 0;
                if (tmax == 0)
                    return ax__err(AX_E_CORRUPT,
                                   "%s: compressed_segmentation: block (%lld,%lld,%lld) "
                                   "lookup table offset %llu is past the end (%llu words)",
                                   what, (long long)bx, (long long)by, (long long)bz,
                                   (unsigned long long)toff, (unsigned long long)nwords);
                int64_t x0 = bx * bs[0], y0 = by * bs[1], z0 = bz * bs[2];
                int64_t ex = sx - x0 < bs[0] ? sx - x0 : bs[0];
                int64_t ey = sy - y0 < bs[1] ? sy - y0 : bs[1];
                int64_t ez = sz - z0 < bs[2] ? sz - z0 : bs[2];
                /* the last packed word any in-volume voxel needs */
                uint64_t last_pos = (uint64_t)((ex - 1) + bs[0] * ((ey - 1) + bs[1] * (ez - 1)));
                uint64_t need = ((uint64_t)bits * (last_pos + 1) + 31) / 32;
                if (voff > nwords || need > nwords - voff)
                    return ax__err(AX_E_CORRUPT,
                                   "%s: compressed_segmentation: block (%lld,%lld,%lld) "
                                   "values at word %llu (%llu words) run past the end (%llu "
                                   "words)",
                                   what, (long long)bx, (long long)by, (long long)bz,
                                   (unsigned long long)voff, (unsigned long long)need,
                                   (unsigned long long)nwords);
                const uint8_t *tp = in + toff * 4;
                const uint8_t *vp = in + voff * 4;
                const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
                uint64_t cached_idx = 0;
                uint64_t cached_v = elem == 4 ? rd32(tp)
                                              : (uint64_t)rd32(tp) | (uint64_t)rd32(tp + 4) << 32;
                for (int64_t z = 0; z < ez; z++)
                    for (int64_t y = 0; y < ey; y++) {
                        size_t row = (size_t)(((z0 + z) * sy + (y0 + y)) * sx + x0);
                        uint64_t pos0 = (uint64_t)(bs[0] * (y + bs[1] * z));
                        for (int64_t x = 0; x < ex; x++) {
                            uint64_t idx = 0;
                            if (bits) {
                                uint64_t bit = (uint64_t)bits * (pos0 + (uint64_t)x);
                                idx = (rd32(vp + (bit / 32) * 4) >> (bit % 32)) & mask;
                            }
                            if (idx != cached_idx) {
                                if (idx >= tmax)
                                    return ax__err(
                                        AX_E_CORRUPT,
                                        "%s: compressed_segmentation: block (%lld,%lld,%lld) "
                                        "index %llu is past its lookup table",
                                        what, (long long)bx, (long long)by, (long long)bz,
                                        (unsigned long long)idx);
                                const uint8_t *e = tp + idx * tw * 4;
                                cached_v = elem == 4 ? rd32(e)
                                                     : (uint64_t)rd32(e) |
                                                           (uint64_t)rd32(e + 4) << 32;
                                cached_idx = idx;
                            }
                            put_label(labels, elem, row + (size_t)x, cached_v);
                        }
                    }
            }
    return AX_OK;
}
