// The HDF5 C library. Only Sources/XbarSim/IO imports this module.
//
// In HDF5 1.10 many constants are macros that call H5open() (H5F_ACC_RDONLY,
// H5T_NATIVE_FLOAT, ...) or casts (H5P_DEFAULT), which Swift cannot import.
// These inline functions hand them to Swift.
#include <hdf5.h>

static inline unsigned xbar_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned xbar_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned xbar_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t xbar_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t xbar_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t xbar_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t xbar_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t xbar_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t xbar_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t xbar_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t xbar_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t xbar_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t xbar_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t xbar_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t xbar_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t xbar_H5T_VARIABLE(void) { return H5T_VARIABLE; }

/// Silences HDF5's automatic error-stack printing; XbarSim reports errors itself.
static inline void xbar_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Frees the strings H5Aread/H5Dread allocated for a variable-length string read.
static inline herr_t xbar_H5_reclaim_strings(hid_t memtype, hid_t space, char **buffer) {
    return H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, buffer);
}
