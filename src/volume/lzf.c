/* lzf.c: decoder for LZF (Marc Lehmann's liblzf format), used by h5py's HDF5 filter 32000.
 * Written from the format: a control byte < 32 starts a run of ctrl+1 literals; otherwise
 * the top 3 bits are a length (7 = read one more length byte), the low 5 bits and the next
 * byte an offset back into the output, and len+2 bytes are copied (overlap allowed).
 * Every read and write is bounds-checked: malformed input returns -1, never overruns. */
#include "volume/volume_int.h"

long ax__lzf_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t ip = 0, op = 0;
    while (ip < n) {
        unsigned ctrl = in[ip++];
        if (ctrl < 32) {
            size_t len = (size_t)ctrl + 1;
            if (ip + len > n || op + len > cap) return -1;
            for (size_t k = 0; k < len; k++) out[op + k] = in[ip + k];
            ip += len;
            op += len;
        } else {
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= n) return -1;
                len += in[ip++];
            }
            if (ip >= n) return -1;
            size_t back = ((size_t)(ctrl & 0x1f) << 8) + in[ip++] + 1;
            len += 2;
            if (back > op || op + len > cap) return -1;
            size_t ref = op - back;
            for (size_t k = 0; k < len; k++) out[op + k] = out[ref + k];
            op += len;
        }
    }
    return (long)op;
}
