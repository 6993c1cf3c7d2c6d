#include <cblas.h>

/* LAPACK's divide-and-conquer SVD, which OpenBLAS exports (Fortran calling convention; no LAPACKE there). */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info);
