/* A small pool of worker threads for the ops that split their work into
 * independent tasks (the rows of a batch in a recurrent layer). The
 * calling thread works too, so n threads means n - 1 workers.
 *
 * Results never depend on the number of threads: an op decides its tasks
 * from its shapes alone and combines their results in a fixed order; the
 * pool only decides who runs them. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ag_internal.h"

enum { MAX_THREADS = 64 };

/* Waking a sleeping thread costs tens of microseconds on a VM, against
 * about a millisecond of work per job; a thread waiting for the next job
 * or for the end of one first spins this many pauses (about 50 to 100
 * microseconds), then sleeps. */
enum { SPIN_PAUSES = 1 << 12 };

static inline void pause_briefly(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work_ready, work_done;
    pthread_t workers[MAX_THREADS];
    int n_workers;
    /* The current job, written under the lock before `claim` names it. */
    void (*task)(void *arg, int index);
    void *arg;
    int n_tasks;
    uint32_t job;               /* the current job's number, under the lock */
    uint32_t job_at_start;      /* the job when the workers were made: not one to join */
    /* (job << 32) | the next task's index. A thread runs task i of job j
     * only after moving claim from (j, i) to (j, i + 1), so a worker that
     * wakes late, after its job ended (a later job has another number),
     * runs nothing of it, and the caller never waits for a worker that
     * holds no task: on a busy machine a descheduled worker costs nothing
     * (waiting for every worker to check in made sampling, thousands of
     * small jobs, 10x slower there). */
    atomic_uint_fast64_t claim;
    atomic_int done; /* tasks of the current job finished */
    bool stopping;
    atomic_flag in_use; /* a second caller at once runs its tasks itself */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work_ready = PTHREAD_COND_INITIALIZER,
          .work_done = PTHREAD_COND_INITIALIZER,
          .in_use = ATOMIC_FLAG_INIT};

/* Runs the tasks of `job` that are still unclaimed, one at a time. */
static void run_claimed(uint32_t job, void (*task)(void *, int), void *arg, int n_tasks) {
    for (;;) {
        uint_fast64_t c = atomic_load(&pool.claim);
        if ((uint32_t)(c >> 32) != job || (int)(uint32_t)c >= n_tasks) return;
        if (!atomic_compare_exchange_weak(&pool.claim, &c, c + 1)) continue;
        task(arg, (int)(uint32_t)c);
        /* The job stays current until its last task is done: this is its count. */
        if (atomic_fetch_add(&pool.done, 1) + 1 == n_tasks) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.work_done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    uint32_t seen = pool.job_at_start;
    for (;;) {
        pthread_mutex_unlock(&pool.lock);
        for (int i = 0; i < SPIN_PAUSES && (uint32_t)(atomic_load(&pool.claim) >> 32) == seen; i++) pause_briefly();
        pthread_mutex_lock(&pool.lock);
        while (!pool.stopping && pool.job == seen) pthread_cond_wait(&pool.work_ready, &pool.lock);
        if (pool.stopping) break;
        seen = pool.job;
        void (*task)(void *, int) = pool.task;
        void *arg = pool.arg;
        int n_tasks = pool.n_tasks;
        pthread_mutex_unlock(&pool.lock);
        run_claimed(seen, task, arg, n_tasks);
        pthread_mutex_lock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.work_ready);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.n_workers; i++) pthread_join(pool.workers[i], NULL);
    pool.n_workers = 0;
    pool.stopping = false;
}

/* ag's threads split the rows of a batch; OpenBLAS's own threads on these
 * small matrices cost more than they gain (they spin in sched_yield; the
 * PyTorch reference runs were slower with two) and would compete with
 * ours. So OpenBLAS runs single-threaded once ag is in use. */
static void blas_single_thread(void) { openblas_set_num_threads(1); }

void ag_threads_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_single_thread);
}

ag_status ag_set_num_threads(int n) {
    if (n < 1 || n > MAX_THREADS)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_set_num_threads: %d threads; 1 to %d", n, MAX_THREADS);
    ag_threads_init();
    if (n - 1 == pool.n_workers) return AG_OK;
    stop_workers();
    pool.job_at_start = pool.job;
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&pool.workers[i], NULL, worker_main, NULL) != 0) {
            stop_workers();
            return ag_error_set(AG_ERROR_MEMORY, "ag_set_num_threads: cannot start thread %d of %d", i + 2, n);
        }
        pool.n_workers = i + 1;
    }
    return AG_OK;
}

int ag_num_threads(void) { return pool.n_workers + 1; }

void ag_parallel_run(int n_tasks, void (*task)(void *arg, int index), void *arg) {
    if (pool.n_workers == 0 || n_tasks < 2 || atomic_flag_test_and_set(&pool.in_use)) {
        for (int i = 0; i < n_tasks; i++) task(arg, i);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.task = task;
    pool.arg = arg;
    pool.n_tasks = n_tasks;
    uint32_t job = ++pool.job;
    atomic_store(&pool.done, 0);
    atomic_store(&pool.claim, (uint_fast64_t)job << 32);
    pthread_cond_broadcast(&pool.work_ready);
    pthread_mutex_unlock(&pool.lock);
    run_claimed(job, task, arg, n_tasks);
    /* Only tasks that a worker claimed can still be running. */
    for (int i = 0; i < SPIN_PAUSES && atomic_load(&pool.done) < n_tasks; i++) pause_briefly();
    if (atomic_load(&pool.done) < n_tasks) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.done) < n_tasks) pthread_cond_wait(&pool.work_done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    atomic_flag_clear(&pool.in_use);
}
