/* cmd_eval.c: axon eval: score a segmentation against ground truth.
 *
 *   axon eval --seg SEG --gt GT [--json] [--ignore-gt-label L | --no-ignore] [--worst N]
 *
 * VOI split/merge (bits), adapted Rand error in three named conventions, CREMI score and
 * the worst split / merged objects; the conventions are those of include/axon/eval.h.
 * Exit 0 scored, 1 failure (message names the file), 2 usage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "cli.h"

static const char EVAL_USAGE[] =
    "usage: axon eval --seg SEG --gt GT [--json] [--ignore-gt-label L | --no-ignore] "
    "[--worst N]\n"
    "                 [--skeletons DIR|FILE.swc | --erl]\n"
    "  --skeletons: also the expected run length along these ground-truth skeletons (SWC);\n"
    "  --erl: along TEASAR skeletons of GT made here (see axon erl --help)";

/* decimal 0..2^64-1, nothing else (no sign, no junk) */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static void json_num(double x)
{
    if (isfinite(x)) printf("%.17g", x);
    else printf("null");
}

static void json_objects(const ax_eval_object *o, int n, const char *pieces_name)
{
    printf("[");
    for (int k = 0; k < n; k++)
        printf("%s{\"id\": %llu, \"bits\": %.17g, \"%s\": %llu, \"size\": %llu}", k ? ", " : "",
               (unsigned long long)o[k].id, o[k].bits, pieces_name,
               (unsigned long long)o[k].pieces, (unsigned long long)o[k].size);
    printf("]");
}

static void print_json(const char *seg, const char *gt, const ax_eval_params *p,
                       const ax_eval_result *r, double secs, const ax_erl_result *er)
{
    printf("{\"seg\": ");
    json_str(seg);
    printf(", \"gt\": ");
    json_str(gt);
    printf(", \"ignore_gt_label\": ");
    if (p->ignore_gt) printf("%llu", (unsigned long long)p->ignore_gt_label);
    else printf("null");
    printf(",\n \"voi_split\": ");
    json_num(r->voi_split);
    printf(", \"voi_merge\": ");
    json_num(r->voi_merge);
    printf(", \"voi_sum\": ");
    json_num(r->voi_split + r->voi_merge);
    printf(",\n \"arand\": ");
    json_num(r->arand);
    printf(", \"arand_precision\": ");
    json_num(r->arand_precision);
    printf(", \"arand_recall\": ");
    json_num(r->arand_recall);
    printf(", \"arand_seg0_label\": ");
    json_num(r->arand_seg0_label);
    printf(", \"arand_skimage\": ");
    json_num(r->arand_skimage);
    printf(", \"cremi_score\": ");
    json_num(r->cremi_score);
    printf(",\n \"voxels_total\": %llu, \"voxels_scored\": %llu, \"voxels_ignored\": %llu, "
           "\"voxels_seg0\": %llu, \"gt_labels\": %llu, \"seg_labels\": %llu, \"pairs\": %llu,\n",
           (unsigned long long)r->voxels_total, (unsigned long long)r->voxels_scored,
           (unsigned long long)r->voxels_ignored, (unsigned long long)r->voxels_seg0,
           (unsigned long long)r->gt_labels, (unsigned long long)r->seg_labels,
           (unsigned long long)r->pairs);
    printf(" \"worst_split\": ");
    json_objects(r->worst_split, r->n_worst_split, "seg_pieces");
    printf(",\n \"worst_merge\": ");
    json_objects(r->worst_merge, r->n_worst_merge, "gt_objects");
    if (er)
        printf(",\n \"erl\": {\"erl_nm\": %.17g, \"max_erl_nm\": %.17g, \"total_length_nm\": %.17g, \"skeletons\": %lld, "
               "\"merges\": %lld, \"splits\": %lld}",
               er->erl, er->max_erl, er->total_length, (long long)er->skeletons, (long long)er->merges,
               (long long)er->splits);
    printf(",\n \"seconds\": %.3f, \"peak_rss_MiB\": %.1f}\n", secs, mib(ax_peak_rss_bytes()));
}

static void print_table(const char *seg, const char *gt, const ax_eval_params *p,
                        const ax_eval_result *r)
{
    printf("seg: %s\ngt:  %s\n", seg, gt);
    if (p->ignore_gt)
        printf("voxels: %llu scored of %llu (%llu with gt label %llu ignored); seg label 0 on "
               "%llu scored\n",
               (unsigned long long)r->voxels_scored, (unsigned long long)r->voxels_total,
               (unsigned long long)r->voxels_ignored, (unsigned long long)p->ignore_gt_label,
               (unsigned long long)r->voxels_seg0);
    else
        printf("voxels: %llu scored (no gt label ignored); seg label 0 on %llu\n",
               (unsigned long long)r->voxels_scored, (unsigned long long)r->voxels_seg0);
    printf("labels: %llu gt, %llu seg, %llu (seg, gt) pairs\n\n",
           (unsigned long long)r->gt_labels, (unsigned long long)r->seg_labels,
           (unsigned long long)r->pairs);
    printf("VOI split   H(seg|gt)           %10.6f bits\n", r->voi_split);
    printf("VOI merge   H(gt|seg)           %10.6f bits\n", r->voi_merge);
    printf("VOI sum                         %10.6f bits\n", r->voi_split + r->voi_merge);
    printf("ARAND       SNEMI3D/CREMI       %10.6f   (seg 0 voxels as singletons; "
           "precision %.6f, recall %.6f)\n",
           r->arand, r->arand_precision, r->arand_recall);
    printf("ARAND       seg 0 as a label    %10.6f\n", r->arand_seg0_label);
    printf("ARAND       skimage             %10.6f   (pairs of distinct voxels, seg 0 a label)\n",
           r->arand_skimage);
    printf("CREMI score sqrt(ARAND*VOI sum) %10.6f\n", r->cremi_score);
    if (r->n_worst_split) {
        printf("\nworst splits (gt objects cut into seg pieces):\n");
        printf("  %20s %12s %10s %12s\n", "gt id", "VOI bits", "seg pieces", "voxels");
        for (int k = 0; k < r->n_worst_split; k++)
            printf("  %20llu %12.6f %10llu %12llu\n", (unsigned long long)r->worst_split[k].id,
                   r->worst_split[k].bits, (unsigned long long)r->worst_split[k].pieces,
                   (unsigned long long)r->worst_split[k].size);
    }
    if (r->n_worst_merge) {
        printf("\nworst merges (seg objects spanning gt objects):\n");
        printf("  %20s %12s %10s %12s\n", "seg id", "VOI bits", "gt objects", "voxels");
        for (int k = 0; k < r->n_worst_merge; k++)
            printf("  %20llu %12.6f %10llu %12llu\n", (unsigned long long)r->worst_merge[k].id,
                   r->worst_merge[k].bits, (unsigned long long)r->worst_merge[k].pieces,
                   (unsigned long long)r->worst_merge[k].size);
    }
}

int cmd_eval(int argc, char **argv)
{
    const char *seg_path = NULL, *gt_path = NULL, *skel_path = NULL;
    bool json = false, no_ignore = false, have_label = false, want_erl = false;
    ax_eval_params p = ax_eval_params_default();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--seg") && more) seg_path = argv[++i];
        else if (!strcmp(a, "--gt") && more) gt_path = argv[++i];
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--erl")) want_erl = true;
        else if (!strcmp(a, "--skeletons") && more) skel_path = argv[++i], want_erl = true;
        else if (!strcmp(a, "--no-ignore")) no_ignore = true;
        else if (!strcmp(a, "--ignore-gt-label") && more) {
            if (!parse_u64(argv[++i], &p.ignore_gt_label))
                return usage_error("eval: --ignore-gt-label '%s': a label from 0 to "
                                   "18446744073709551615",
                                   argv[i]);
            have_label = true;
        } else if (!strcmp(a, "--worst") && more) {
            int64_t n;
            if (!parse_i64(argv[++i], &n) || n < 0 || n > 1000000)
                return usage_error("eval: --worst '%s': a number from 0 to 1000000", argv[i]);
            p.worst = (int)n;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s\n", EVAL_USAGE);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            bool takes_value = !strcmp(a, "--seg") || !strcmp(a, "--gt") || !strcmp(a, "--skeletons") ||
                               !strcmp(a, "--ignore-gt-label") || !strcmp(a, "--worst");
            return usage_error(takes_value ? "eval: %s needs a value" : "eval: unknown option %s",
                               a);
        } else {
            return usage_error("eval: unexpected argument %s (use --seg and --gt)", a);
        }
    }
    if (!seg_path || !gt_path) return usage_error("eval: %s", EVAL_USAGE);
    if (no_ignore && have_label)
        return usage_error("eval: %s", "--no-ignore and --ignore-gt-label exclude each other");
    if (no_ignore) p.ignore_gt = false;

    ax_volume *seg = NULL, *gt = NULL;
    int rc = ax_volume_open(seg_path, AX_OPEN_READ, &seg);
    if (rc < 0) return fail(rc);
    if ((rc = ax_volume_open(gt_path, AX_OPEN_READ, &gt)) < 0) {
        ax_volume_close(seg);
        return fail(rc);
    }
    /* Blocks follow seg's chunk grid, so each seg chunk is decoded once and caching it
     * only costs memory; so is each gt chunk when gt is chunked alike. Otherwise gt
     * keeps its cache (neighbouring blocks share the chunks that straddle them). An
     * explicit AX_CACHE_MB wins. */
    const char *cache_env = getenv("AX_CACHE_MB");
    if (!cache_env || !*cache_env) {
        const ax_volume_info *is = ax_volume_get_info(seg), *ig = ax_volume_get_info(gt);
        ax_volume_set_cache_bytes(seg, 0);
        if (is->ndim >= 3 && ig->ndim >= 3 &&
            !memcmp(is->chunks + is->ndim - 3, ig->chunks + ig->ndim - 3, 3 * sizeof(int64_t)))
            ax_volume_set_cache_bytes(gt, 0);
    }
    double t0 = ax_time_now();
    ax_eval_result r;
    rc = ax_eval_volumes(seg, gt, &p, &r);
    /* ERL along skeletons: given as SWC, or made from gt here */
    ax_erl_result er;
    if (rc == AX_OK && want_erl) {
        ax_skeleton **sk = NULL;
        int64_t nsk = 0;
        if (skel_path) {
            if (load_swc_dir(skel_path, &sk, &nsk)) rc = AX_E_IO;
        } else {
            ax_skel_params sp = ax_skel_params_default();
            if ((rc = ax_skeletonize_volume(gt, &sp, &sk, &nsk)) < 0) fail(rc);
        }
        if (rc == AX_OK && (rc = ax_erl_volume(sk, nsk, seg, &er)) < 0) fail(rc);
        ax_skeletons_free(sk, nsk);
        if (rc < 0) {
            ax_eval_result_clear(&r);
            ax_volume_close(seg);
            ax_volume_close(gt);
            return 1;
        }
    }
    double secs = ax_time_now() - t0;
    ax_volume_close(seg);
    ax_volume_close(gt);
    if (rc < 0) return fail(rc);
    if (json) print_json(seg_path, gt_path, &p, &r, secs, want_erl ? &er : NULL);
    else {
        print_table(seg_path, gt_path, &p, &r);
        if (want_erl)
            printf("\nERL         %.4g um of %.4g um for a perfect segmentation (%.1f%%), along %lld skeletons "
                   "(%.4g um); %lld merges, %lld splits\n",
                   er.erl / 1000, er.max_erl / 1000, er.max_erl > 0 ? 100 * er.erl / er.max_erl : 0,
                   (long long)er.skeletons, er.total_length / 1000, (long long)er.merges, (long long)er.splits);
    }
    fflush(stdout);
    if (!g_quiet && !json)
        fprintf(stderr, "axon: eval took %.2f s, peak RSS %.1f MiB\n", secs,
                mib(ax_peak_rss_bytes()));
    ax_eval_result_clear(&r);
    return 0;
}
