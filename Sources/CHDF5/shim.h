// The only place that sees HDF5's macros. Type ids, access flags and property-list classes are macros over
// library globals (they call H5open() first), which Swift cannot import; these inline functions return them.
#ifndef VANE_CHDF5_SHIM_H
#define VANE_CHDF5_SHIM_H

#include <hdf5.h>
#include <string.h>

static inline hid_t vane_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t vane_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t vane_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline size_t vane_H5T_VARIABLE(void) { return H5T_VARIABLE; }

static inline unsigned vane_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned vane_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned vane_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned vane_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

static inline hid_t vane_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t vane_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t vane_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }

// Memory types.
static inline hid_t vane_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t vane_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t vane_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t vane_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
// File types: little-endian whatever the host, so files read the same everywhere.
static inline hid_t vane_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t vane_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t vane_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t vane_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t vane_H5T_C_S1(void) { return H5T_C_S1; }

// Frees the memory libhdf5 allocated when reading variable-length data (H5Treclaim from 1.12 on; 1.10 has
// only H5Dvlen_reclaim, and its header declares H5Treclaim without the library exporting it).
static inline herr_t vane_h5_reclaim(hid_t type, hid_t space, void *buffer) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

// libhdf5 prints its error stack to stderr on every failure by default; Vane reports errors as thrown values
// instead. The setting lives in the calling thread's error stack, so it is applied once per thread.
static inline void vane_h5_silence_error_printing(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        silenced = 1;
    }
}

typedef struct {
    char *buffer;
    size_t capacity;
} vane_h5_error_text;

static herr_t vane_h5_take_innermost(unsigned n, const H5E_error2_t *entry, void *context) {
    vane_h5_error_text *text = (vane_h5_error_text *)context;
    if (n == 0 && entry->desc != NULL) {
        strncpy(text->buffer, entry->desc, text->capacity - 1);
        text->buffer[text->capacity - 1] = '\0';
    }
    return 0;
}

// Copies the description of the most specific entry on the calling thread's error stack (where the failure
// was detected, e.g. "file signature not found") into buffer; leaves "" when the stack is empty.
static inline void vane_h5_innermost_error(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = '\0';
    vane_h5_error_text text = { buffer, capacity };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, vane_h5_take_innermost, &text);
}

#endif
