/* Learning-rate schedules: torch.optim.lr_scheduler's rates
 * (fixtures/schedule_golden.h, make_schedule_golden.py) to 1e-12 relative,
 * argument errors, and a resumed Adam run with a schedule that ends with
 * the bits of an uninterrupted one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures/schedule_golden.h"
#include "test_util.h"

static void check_rates(const ag_lr_schedule *schedule, const double *expected, const char *name) {
    ag_lr_schedule s = *schedule;
    double lr = ag_lr_schedule_at(&s, 0);
    for (int t = 0; t < SCHED_STEPS; t++) {
        ck_assert_msg(ag_test_close(lr, expected[t], 1e-12, 0), "%s: step %d: lr %.17g, torch %.17g", name, t, lr,
                      expected[t]);
        ck_assert_msg(ag_lr_schedule_at(&s, t) == lr, "%s: ag_lr_schedule_at(%d) differs from stepping", name, t);
        ck_assert_int_eq(s.step, t);
        double returned = ag_lr_schedule_step(&s, &lr);
        ck_assert(returned == lr);
    }
}

START_TEST(test_schedules_match_pytorch) {
    ag_lr_schedule s;
    ck_assert_int_eq(ag_lr_step_decay(&s, 0.1, 7, 0.5), AG_OK);
    check_rates(&s, SCHED_STEP, "StepLR");
    ck_assert_int_eq(ag_lr_cosine(&s, 0.1, 20, 0.001), AG_OK);
    check_rates(&s, SCHED_COSINE, "CosineAnnealingLR");
    ck_assert_int_eq(ag_lr_constant(&s, 0.1), AG_OK);
    ck_assert_int_eq(ag_lr_warmup(&s, 8, 0.25), AG_OK);
    check_rates(&s, SCHED_WARMUP, "LinearLR");
    ck_assert_int_eq(ag_lr_cosine(&s, 0.1, 25, 1e-4), AG_OK);
    ck_assert_int_eq(ag_lr_warmup(&s, 5, 0.1), AG_OK);
    check_rates(&s, SCHED_WARMUP_COSINE, "LinearLR then CosineAnnealingLR");
    ck_assert_int_eq(ag_lr_step_decay(&s, 0.1, 6, 0.3), AG_OK);
    ck_assert_int_eq(ag_lr_warmup(&s, 4, 0.5), AG_OK);
    check_rates(&s, SCHED_WARMUP_STEP, "LinearLR then StepLR");
    /* A constant schedule, and a warm-up of 0 steps, change nothing. */
    ck_assert_int_eq(ag_lr_constant(&s, 0.25), AG_OK);
    ck_assert_int_eq(ag_lr_warmup(&s, 0, 0.5), AG_OK);
    for (int t = 0; t < 5; t++) ck_assert(ag_lr_schedule_step(&s, NULL) == 0.25);
}
END_TEST

START_TEST(test_schedule_refuses_bad_arguments) {
    ag_lr_schedule s, before;
    ck_assert_int_eq(ag_lr_cosine(&s, 0.1, 10, 0), AG_OK);
    before = s;
    ck_assert_int_eq(ag_lr_constant(&s, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_constant(&s, NAN), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_constant(NULL, 0.1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_step_decay(&s, 0.1, 0, 0.5), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_step_decay(&s, 0.1, 3, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_cosine(&s, 0.1, 0, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_cosine(&s, 0.1, 10, -1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_warmup(&s, -1, 0.5), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_warmup(&s, 3, 0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_warmup(&s, 3, 1.5), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_lr_warmup(NULL, 3, 0.5), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "ag_lr_warmup") != NULL, "%s", ag_error_message());
    ck_assert(memcmp(&s, &before, sizeof s) == 0);
    ck_assert(isnan(ag_lr_schedule_at(&s, -1)));
    ck_assert(isnan(ag_lr_schedule_at(NULL, 0)));
    ck_assert(isnan(ag_lr_schedule_step(NULL, NULL)));
}
END_TEST

/* Linear(3, 2) on fixed data, MSE, Adam with a warm-up then cosine. */
typedef struct run {
    ag_params *params;
    ag_linear linear;
    ag_adam adam;
    ag_lr_schedule schedule;
} run;

static void run_init(run *r) {
    ag_rng rng;
    ag_rng_seed(&rng, 7, 0);
    r->params = ag_params_create();
    ck_assert_ptr_nonnull(r->params);
    ck_assert_int_eq(ag_linear_init(&r->linear, r->params, "fc", 3, 2, true, &rng), AG_OK);
    ck_assert_int_eq(ag_lr_cosine(&r->schedule, 0.05, 12, 1e-3), AG_OK);
    ck_assert_int_eq(ag_lr_warmup(&r->schedule, 3, 0.2), AG_OK);
    ck_assert_int_eq(ag_adam_init(&r->adam, r->params, ag_lr_schedule_at(&r->schedule, 0)), AG_OK);
}

static void run_free(run *r) {
    ag_adam_free(&r->adam);
    ag_params_free(r->params);
}

static void run_steps(run *r, ag_ctx *ctx, int steps) {
    static const ag_real x[12] = {0.5f, -1, 2, 0.25f, 0.75f, -0.5f, 1.5f, 0, -2, -1, 1, 0.125f};
    static const ag_real y[8] = {1, -1, 0.5f, 2, -0.25f, 0, 1.5f, -2};
    for (int i = 0; i < steps; i++) {
        ag_ctx_reset(ctx);
        ag_params_zero_grad(r->params);
        ag_tensor *input = ag_from_array(ctx, 2, (int[]){4, 3}, x);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){4, 2}, y);
        ag_tensor *loss = ag_mse_loss(ctx, ag_linear_forward(ctx, &r->linear, input), target);
        ck_assert_ptr_nonnull(loss);
        ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        ck_assert_int_eq(ag_adam_step(&r->adam, r->params), AG_OK);
        ag_lr_schedule_step(&r->schedule, &r->adam.lr);
    }
}

START_TEST(test_schedule_resumes_bit_identical) {
    char dir[] = "/tmp/ag_schedule_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cp.safetensors", dir);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);

    run whole, first, resumed;
    run_init(&whole);
    run_steps(&whole, ctx, 20);

    run_init(&first);
    run_steps(&first, ctx, 8); /* past the warm-up, into the cosine */
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, first.params), AG_OK);
    ck_assert_int_eq(ag_adam_save(&first.adam, w), AG_OK);
    ck_assert_int_eq(ag_lr_schedule_save(&first.schedule, first.adam.lr, w), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);

    run_init(&resumed);
    ag_checkpoint *cp = ag_checkpoint_load(path);
    ck_assert_ptr_nonnull(cp);
    ck_assert_str_eq(ag_checkpoint_metadata(cp, "schedule"), "cosine");
    ck_assert_str_eq(ag_checkpoint_metadata(cp, "schedule.step"), "8");
    ck_assert_int_eq(ag_checkpoint_read_params(cp, resumed.params), AG_OK);
    ck_assert_int_eq(ag_adam_load(&resumed.adam, cp), AG_OK);
    ck_assert_int_eq(ag_lr_schedule_load(&resumed.schedule, &resumed.adam.lr, cp), AG_OK);
    ck_assert_int_eq(resumed.schedule.step, 8);
    ck_assert(resumed.adam.lr == first.adam.lr);

    /* A schedule of another kind is refused and left as it was. */
    ag_lr_schedule other;
    ck_assert_int_eq(ag_lr_step_decay(&other, 0.05, 4, 0.5), AG_OK);
    double lr = 1;
    ck_assert_int_eq(ag_lr_schedule_load(&other, &lr, cp), AG_ERROR_FORMAT);
    ck_assert_int_eq(other.step, 0);
    ck_assert(lr == 1);
    ag_checkpoint_free(cp);

    run_steps(&resumed, ctx, 12);
    ck_assert(resumed.adam.lr == whole.adam.lr);
    ck_assert_int_eq(resumed.schedule.step, whole.schedule.step);
    int64_t n = ag_params_size(whole.params);
    ck_assert(memcmp(ag_params_data(resumed.params), ag_params_data(whole.params), (size_t)n * sizeof(ag_real)) == 0);
    ck_assert(memcmp(resumed.adam.m, whole.adam.m, (size_t)n * sizeof(ag_real)) == 0);
    ck_assert(memcmp(resumed.adam.v, whole.adam.v, (size_t)n * sizeof(ag_real)) == 0);

    /* A checkpoint without a schedule. */
    w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, first.params), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);
    cp = ag_checkpoint_load(path);
    ck_assert_ptr_nonnull(cp);
    ck_assert_int_eq(ag_lr_schedule_load(&other, &lr, cp), AG_ERROR_FORMAT);
    ag_checkpoint_free(cp);

    run_free(&whole);
    run_free(&first);
    run_free(&resumed);
    ag_ctx_free(ctx);
    unlink(path);
    rmdir(dir);
}
END_TEST

AG_TEST_SUITE(schedule_suite)
static Suite *schedule_suite(void) {
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, test_schedules_match_pytorch);
    tcase_add_test(tc, test_schedule_refuses_bad_arguments);
    tcase_add_test(tc, test_schedule_resumes_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}
