// A persistent worker pool for the many short parallel regions of decoding (a few hundred per token, each tens of
// microseconds). Waking threads through a dispatch queue costs about as much as the work, so workers spin on a
// generation counter for a short while after each job and only then sleep on a condition variable.
//
// A job is split into parts that threads claim one at a time, not one fixed share per thread: when another
// process takes a core, the descheduled worker's share would otherwise hold every token back until the OS runs it
// again (2-thread decoding fell to a quarter of its speed next to one busy process). With claimed parts the
// running threads finish the job; a late worker finds nothing left and goes back to waiting.
//
// The claim word holds the job's generation (high 32 bits) and the parts not yet claimed (low 32 bits). A thread
// owns part `parts − remaining` when its compare-exchange takes `remaining` down by one; the job cannot finish
// while a part is owned, so the job's fields, written before its claim word was published, stay valid meanwhile.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>

#define MAX_WORKERS 63
#define SPIN_ROUNDS 20000

// Busy-waits yield the core now and then, so that a machine with more runnable threads than cores still progresses.
static inline void relax(int i) {
    if ((i & 63) == 63) {
        sched_yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
}

static struct {
    atomic_flag busy;            // held by the one caller the pool serves at a time
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started;                 // workers created
    atomic_uint generation;      // bumped once per job, after its claim word is published
    atomic_uint_fast64_t claim;  // generation << 32 | parts not yet claimed
    atomic_int done;             // parts of the current job finished
    atomic_int joined;           // workers that joined the current job
    int helpers;                 // workers the current job may use (threads − 1)
    vane_task_fn fn;
    void *ctx;
    int parts;
} pool = { ATOMIC_FLAG_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

// Runs parts of the job `generation` until none is left to claim.
static void run_parts(unsigned generation) {
    uint_fast64_t word = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        uint32_t remaining = (uint32_t)word;
        if ((unsigned)(word >> 32) != generation || remaining == 0) return;
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &word, word - 1, memory_order_acquire,
                                                  memory_order_acquire)) {
            pool.fn(pool.ctx, pool.parts - (int)remaining, pool.parts);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            word = atomic_load_explicit(&pool.claim, memory_order_acquire);
        }
    }
}

static void *worker(void *arg) {
    unsigned seen = (unsigned)(uintptr_t)arg;  // the generation before the job that created this worker
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen && spins < SPIN_ROUNDS) {
            relax(spins++);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.lock);
            while ((g = atomic_load(&pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = g;
        // Workers made for an earlier call with more threads stay out of this one.
        if (atomic_fetch_add_explicit(&pool.joined, 1, memory_order_relaxed) < pool.helpers) run_parts(g);
    }
    return NULL;
}

void vane_parallel_for(int threads, int parts, vane_task_fn fn, void *ctx) {
    // A second caller while the pool is busy (another model on another thread) runs its parts itself.
    if (threads <= 1 || parts <= 1 || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        for (int i = 0; i < parts; i++) fn(ctx, i, parts);
        return;
    }
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    pthread_mutex_lock(&pool.lock);
    const unsigned generation = atomic_load(&pool.generation) + 1;
    while (pool.started < threads - 1) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)(generation - 1)) != 0) break;
        pthread_detach(t);
        pool.started++;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.parts = parts;
    pool.helpers = threads - 1;
    atomic_store_explicit(&pool.joined, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.claim, (uint_fast64_t)generation << 32 | (uint32_t)parts, memory_order_release);
    atomic_store_explicit(&pool.generation, generation, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    run_parts(generation);
    for (int i = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < parts; i++) relax(i);
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
