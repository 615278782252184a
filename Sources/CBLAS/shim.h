// OpenBLAS's CBLAS interface. Only Sources/XbarSim/Tensor imports this module.
#include <cblas.h>

// openblas_set_num_threads / openblas_get_num_threads are declared in cblas.h by
// OpenBLAS; re-declared here so the shim also documents what XbarSim uses.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// LAPACK (Fortran interface, exported by libopenblas; there is no lapacke.h here).
// Integers are 32-bit (OpenBLAS without INTERFACE64). Each CHARACTER argument has a
// hidden trailing length, passed explicitly so the call is correct for both OpenBLAS's
// C implementations and the reference Fortran ones.
#include <stddef.h>
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b,
             const int *ldb, int *info, size_t uplo_len);
