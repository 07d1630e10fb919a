/* cseg.c: placeholder until compressed_segmentation lands. */
#include "volume/volume_int.h"
int ax__cseg_encode(const void *labels, int elem, const int64_t shape[3], const int64_t bs[3],
                    uint8_t **out, size_t *out_len)
{
    (void)labels; (void)elem; (void)shape; (void)bs; (void)out; (void)out_len;
    return ax__err(AX_E_UNSUPPORTED, "compressed_segmentation: not built yet");
}
int ax__cseg_decode(const uint8_t *in, size_t in_len, int elem, const int64_t shape[3],
                    const int64_t bs[3], void *labels, const char *what)
{
    (void)in; (void)in_len; (void)elem; (void)shape; (void)bs; (void)labels;
    return ax__err(AX_E_UNSUPPORTED, "%s: compressed_segmentation: not built yet", what);
}
