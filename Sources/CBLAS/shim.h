// OpenBLAS's CBLAS interface. Only Sources/XbarSim/Tensor imports this module.
#include <cblas.h>

// openblas_set_num_threads / openblas_get_num_threads are declared in cblas.h by
// OpenBLAS; re-declared here so the shim also documents what XbarSim uses.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
