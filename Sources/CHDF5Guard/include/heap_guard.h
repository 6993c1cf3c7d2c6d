// Guards around libhdf5 1.10's global heap: a file driver that checks each collection as the library reads it,
// and a check of the references a variable-length string holds, made before libhdf5 follows them.
#ifndef VANE_HEAP_GUARD_H
#define VANE_HEAP_GUARD_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

// A file-access property list using the guarded driver, with file locks or without; created once, do not close
// it. Negative on failure.
hid_t vane_h5_guarded_fapl(int locking);

// Checks the global-heap collection `bytes[0..<count]` read from file offset `address`: 0 when libhdf5 can
// decode it safely (or when it is not a collection), else -1 with the reason written into `message`.
int vane_h5_check_global_heap(const uint8_t *bytes, size_t count, uint64_t address, char *message, size_t capacity);

// An opaque type of 16 bytes (created once; do not close it). Reading a variable-length string attribute or
// dataset into it yields each element's heap reference as stored: sequence length (4 bytes), collection address
// (8), object index (4), little-endian. Only files with 8-byte addresses are read this way.
hid_t vane_h5_heap_reference_type(void);

// Checks `count` heap references (as vane_h5_heap_reference_type reads them) of a variable-length string in the
// file holding `object`: each names an object present in a sound collection, of the length it declares. 0 when
// libhdf5 can read them safely, else -1 with the reason in `message`.
int vane_h5_check_heap_references(hid_t object, const uint8_t *references, size_t count, char *message,
                                  size_t capacity);

#endif
