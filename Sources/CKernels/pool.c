// A persistent worker pool for the many short parallel regions of decoding (a few hundred per token, each tens of
// microseconds). Waking threads through a dispatch queue costs about as much as the work, so workers spin on a
// generation counter for a short while after each job and only then sleep on a condition variable.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
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
    atomic_uint generation;      // bumped once per job
    atomic_int pending;          // workers still running the current job
    vane_task_fn fn;
    void *ctx;
    int nth;
    unsigned start_generation[MAX_WORKERS + 1]; // the generation each worker was created in
} pool = { ATOMIC_FLAG_INIT, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void *worker(void *arg) {
    const int ith = (int)(intptr_t)arg;
    unsigned seen = pool.start_generation[ith];  // set before the job that created it was posted
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
        if (ith < pool.nth) pool.fn(pool.ctx, ith, pool.nth);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
    return NULL;
}

void vane_parallel_for(int nth, vane_task_fn fn, void *ctx) {
    // A second caller while the pool is busy (another model on another thread) runs its parts itself.
    if (nth <= 1 || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        for (int i = 0; i < nth; i++) fn(ctx, i, nth);
        return;
    }
    if (nth > MAX_WORKERS + 1) nth = MAX_WORKERS + 1;
    pthread_mutex_lock(&pool.lock);
    while (pool.started < nth - 1) {
        pthread_t t;
        pool.start_generation[pool.started + 1] = atomic_load(&pool.generation);
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)(pool.started + 1)) != 0) break;
        pthread_detach(t);
        pool.started++;
    }
    const int workers = pool.started;
    if (workers < nth - 1) nth = workers + 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.nth = nth;
    atomic_store(&pool.pending, workers);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(ctx, 0, nth);
    for (int i = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; i++) relax(i);
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
