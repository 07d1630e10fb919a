/* section.c: 2-d scores of a boundary map, section by section, as in the ISBI 2012
 * challenge (Arganda-Carreras et al. 2015): pixel error, foreground-restricted Rand and
 * information scores after thinning the predicted borders to nothing.
 *
 * A section's predicted cells are the 4-connected components of boundary <= t; every
 * border pixel then joins the cell that reaches it first in a breadth-first growth from
 * all cells at once (sources in raster order; neighbours -y, -x, +x, +y), so no pixel is
 * left unlabelled. Scores are counted on the ground truth's cell pixels only (its label
 * 0, the membranes, is left out), which is what "foreground-restricted" means there.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "axon/eval.h"

int64_t ax_section_cells(const uint8_t *is_cell, int64_t h, int64_t w, uint64_t *labels)
{
    size_t n = (size_t)(h * w);
    int64_t *queue = malloc((n ? n : 1) * sizeof *queue);
    if (!queue) return ax__err(AX_E_NOMEM, "section: out of memory for %lld pixels", (long long)n);
    memset(labels, 0, n * sizeof *labels);
    uint64_t next = 0;
    for (int64_t s = 0; s < (int64_t)n; s++) {
        if (!is_cell[s] || labels[s]) continue;
        labels[s] = ++next;
        size_t head = 0, tail = 0;
        queue[tail++] = s;
        while (head < tail) {
            int64_t p = queue[head++], y = p / w, x = p % w;
            int64_t nb[4] = {y > 0 ? p - w : -1, x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1,
                             y + 1 < h ? p + w : -1};
            for (int k = 0; k < 4; k++)
                if (nb[k] >= 0 && is_cell[nb[k]] && !labels[nb[k]]) {
                    labels[nb[k]] = next;
                    queue[tail++] = nb[k];
                }
        }
    }
    free(queue);
    return (int64_t)next;
}

int ax_section_grow(uint64_t *labels, int64_t h, int64_t w)
{
    size_t n = (size_t)(h * w), head = 0, tail = 0;
    int64_t *queue = malloc((n ? n : 1) * sizeof *queue);
    if (!queue) return ax__err(AX_E_NOMEM, "section: out of memory for %lld pixels", (long long)n);
    for (size_t p = 0; p < n; p++)
        if (labels[p]) queue[tail++] = (int64_t)p;
    while (head < tail) {
        int64_t p = queue[head++], y = p / w, x = p % w;
        int64_t nb[4] = {y > 0 ? p - w : -1, x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1, y + 1 < h ? p + w : -1};
        for (int k = 0; k < 4; k++)
            if (nb[k] >= 0 && !labels[nb[k]]) {
                labels[nb[k]] = labels[p];
                queue[tail++] = nb[k];
            }
    }
    free(queue);
    return AX_OK;
}

int ax_eval_section(const float *boundary, const uint64_t *gt_cells, int64_t h, int64_t w, float threshold,
                    ax_section_scores *s)
{
    memset(s, 0, sizeof *s);
    if (h < 1 || w < 1) return ax__err(AX_E_INVALID, "section: empty section %lld x %lld", (long long)h, (long long)w);
    size_t n = (size_t)(h * w);
    uint8_t *cell = malloc(n);
    uint64_t *seg = malloc(n * sizeof *seg);
    int rc = cell && seg ? AX_OK : ax__err(AX_E_NOMEM, "section: out of memory for %lld pixels", (long long)n);
    uint64_t wrong = 0, fg = 0;
    for (size_t p = 0; rc == AX_OK && p < n; p++) {
        float b = boundary[p];
        if (!(b >= 0.0f && b <= 1.0f)) {
            rc = ax__err(AX_E_INVALID, "section: boundary value %g at pixel (y=%lld, x=%lld) is not in [0, 1]",
                         (double)b, (long long)(p / (size_t)w), (long long)(p % (size_t)w));
            break;
        }
        cell[p] = b <= threshold;
        wrong += cell[p] != (gt_cells[p] != 0);
        fg += gt_cells[p] != 0;
    }
    if (rc == AX_OK) {
        s->pixels = n;
        s->pixel_error = (double)wrong / (double)n;
        s->cells = (uint64_t)ax_section_cells(cell, h, w, seg);
        rc = ax_section_grow(seg, h, w);
    }
    if (rc == AX_OK && fg == 0) {
        /* nothing to score: a section of membrane only */
        s->scored = 0;
        s->rand_error = s->info_error = 0;
    } else if (rc == AX_OK) {
        ax_eval_params ep = ax_eval_params_default();
        ep.worst = 0;
        ax_eval_result r;
        if ((rc = ax_eval_arrays(seg, gt_cells, n, &ep, &r)) == AX_OK) {
            s->scored = r.voxels_scored;
            s->rand_error = r.arand; /* 1 - V_rand: no seg 0 is left after the growth */
            s->voi_split = r.voi_split;
            s->voi_merge = r.voi_merge;
            double mi = r.h_gt - r.voi_merge, hs = r.h_seg + r.h_gt;
            /* V_info = 2 I / (H(S) + H(T)); one object on both sides is a perfect match */
            s->info_error = hs > 0 ? 1.0 - 2.0 * mi / hs : 0.0;
            if (s->info_error < 0) s->info_error = 0;
            ax_eval_result_clear(&r);
        }
    }
    free(cell);
    free(seg);
    return rc;
}
