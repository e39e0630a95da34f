// Element-wise kernels of the models' numerics that Swift cannot vectorise: Swift's `Float.squareRoot()` keeps C's
// errno semantics (a scalar `sqrtss`, and a call to `sqrtf` for a negative input), so a loop over it stays scalar.
// Here clang's element-wise builtins give vector square roots and divisions, correctly rounded as IEEE 754 requires,
// so the results are bit for bit those of the scalar loop. Only Sources/Model/Optim/Optimizer.swift imports this.
#ifndef RECPOOL_NUMERICS_H
#define RECPOOL_NUMERICS_H

#include <stddef.h>
#include <string.h>

typedef float recpool_float4 __attribute__((ext_vector_type(4)));

/// One Adam step over `n` parameters (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization",
/// Algorithm 1), in place:
///   m ← β₁·m + (1 − β₁)·g,  v ← β₂·v + (1 − β₂)·g·g,  p ← p − lr·(m·c₁) / (√(v·c₂) + ε),
/// with c₁ = 1 / (1 − β₁ᵗ) and c₂ = 1 / (1 − β₂ᵗ) the bias corrections for step t. Every product and sum is
/// rounded on its own, in the order written (no fused multiply-add), so the result does not depend on the
/// vector width. The four arrays must not overlap.
static inline void recpool_adam_update(float *restrict p, const float *restrict g, float *restrict m,
                                       float *restrict v, ptrdiff_t n, float lr, float beta1, float beta2,
                                       float epsilon, float c1, float c2) {
#pragma clang fp contract(off)
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        recpool_float4 gi, mi, vi, pi;
        memcpy(&gi, g + i, sizeof gi);
        memcpy(&mi, m + i, sizeof mi);
        memcpy(&vi, v + i, sizeof vi);
        memcpy(&pi, p + i, sizeof pi);
        mi = beta1 * mi + a1 * gi;
        vi = beta2 * vi + a2 * gi * gi;
        pi -= lr * (mi * c1) / (__builtin_elementwise_sqrt(vi * c2) + epsilon);
        memcpy(m + i, &mi, sizeof mi);
        memcpy(v + i, &vi, sizeof vi);
        memcpy(p + i, &pi, sizeof pi);
    }
    for (; i < n; i++) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + a1 * gi;
        const float vi = beta2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * (mi * c1) / (__builtin_elementwise_sqrt(vi * c2) + epsilon);
    }
}

#endif
