/* Small-batch GEMM, y[m][n] = sum_k x[m][k] * w[k][n], with float32 or float16 weights and float32
 * arithmetic: the kernel benchmarks/probes/batch1_f16.py times (batch-1 latency). A probe, not
 * product code. Weights are packed as [n / 16][k][16] so one pass streams them once; x has 12 rows (padded
 * with zero rows by the caller when fewer), one AVX-512 accumulator each per 16 columns. Build: gcc -O3 -march=native -shared -fPIC. */
#include <immintrin.h>
#include <stdint.h>

#define ROWS_MAX 12

static inline __m512 load_w32(const float *w) { return _mm512_loadu_ps(w); }
static inline __m512 load_w16(const uint16_t *w) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w)); }

#define KERNEL(NAME, WTYPE, LOAD)                                                                  \
    void NAME(const float *x, int rows, int k, int n, const WTYPE *w, float *y) {                  \
        for (int j = 0; j < n; j += 16) {                                                          \
            const WTYPE *panel = w + (int64_t)j * k; /* [k][16] for columns j..j+15 */             \
            __m512 acc[ROWS_MAX];                                                                  \
            for (int m = 0; m < ROWS_MAX; m++) acc[m] = _mm512_setzero_ps();                       \
            for (int i = 0; i < k; i++) { /* ROWS_MAX is a constant: 12 accumulators in registers */ \
                __m512 wv = LOAD(panel + (int64_t)i * 16);                                         \
                for (int m = 0; m < ROWS_MAX; m++)                                                 \
                    acc[m] = _mm512_fmadd_ps(_mm512_set1_ps(x[m * k + i]), wv, acc[m]);            \
            }                                                                                      \
            for (int m = 0; m < rows; m++) _mm512_storeu_ps(y + m * n + j, acc[m]);                \
        }                                                                                          \
    }

KERNEL(gemm_w32, float, load_w32)
KERNEL(gemm_w16, uint16_t, load_w16)
