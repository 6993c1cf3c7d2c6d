// SIMD kernels Swift cannot emit without unsafe flags: each has a portable C version and AVX2/FMA variants chosen
// at run time with __builtin_cpu_supports. The portable versions are the reference the tests compare against.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Dot product of two float arrays.
float vane_dot_f32(const float *a, const float *b, size_t n);
float vane_dot_f32_naive(const float *a, const float *b, size_t n);
