// Guards around libhdf5 1.10's global heap.
//
// Variable-length strings (attributes, /examples/text) live in global-heap collections, and an element of such a
// string in an attribute or dataset is a reference to one heap object. libhdf5 1.10 trusts both: an object larger
// than its collection makes H5HG_read copy past the buffer (a crash), a free-space object of size 0 makes the
// decoder loop forever, and a reference to an object index the collection does not have reads past the object
// table (a crash). Newer releases check; Debian 12 ships 1.10.8. So:
// - every read passes through a file driver of Vane's (a pass-through to libhdf5's POSIX driver, sec2), which
//   checks each collection before libhdf5 decodes it;
// - before Vane reads a variable-length string, it reads the string's references raw (through a conversion path
//   to an opaque type registered here) and checks that each names an object present in its collection with the
//   length the reference declares.
// A failure names the byte offset.
//
// A collection (HDF5 file format, "Global Heap"): "GCOL", version 1, 3 reserved bytes, the collection size
// (8 bytes, header included), then objects, each a 16-byte header — index (2), reference count (2), reserved (4),
// size (8) — and its data padded to a multiple of 8. Index 0 is the free space; its size counts its header and
// runs to the end of the collection.
#include "heap_guard.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { header_size = 16, object_header_size = 16 };

static uint64_t load_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

int vane_h5_check_global_heap(const uint8_t *bytes, size_t count, uint64_t address, char *message, size_t capacity) {
    if (count < header_size || memcmp(bytes, "GCOL", 4) != 0) return 0;
#define FAIL(format, ...) \
    do { snprintf(message, capacity, format "; the file is damaged", __VA_ARGS__); return -1; } while (0)
    if (bytes[4] != 1) FAIL("global heap collection at byte %llu has version %u; only version 1 exists",
                            (unsigned long long)address, bytes[4]);
    uint64_t size = load_u64(bytes + 8);
    if (size < header_size) FAIL("global heap collection at byte %llu declares %llu bytes, less than its header",
                                 (unsigned long long)address, (unsigned long long)size);
    // libhdf5 reads a collection's first 4096 bytes, then the rest: check what this read holds.
    uint64_t end = size < count ? size : count;
    uint64_t p = header_size;
    while (p + object_header_size <= end) {
        uint16_t index = load_u16(bytes + p);
        uint64_t object = load_u64(bytes + p + 8);
        uint64_t left = size - p;
        if (index == 0) {
            if (object < object_header_size || object > left)
                FAIL("global heap collection at byte %llu: its free space at byte %llu declares %llu bytes, "
                     "where %llu remain", (unsigned long long)address, (unsigned long long)(address + p),
                     (unsigned long long)object, (unsigned long long)left);
            p += object;
        } else {
            uint64_t padded = (object + 7) / 8 * 8;
            if (object > left || padded > left - object_header_size)
                FAIL("global heap collection at byte %llu: object %u at byte %llu declares %llu bytes, where %llu "
                     "remain", (unsigned long long)address, index, (unsigned long long)(address + p),
                     (unsigned long long)object, (unsigned long long)(left - object_header_size));
            p += object_header_size + padded;
        }
    }
#undef FAIL
    return 0;
}

// Heap references. The conversion path from a variable-length string to the opaque reference type leaves each
// element's stored bytes in place (source and destination are both 16 bytes).

static hid_t reference_type = -1;

static herr_t keep_references(hid_t src, hid_t dst, H5T_cdata_t *cdata, size_t count, size_t buffer_stride,
                              size_t background_stride, void *buffer, void *background, hid_t transfer) {
    (void)count; (void)buffer_stride; (void)background_stride; (void)buffer; (void)background; (void)transfer;
    switch (cdata->command) {
    case H5T_CONV_INIT:
        cdata->need_bkg = H5T_BKG_NO;
        // Only variable-length strings as stored (16-byte references) into the reference type.
        if (H5Tequal(dst, reference_type) <= 0 || H5Tis_variable_str(src) <= 0 || H5Tget_size(src) != 16) return -1;
        return 0;
    case H5T_CONV_CONV:
    case H5T_CONV_FREE:
        return 0;
    default:
        return -1;
    }
}

static void make_reference_type(void) {
    hid_t type = H5Tcreate(H5T_OPAQUE, 16);
    if (type < 0 || H5Tset_tag(type, "vane heap reference") < 0) return;
    hid_t string = H5Tcopy(H5T_C_S1);
    if (string < 0 || H5Tset_size(string, H5T_VARIABLE) < 0) return;
    reference_type = type;
    if (H5Tregister(H5T_PERS_SOFT, "vane heap references", string, type, keep_references) < 0) reference_type = -1;
    H5Tclose(string);
}

hid_t vane_h5_heap_reference_type(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_reference_type);
    return reference_type;
}

static uint32_t load_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

// The collection last read, kept across the references of one call.
typedef struct {
    uint64_t address;
    uint8_t *bytes;
    uint64_t size;
} collection;

static int read_collection(int fd, uint64_t address, uint64_t file_size, collection *c, char *message,
                           size_t capacity) {
    uint8_t header[16];
    if (address >= file_size || file_size - address < sizeof header ||
        pread(fd, header, sizeof header, (off_t)address) != (ssize_t)sizeof header || memcmp(header, "GCOL", 4) != 0) {
        snprintf(message, capacity, "a string refers to a global heap collection at byte %llu, where the file has "
                 "none; the file is damaged", (unsigned long long)address);
        return -1;
    }
    uint64_t size = load_u64(header + 8);
    if (size < sizeof header || size > file_size - address) {
        snprintf(message, capacity, "global heap collection at byte %llu declares %llu bytes, where the file has "
                 "%llu after it; the file is damaged", (unsigned long long)address, (unsigned long long)size,
                 (unsigned long long)(file_size - address));
        return -1;
    }
    uint8_t *bytes = malloc(size);
    if (bytes == NULL || pread(fd, bytes, size, (off_t)address) != (ssize_t)size) {
        free(bytes);
        snprintf(message, capacity, "cannot read the global heap collection at byte %llu", (unsigned long long)address);
        return -1;
    }
    if (vane_h5_check_global_heap(bytes, size, address, message, capacity) < 0) {
        free(bytes);
        return -1;
    }
    free(c->bytes);
    *c = (collection){ address, bytes, size };
    return 0;
}

// The size of object `index` in a checked collection; -1 when the collection has no such object.
static int64_t object_size(const collection *c, uint32_t index) {
    uint64_t p = 16;
    while (p + 16 <= c->size) {
        uint16_t i = load_u16(c->bytes + p);
        uint64_t size = load_u64(c->bytes + p + 8);
        if (i == 0) return -1;  // the free space runs to the end
        if (i == index) return (int64_t)size;
        p += 16 + (size + 7) / 8 * 8;
    }
    return -1;
}

int vane_h5_check_heap_references(hid_t object, const uint8_t *references, size_t count, char *message,
                                  size_t capacity) {
    char path[4096];
    ssize_t length = H5Fget_name(object, path, sizeof path);
    if (length < 0 || (size_t)length >= sizeof path) {
        snprintf(message, capacity, "cannot find the file's name to check its strings");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(message, capacity, "cannot open %s to check its strings", path);
        return -1;
    }
    uint64_t file_size = (uint64_t)lseek(fd, 0, SEEK_END);
    collection c = { 0, NULL, 0 };
    int status = 0;
    for (size_t e = 0; e < count && status == 0; e++) {
        const uint8_t *r = references + 16 * e;
        uint32_t declared = load_u32(r);
        uint64_t address = load_u64(r + 4);
        uint32_t index = load_u32(r + 12);
        if (address == 0) continue;  // a null reference: libhdf5 follows nothing (it does follow empty ones)
        if (c.bytes == NULL || c.address != address) {
            status = read_collection(fd, address, file_size, &c, message, capacity);
            if (status < 0) break;
        }
        int64_t size = index > UINT16_MAX ? -1 : object_size(&c, index);
        if (size < 0) {
            snprintf(message, capacity, "string %zu refers to object %u of the global heap collection at byte %llu, "
                     "which has no such object; the file is damaged", e, index, (unsigned long long)address);
            status = -1;
        } else if ((uint64_t)size != declared) {
            snprintf(message, capacity, "string %zu declares %u bytes, but object %u of the global heap collection at "
                     "byte %llu holds %lld; the file is damaged", e, declared, index, (unsigned long long)address,
                     (long long)size);
            status = -1;
        }
    }
    free(c.bytes);
    close(fd);
    return status;
}

// The driver: each call forwards to the sec2 file it wraps, through libhdf5's public driver API. A public call
// starts by clearing the thread's error stack, which would lose what libhdf5 recorded before it (say, "file
// signature not found" before the file is closed again); so the stack is set aside across each call and put back
// when the call succeeds. When it fails, its own errors say more and stay; the set-aside copy cannot be closed
// then (closing is a public call, which would clear them too), so it is closed at the next call.

typedef struct {
    H5FD_t pub;  // first, as libhdf5 requires of a driver's file struct
    H5FD_t *inner;
} guard_file;

static hid_t errors_class = -1, errors_major = -1, errors_minor = -1;

static H5FD_t *inner(const H5FD_t *file) { return ((const guard_file *)file)->inner; }

static _Thread_local hid_t set_aside_by_a_failure = -1;

static hid_t set_aside(void) {
    hid_t saved = H5Eget_current_stack();  // a copy; the current stack is now empty
    if (set_aside_by_a_failure >= 0) {
        H5Eclose_stack(set_aside_by_a_failure);  // clears the current stack, empty anyway
        set_aside_by_a_failure = -1;
    }
    return saved;
}

static void put_back(hid_t saved, int failed) {
    if (saved < 0) return;
    if (failed) set_aside_by_a_failure = saved;
    else H5Eset_current_stack(saved);
}

#define KEEPING_ERRORS(call, failed)                \
    ({                                              \
        hid_t saved = set_aside();                  \
        __typeof__(call) result = (call);           \
        put_back(saved, failed);                    \
        result;                                     \
    })
#define STATUS(call) KEEPING_ERRORS(call, result < 0)
#define ADDRESS(call) KEEPING_ERRORS(call, result == HADDR_UNDEF)

static hid_t sec2_fapl = -1;

static void make_sec2_fapl(void) {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list >= 0 && H5Pset_fapl_sec2(list) >= 0) sec2_fapl = list;
}

static H5FD_t *guard_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)fapl;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_sec2_fapl);
    if (sec2_fapl < 0) return NULL;
    // Opening comes first in H5Fopen and H5Fcreate: there is no error before it to keep, and sec2's own
    // ("Permission denied", "File exists") must stay.
    H5FD_t *wrapped = H5FDopen(name, flags, sec2_fapl, maxaddr);
    if (wrapped == NULL) return NULL;
    guard_file *file = calloc(1, sizeof *file);
    if (file == NULL) {
        STATUS(H5FDclose(wrapped));
        return NULL;
    }
    file->inner = wrapped;
    return &file->pub;
}

static herr_t guard_close(H5FD_t *file) {
    herr_t status = STATUS(H5FDclose(inner(file)));
    free(file);
    return status;
}

static int guard_cmp(const H5FD_t *a, const H5FD_t *b) { return KEEPING_ERRORS(H5FDcmp(inner(a), inner(b)), 0); }
// libhdf5 also asks with no file open. The answer is sec2's (metadata and small raw data aggregated, raw data
// sieved) without its metadata accumulator: libhdf5 1.10 copies a damaged local heap's declared size out of that
// buffer unchecked (a crash), whereas a read that reaches the driver is checked against the end of the file.
static herr_t guard_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_DATA_SIEVE | H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}
static haddr_t guard_get_eoa(const H5FD_t *file, H5FD_mem_t type) { return ADDRESS(H5FDget_eoa(inner(file), type)); }
static herr_t guard_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    return STATUS(H5FDset_eoa(inner(file), type, addr));
}
static haddr_t guard_get_eof(const H5FD_t *file, H5FD_mem_t type) { return ADDRESS(H5FDget_eof(inner(file), type)); }
static herr_t guard_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    return STATUS(H5FDget_vfd_handle(inner(file), fapl, handle));
}
static herr_t guard_flush(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    return STATUS(H5FDflush(inner(file), dxpl, closing));
}
static herr_t guard_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    return STATUS(H5FDtruncate(inner(file), dxpl, closing));
}
static herr_t guard_lock(H5FD_t *file, hbool_t rw) { return STATUS(H5FDlock(inner(file), rw)); }
static herr_t guard_unlock(H5FD_t *file) { return STATUS(H5FDunlock(inner(file))); }
static herr_t guard_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    return STATUS(H5FDwrite(inner(file), type, dxpl, addr, size, buffer));
}

// A local heap (group member names): "HEAP", version 0, 3 reserved bytes, the data segment's size, the offset of
// its first free block (1: none) and the data segment's address (8 bytes each). Free blocks chain through the
// segment: the next one's offset, then the block's size. libhdf5 1.10 follows a chain that loops back forever,
// allocating as it goes; each block must lie inside the segment, and the chain must end.
static int check_local_heap(H5FD_t *file, haddr_t eof, const uint8_t *bytes, size_t count, uint64_t address,
                            char *message, size_t capacity) {
    if (count < 32 || memcmp(bytes, "HEAP", 4) != 0 || bytes[4] != 0) return 0;
    uint64_t size = load_u64(bytes + 8), block = load_u64(bytes + 16), data_address = load_u64(bytes + 24);
    if (block == 1 || eof == HADDR_UNDEF) return 0;
    if (size > (1u << 30) || data_address > eof || size > eof - data_address) {
        snprintf(message, capacity, "local heap at byte %llu declares a %llu-byte data segment at byte %llu, past the "
                 "end of the file; the file is damaged", (unsigned long long)address, (unsigned long long)size,
                 (unsigned long long)data_address);
        return -1;
    }
    const uint8_t *data = bytes + 32;
    uint8_t *copy = NULL;
    if (data_address != address + 32 || count < 32 + size) {
        copy = malloc(size ? size : 1);
        if (copy == NULL || STATUS(H5FDread(inner(file), H5FD_MEM_LHEAP, H5P_DEFAULT, data_address, size, copy)) < 0) {
            free(copy);
            return 0;  // libhdf5's own read of the segment will fail the same way
        }
        data = copy;
    }
    int status = 0;
    // Free blocks are disjoint and at least 16 bytes: a chain longer than size / 16 loops.
    for (uint64_t steps = 0; block != 1; steps++) {
        if (block > size || size - block < 16 || steps > size / 16) {
            snprintf(message, capacity, "local heap at byte %llu: free block at offset %llu %s; the file is damaged",
                     (unsigned long long)address, (unsigned long long)block,
                     steps > size / 16 ? "closes a loop in its free list" : "lies outside its data segment");
            status = -1;
            break;
        }
        block = load_u64(data + block);
    }
    free(copy);
    return status;
}

static herr_t guard_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    char message[256];
    // sec2 reads past the end of the file as zeros (libhdf5's signature search relies on it for a few bytes); a
    // damaged size made libhdf5 ask for gigabytes of them. Over 1 MiB past the end is refused.
    haddr_t eof = ADDRESS(H5FDget_eof(inner(file), type));
    const haddr_t slack = 1 << 20;
    if (eof != HADDR_UNDEF && (addr > eof + slack || size > eof + slack - addr)) {
        snprintf(message, sizeof message, "a read of %zu bytes at byte %llu runs past the end of the file (%llu bytes); "
                 "the file is damaged or cut short", size, (unsigned long long)addr, (unsigned long long)eof);
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, errors_class, errors_major, errors_minor, "%s", message);
        return -1;
    }
    if (STATUS(H5FDread(inner(file), type, dxpl, addr, size, buffer)) < 0) return -1;
    if (vane_h5_check_global_heap(buffer, size, addr, message, sizeof message) < 0 ||
        check_local_heap(file, eof, buffer, size, addr, message, sizeof message) < 0) {
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, errors_class, errors_major, errors_minor, "%s", message);
        return -1;
    }
    return 0;
}

static const H5FD_class_t guard_class = {
    .name = "vane_heap_guard",
    .maxaddr = (haddr_t)INT64_MAX,
    .fc_degree = H5F_CLOSE_WEAK,
    .open = guard_open,
    .close = guard_close,
    .cmp = guard_cmp,
    .query = guard_query,
    .get_eoa = guard_get_eoa,
    .set_eoa = guard_set_eoa,
    .get_eof = guard_get_eof,
    .get_handle = guard_get_handle,
    .read = guard_read,
    .write = guard_write,
    .flush = guard_flush,
    .truncate = guard_truncate,
    .lock = guard_lock,
    .unlock = guard_unlock,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

static hid_t guarded_fapl[2] = {-1, -1};

// File locks (flock, libhdf5 1.10.7+): every open takes one (exclusive to write, shared to read), so that two
// writers of one file fail rather than interleave; where the file system has no locks (some network mounts) files
// open unlocked. libhdf5 refuses to open a file twice in one process with different lock settings, so the
// unlocked list serves only a read that a lock held elsewhere refused (HDF5File.open).
static hid_t make_fapl(hid_t driver, int locking) {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list < 0) return -1;
    if (H5Pset_driver(list, driver, NULL) < 0 || H5Pset_file_locking(list, locking, 1) < 0) {
        H5Pclose(list);
        return -1;
    }
    return list;
}

static void register_driver(void) {
    errors_class = H5Eregister_class("Vane", "vane", "1");
    errors_major = H5Ecreate_msg(errors_class, H5E_MAJOR, "Global heap");
    errors_minor = H5Ecreate_msg(errors_class, H5E_MINOR, "Damaged collection");
    hid_t driver = H5FDregister(&guard_class);
    if (driver < 0) return;
    guarded_fapl[0] = make_fapl(driver, 0);
    guarded_fapl[1] = make_fapl(driver, 1);
}

hid_t vane_h5_guarded_fapl(int locking) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_driver);
    return guarded_fapl[locking ? 1 : 0];
}
