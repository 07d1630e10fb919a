/* axon/eval.h: scoring a segmentation against ground truth (VOI, adapted Rand error,
 * CREMI score) and listing the objects that cost the most.
 *
 * Everything is computed from the contingency table: n_ij = the number of voxels with
 * ground-truth label i and segmentation label j. The table is a hash of the distinct
 * (seg, gt) pairs that occur, so memory grows with the number of label pairs, never with
 * the number of voxels; volumes stream through it block by block.
 *
 * CONVENTIONS (docs/segmentation.md has the long form). N is the number of scored voxels,
 * a_i = sum_j n_ij the size of gt object i, b_j = sum_i n_ij the size of seg object j.
 *  - Ignored voxels: a voxel whose gt label equals the ignore label (default 0) is left
 *    out of every metric, whatever its seg label (CREMI ignore_groundtruth=[0]; skimage
 *    ignore_labels=(0,)). The segmentation has no ignore label.
 *  - Labels are uint64 values, all 2^64 of them ordinary ids (labels >= 2^63 included);
 *    volumes of other integer dtypes are converted by value (a negative value is an
 *    error, never a wrapped id).
 *  - VOI (Meila 2007), in bits (log base 2). Seg label 0 is an ordinary label here, as in
 *    CREMI's voi() (ignore_reconstruction=[]) and skimage:
 *        voi_split = H(seg|gt) = (1/N) sum_ij n_ij log2(a_i / n_ij)   (over-segmentation)
 *        voi_merge = H(gt|seg) = (1/N) sum_ij n_ij log2(b_j / n_ij)   (under-segmentation)
 *    = skimage.metrics.variation_of_information(gt, seg, ignore_labels=[L]) (in that
 *    order: its result is [H(image1|image0), H(image0|image1)]).
 *  - Adapted Rand error, three named variants, each 1 - F with F = 2 P R / (P + R),
 *    P = J / B (precision: pairs together in seg that are together in gt) and R = J / A
 *    (recall); A, B, J count voxel pairs together in gt, in seg, in both:
 *      arand             SNEMI3D / CREMI convention: pairs drawn with replacement (sums
 *                        of squared counts, A = sum a_i^2 ...) and seg label 0 voxels
 *                        counted as singletons (each its own object, adding 1 to B and
 *                        to J per voxel), as defined by Arganda-Carreras et al. 2015
 *                        (squared joint probabilities). cremi_python's rand.py (from
 *                        gala) builds a count table but divides the singleton term by
 *                        the volume size n, so there a seg-0 voxel weighs 1/n instead of
 *                        1: the two errors differ by less than
 *                        2 Z / (sum_i a_i^2 + sum_{j!=0} b_j^2), Z = scored voxels with
 *                        seg 0, and not at all when seg has no label 0.
 *      arand_seg0_label  as arand but seg label 0 an ordinary object: the same formula
 *                        without the singleton term (equal to arand when seg has no 0).
 *      arand_skimage     pairs of distinct voxels (sum n(n-1)), seg 0 an ordinary object
 *                        = skimage.metrics.adapted_rand_error(gt, seg, ignore_labels=
 *                        [L])[0] (the "precision" it returns is J/A: our recall). NaN
 *                        where skimage's is undefined (no two scored voxels share a gt
 *                        label, or none share a seg label); 1 where no pair shares both
 *                        (skimage: NaN from 0/0).
 *  - cremi_score = sqrt(arand * (voi_split + voi_merge)), the CREMI leaderboard's
 *    geometric mean.
 * Sums of squares are exact (128-bit integers); entropies are sums of non-negative terms
 * n log2(a/n) taken in a fixed order, so results do not depend on the thread count, the
 * block shape or the order voxels were added in.
 *
 * Thread-safety: an ax_contingency is not to be shared between threads without a lock;
 * give each thread its own and ax_contingency_merge() them (ax_eval_volumes does this).
 */
#ifndef AXON_EVAL_H
#define AXON_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- contingency table ------------------------------------------------------------ */

typedef struct ax_contingency ax_contingency;

/* A new, empty table into *out (NULL on failure). Free with ax_contingency_free. */
AX_API int ax_contingency_new(ax_contingency **out);
/* NULL is a no-op. */
AX_API void ax_contingency_free(ax_contingency *c);
/* Forget every count, keeping the memory (for reuse block after block). */
AX_API void ax_contingency_clear(ax_contingency *c);

/* Count n voxels: seg[k] and gt[k] are the two labels of voxel k. Nothing is filtered
 * here (the ignore label is applied when scoring). Runs of equal pairs cost one hash
 * update. AX_E_NOMEM if the table cannot grow; the runs added before stay counted. */
AX_API int ax_contingency_add(ax_contingency *c, const uint64_t *seg, const uint64_t *gt,
                              size_t n);
/* dst += src (src unchanged). AX_E_NOMEM as above. */
AX_API int ax_contingency_merge(ax_contingency *dst, const ax_contingency *src);

/* Voxels added so far, and distinct (seg, gt) pairs among them. */
AX_API uint64_t ax_contingency_voxels(const ax_contingency *c);
AX_API uint64_t ax_contingency_pairs(const ax_contingency *c);

/* ---- scores ----------------------------------------------------------------------- */

typedef struct ax_eval_params {
    bool ignore_gt;           /* leave out voxels whose gt label is ignore_gt_label
                                 (default true) */
    uint64_t ignore_gt_label; /* default 0 */
    int worst;                /* length of the worst-object lists, 0..1000000 (default 10) */
} ax_eval_params;

AX_API ax_eval_params ax_eval_params_default(void);

/* One object in a worst list. For a split (gt object i): bits = its share of voi_split,
 * (1/N) sum_j n_ij log2(a_i/n_ij); pieces = distinct seg labels it overlaps; size = a_i.
 * For a merge (seg object j): bits = its share of voi_merge; pieces = distinct gt objects
 * it overlaps; size = b_j. The shares of all objects sum to voi_split / voi_merge. */
typedef struct ax_eval_object {
    uint64_t id;
    double bits;
    uint64_t pieces;
    uint64_t size;
} ax_eval_object;

typedef struct ax_eval_result {
    double voi_split;         /* H(seg|gt), bits */
    double voi_merge;         /* H(gt|seg), bits */
    double h_seg, h_gt;       /* H(seg), H(gt), bits (mutual information = h_gt - voi_merge) */
    double arand;             /* SNEMI3D/CREMI: seg 0 voxels as singletons */
    double arand_precision;   /* its P and R */
    double arand_recall;
    double arand_seg0_label;  /* same, seg 0 an ordinary object */
    double arand_skimage;     /* pairs of distinct voxels, seg 0 an ordinary object */
    double cremi_score;       /* sqrt(arand * (voi_split + voi_merge)) */
    uint64_t voxels_total;    /* voxels seen */
    uint64_t voxels_scored;   /* N: voxels_total less the ignored ones */
    uint64_t voxels_ignored;  /* gt label == ignore label */
    uint64_t voxels_seg0;     /* scored voxels with seg label 0 */
    uint64_t gt_labels;       /* distinct gt labels among scored voxels */
    uint64_t seg_labels;      /* distinct seg labels among scored voxels (0 included) */
    uint64_t pairs;           /* distinct (seg, gt) pairs among scored voxels */
    /* worst objects, largest share first (ties: smaller id first): at most `worst`
     * entries each, only objects with a non-zero share (pieces >= 2). Owned by the
     * result: release with ax_eval_result_clear(). */
    ax_eval_object *worst_split; /* gt objects split across seg labels */
    ax_eval_object *worst_merge; /* seg objects spanning gt objects */
    int n_worst_split;
    int n_worst_merge;
} ax_eval_result;

/* Free the worst lists and zero *r. Safe on a zeroed or already cleared result. */
AX_API void ax_eval_result_clear(ax_eval_result *r);

/* Score a table (p NULL: defaults). *r is overwritten (call ax_eval_result_clear on a
 * result you reuse). AX_E_INVALID when nothing is left to score (no voxels, or every one
 * has the ignore label). Memory: O(pairs). */
AX_API int ax_contingency_score(const ax_contingency *c, const ax_eval_params *p,
                                ax_eval_result *r);

/* Score two label arrays of n voxels each (seg, gt), counted on the thread pool. */
AX_API int ax_eval_arrays(const uint64_t *seg, const uint64_t *gt, size_t n,
                          const ax_eval_params *p, ax_eval_result *r);

/* Score two label volumes of any integer dtype (or float32 holding whole numbers; a
 * fractional value is AX_E_RANGE naming the file). Both are 3-d (z, y, x), or 4-d with a
 * single channel; their spatial shapes must be equal (AX_E_RANGE naming both files and
 * shapes otherwise). Read in blocks aligned with seg's chunks, on the thread pool, with
 * a progress display; memory O(pairs + threads x block). */
AX_API int ax_eval_volumes(ax_volume *seg, ax_volume *gt, const ax_eval_params *p,
                           ax_eval_result *r);

/* ---- 2-d section scores (ISBI 2012) ------------------------------------------------ */

/* 4-connected components of the pixels with is_cell != 0 in an h x w section: labels
 * 1..n in raster order of first pixel, 0 elsewhere. Returns n, or a negative error. */
AX_API int64_t ax_section_cells(const uint8_t *is_cell, int64_t h, int64_t w, uint64_t *labels);

/* Give every 0 pixel the label of the cell that reaches it first in a breadth-first
 * growth from all labelled pixels at once (queued in raster order; neighbours -y, -x, +x,
 * +y): the borders thinned to nothing. A section without labels stays all 0. */
AX_API int ax_section_grow(uint64_t *labels, int64_t h, int64_t w);

typedef struct ax_section_scores {
    double pixel_error; /* share of pixels where (boundary > t) != (gt label == 0) */
    double rand_error;  /* 1 - V_rand, foreground-restricted (gt label 0 left out) */
    double info_error;  /* 1 - V_info, V_info = 2 I(S;T) / (H(S) + H(T)), same pixels */
    double voi_split, voi_merge; /* H(S|T), H(T|S) in bits, same pixels */
    uint64_t pixels, scored, cells; /* section size, gt cell pixels, predicted cells */
} ax_section_scores;

/* ISBI 2012 scores of one h x w section: boundary in [0, 1] (1 = membrane; NaN or
 * outside is AX_E_INVALID naming the pixel), gt_cells the true cells (0 = membrane).
 * The predicted cells are the 4-connected components of boundary <= threshold, grown
 * over the borders with ax_section_grow. */
AX_API int ax_eval_section(const float *boundary, const uint64_t *gt_cells, int64_t h, int64_t w,
                           float threshold, ax_section_scores *s);

/* ---- expected run length (ERL) ---------------------------------------------------- */

typedef struct ax_skeleton ax_skeleton; /* axon/skel.h */

/* ERL in the funlib.evaluate / FFN sense. Every ground-truth skeleton vertex takes the
 * segment id under it; an edge counts toward (skeleton s, segment g) when both its ends
 * lie in g. A segment under vertices of two or more skeletons is a merge: all its edges
 * count zero, and so do edges in segment 0 (unsegmented) and edges whose ends lie in
 * different segments (splits). With l_sg the summed edge length of (s, g) and L the total
 * length of all skeletons,
 *     ERL = sum_sg l_sg^2 / L     (nm; a perfect segmentation gives sum_s L_s^2 / L).
 * l_sg sums all of s's edges in g, connected or not, as funlib does. */
typedef struct ax_erl_result {
    double erl;             /* nm */
    double total_length;    /* L, nm */
    double max_erl;         /* the perfect score, sum_s L_s^2 / L, nm */
    int64_t skeletons;      /* skeletons with at least one edge */
    int64_t merges;         /* segments under two or more skeletons (0 excluded) */
    int64_t splits;         /* sum over skeletons of (distinct non-zero segments - 1) */
    int64_t split_edges;    /* edges whose ends lie in different segments */
    int64_t omitted_edges;  /* edges with an end in segment 0 */
    int64_t merged_edges;   /* edges inside merge segments */
} ax_erl_result;

/* ERL of skeletons sk[0..n) whose vertex v of skeleton i lies in segment seg[i][v]. */
AX_API int ax_erl_lut(ax_skeleton *const *sk, int64_t n, const uint64_t *const *seg, ax_erl_result *r);

/* ERL of a segmentation volume: each vertex (x, y, z nm) is looked up at voxel
 * floor((p - offset) / voxel_size) of seg (3-d, integer labels); a vertex outside the
 * volume is in segment 0. */
AX_API int ax_erl_volume(ax_skeleton *const *sk, int64_t n, ax_volume *seg, ax_erl_result *r);

#ifdef __cplusplus
}
#endif
#endif /* AXON_EVAL_H */
