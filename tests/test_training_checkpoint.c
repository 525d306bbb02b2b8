/* Training checkpoints: a run saved and restored (parameters, Adam or SGD
 * state, step, generators) goes on with exactly the bits of a run that was
 * never stopped; loaders refuse what does not fit and change nothing then;
 * ag_run's side of resuming (metrics.csv cut back to the checkpoint's step,
 * settings against the checkpoint's). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag_run.h"
#include "test_util.h"

static char tmpdir[64];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ag_training_XXXXXX");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void) {
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(command), 0);
}

static const char *path_in_tmpdir(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* A Linear(3, 2) and an RNNCell(2, 2): two kinds of tensors, five names. */
static ag_params *small_model(uint64_t seed) {
    ag_params *params = ag_params_create();
    ag_rng rng;
    ag_rng_seed(&rng, seed, 0);
    ag_linear linear;
    ag_rnn_cell cell;
    ck_assert_int_eq(ag_linear_init(&linear, params, "linear", 3, 2, true, &rng), AG_OK);
    ck_assert_int_eq(ag_rnn_cell_init(&cell, params, "rnn", 2, 2, AG_NONLINEARITY_TANH, true, &rng), AG_OK);
    return params;
}

/* A gradient that depends on the values and the step, as a real one does,
 * so that a restored state that is off in any bit drifts apart. */
static void fake_gradient(ag_params *params, int step) {
    ag_real *p = ag_params_data(params), *g = ag_params_grad(params);
    for (int64_t i = 0; i < ag_params_size(params); i++)
        g[i] = (ag_real)(sin(3.0 * (double)p[i] + 0.7 * step + (double)i) + 0.1 * (double)p[i]);
}

static bool same_bits(ag_params *a, ag_params *b) {
    return ag_params_size(a) == ag_params_size(b) &&
           memcmp(ag_params_data(a), ag_params_data(b), (size_t)ag_params_size(a) * sizeof(ag_real)) == 0;
}

/* Every Adam of the resume test: the same settings, weight decay on. */
static void adam_init_for_test(ag_adam *adam, ag_params *params) {
    ck_assert_int_eq(ag_adam_init(adam, params, 0.05), AG_OK);
    adam->weight_decay = 0.01;
}

static void adam_steps(ag_adam *adam, ag_params *params, int first_step, int end_step) {
    for (int step = first_step; step < end_step; step++) {
        fake_gradient(params, step);
        ck_assert_int_eq(ag_adam_step(adam, params), AG_OK);
    }
}

START_TEST(test_adam_resume_is_exact) {
    enum { STEPS = 7, STOP = 3 };
    ag_params *straight = small_model(5);
    ag_adam adam;
    adam_init_for_test(&adam, straight);
    adam_steps(&adam, straight, 0, STEPS);

    ag_params *first = small_model(5);
    ag_adam first_adam;
    adam_init_for_test(&first_adam, first);
    adam_steps(&first_adam, first, 0, STOP);
    char path[128];
    path_in_tmpdir("adam.safetensors", path, sizeof path);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ag_checkpoint_add_params(w, first), AG_OK);
    ck_assert_int_eq(ag_adam_save(&first_adam, w), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);

    /* Another process, as it were: other initial values, fresh moments. */
    ag_params *second = small_model(99);
    ag_adam second_adam;
    adam_init_for_test(&second_adam, second);
    ag_checkpoint *loaded = ag_checkpoint_load(path);
    ck_assert_msg(loaded != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_read_params(loaded, second), AG_OK);
    ck_assert_int_eq(ag_adam_load(&second_adam, loaded), AG_OK);
    ag_checkpoint_free(loaded);
    ck_assert_int_eq(second_adam.step, STOP);
    adam_steps(&second_adam, second, STOP, STEPS);
    ck_assert_msg(same_bits(straight, second), "a resumed Adam run differs from one that never stopped");
    ck_assert_int_eq(memcmp(adam.m, second_adam.m, (size_t)adam.size * sizeof(ag_real)), 0);
    ck_assert_int_eq(memcmp(adam.v, second_adam.v, (size_t)adam.size * sizeof(ag_real)), 0);

    /* Without the moments the run would not be the same: the test can fail. */
    ag_params *no_state = small_model(5);
    ag_adam fresh;
    adam_init_for_test(&fresh, no_state);
    loaded = ag_checkpoint_load(path);
    ck_assert_int_eq(ag_checkpoint_read_params(loaded, no_state), AG_OK);
    ag_checkpoint_free(loaded);
    adam_steps(&fresh, no_state, STOP, STEPS);
    ck_assert(!same_bits(straight, no_state));

    ag_adam_free(&adam);
    ag_adam_free(&first_adam);
    ag_adam_free(&second_adam);
    ag_adam_free(&fresh);
    ag_params_free(straight);
    ag_params_free(first);
    ag_params_free(second);
    ag_params_free(no_state);
}
END_TEST

START_TEST(test_sgd_momentum_resume_is_exact) {
    ag_params *straight = small_model(8), *resumed = small_model(8);
    ag_sgd a, b;
    ck_assert_int_eq(ag_sgd_init(&a, straight, 0.1, 0.9), AG_OK);
    ck_assert_int_eq(ag_sgd_init(&b, resumed, 0.1, 0.9), AG_OK);
    for (int step = 0; step < 6; step++) {
        fake_gradient(straight, step);
        ck_assert_int_eq(ag_sgd_step(&a, straight), AG_OK);
    }
    for (int step = 0; step < 2; step++) {
        fake_gradient(resumed, step);
        ck_assert_int_eq(ag_sgd_step(&b, resumed), AG_OK);
    }
    char path[128];
    path_in_tmpdir("sgd.safetensors", path, sizeof path);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, resumed), AG_OK);
    ck_assert_int_eq(ag_sgd_save(&b, w), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);
    /* Scramble what the checkpoint must bring back. */
    for (int64_t i = 0; i < b.size; i++) b.velocity[i] = 7;
    b.step = 0;
    ag_params_data(resumed)[0] = 42;
    ag_checkpoint *loaded = ag_checkpoint_load(path);
    ck_assert_ptr_nonnull(loaded);
    ck_assert_int_eq(ag_checkpoint_read_params(loaded, resumed), AG_OK);
    ck_assert_int_eq(ag_sgd_load(&b, loaded), AG_OK);
    ck_assert_int_eq(b.step, 2);
    /* Adam's loader refuses SGD's state, naming both. */
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, resumed, 0.1), AG_OK);
    ck_assert_int_eq(ag_adam_load(&adam, loaded), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "'sgd'") && strstr(ag_error_message(), "adam"), "%s",
                  ag_error_message());
    ck_assert_int_eq(adam.step, 0);
    ag_checkpoint_free(loaded);
    for (int step = 2; step < 6; step++) {
        fake_gradient(resumed, step);
        ck_assert_int_eq(ag_sgd_step(&b, resumed), AG_OK);
    }
    ck_assert_msg(same_bits(straight, resumed), "a resumed SGD run differs from one that never stopped");
    ag_adam_free(&adam);
    ag_sgd_free(&a);
    ag_sgd_free(&b);
    ag_params_free(straight);
    ag_params_free(resumed);
}
END_TEST

START_TEST(test_metadata_and_generators_round_trip) {
    ag_rng rng, copy;
    ag_rng_seed(&rng, 1234, 3);
    for (int i = 0; i < 17; i++) ag_rng_next_u32(&rng);
    ag_params *params = small_model(1);
    char path[128];
    path_in_tmpdir("meta.safetensors", path, sizeof path);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_int(w, "train.step", -9000000000LL), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_rng(w, "train.rng", &rng), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "note", "first"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "note", "second"), AG_OK); /* replaces */
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "bad.rng", "12,4"), AG_OK);  /* even increment */
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "junk", "12x"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);

    ag_checkpoint *loaded = ag_checkpoint_load(path);
    ck_assert_ptr_nonnull(loaded);
    int64_t step = 0;
    ck_assert_int_eq(ag_checkpoint_get_int(loaded, "train.step", &step), AG_OK);
    ck_assert_int_eq(step, -9000000000LL);
    ck_assert_str_eq(ag_checkpoint_metadata(loaded, "note"), "second");
    ck_assert_ptr_null(ag_checkpoint_metadata(loaded, "absent"));
    ag_rng_seed(&copy, 0, 0);
    ck_assert_int_eq(ag_checkpoint_get_rng(loaded, "train.rng", &copy), AG_OK);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(ag_rng_next_u32(&copy), ag_rng_next_u32(&rng));

    ag_rng untouched = copy;
    ck_assert_int_eq(ag_checkpoint_get_rng(loaded, "bad.rng", &copy), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "bad.rng") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_get_rng(loaded, "junk", &copy), AG_ERROR_FORMAT);
    ck_assert(copy.state == untouched.state && copy.increment == untouched.increment);
    ck_assert_int_eq(ag_checkpoint_get_int(loaded, "junk", &step), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "'12x'") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_get_int(loaded, "absent", &step), AG_ERROR_FORMAT);
    ck_assert_msg(strstr(ag_error_message(), "'absent' is missing") != NULL, "%s", ag_error_message());
    ag_checkpoint_free(loaded);
    ag_params_free(params);
}
END_TEST

START_TEST(test_tensor_names_are_checked) {
    ag_params *params = small_model(2);
    ag_real values[3] = {1, 2, 3};
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_checkpoint_add_array(w, "linear.weight", values, 3), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "linear.weight") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_add_array(w, "__metadata__", values, 3), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_checkpoint_add_array(w, "extra", values, -1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_checkpoint_add_array(w, "extra", values, 3), AG_OK);
    char path[128];
    path_in_tmpdir("names.safetensors", path, sizeof path);
    ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
    ag_checkpoint_writer_free(w);

    ag_checkpoint *loaded = ag_checkpoint_load(path);
    ag_real out[4] = {9, 9, 9, 9};
    ck_assert_int_eq(ag_checkpoint_read_array(loaded, "extra", out, 4), AG_ERROR_SHAPE);
    ck_assert_msg(strstr(ag_error_message(), "expected [4]") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_checkpoint_read_array(loaded, "linear.weight", out, 6), AG_ERROR_SHAPE); /* [2, 3] */
    ck_assert_int_eq(ag_checkpoint_read_array(loaded, "missing", out, 3), AG_ERROR_FORMAT);
    ck_assert(out[0] == 9 && out[3] == 9);
    ck_assert_int_eq(ag_checkpoint_read_array(loaded, "extra", out, 3), AG_OK);
    ck_assert(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 9);
    /* ag_params_load reads such a file as a model: the extras are ignored. */
    ag_params *other = small_model(3);
    ck_assert_int_eq(ag_params_load(other, path), AG_OK);
    ck_assert(same_bits(params, other));
    ag_checkpoint_free(loaded);
    ag_params_free(params);
    ag_params_free(other);
}
END_TEST

/* Adam's loader reads both moments aside and checks them before it keeps
 * any: a bad second tensor or a negative second moment changes nothing. */
START_TEST(test_adam_load_changes_nothing_on_error) {
    ag_params *params = small_model(4);
    int64_t n = ag_params_size(params);
    ag_real *good = malloc((size_t)n * sizeof *good), *negative = malloc((size_t)n * sizeof *negative);
    for (int64_t i = 0; i < n; i++) {
        good[i] = (ag_real)(0.5 + (double)i);
        negative[i] = i == n - 1 ? -1 : 1;
    }
    char path[128];
    path_in_tmpdir("bad_adam.safetensors", path, sizeof path);
    for (int variant = 0; variant < 3; variant++) {
        ag_checkpoint_writer *w = ag_checkpoint_writer_create();
        ck_assert_int_eq(ag_checkpoint_set_metadata(w, "optimizer", "adam"), AG_OK);
        ck_assert_int_eq(ag_checkpoint_set_int(w, "optimizer.step", variant == 2 ? -1 : 4), AG_OK);
        ck_assert_int_eq(ag_checkpoint_add_array(w, "optimizer.exp_avg", good, n), AG_OK);
        ck_assert_int_eq(ag_checkpoint_add_array(w, "optimizer.exp_avg_sq", variant == 1 ? negative : good,
                                                 variant == 0 ? n - 1 : n),
                         AG_OK);
        ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
        ag_checkpoint_writer_free(w);

        ag_adam adam;
        ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
        ag_checkpoint *loaded = ag_checkpoint_load(path);
        ck_assert_ptr_nonnull(loaded);
        ag_status status = ag_adam_load(&adam, loaded);
        ck_assert_msg(status == (variant == 0 ? AG_ERROR_SHAPE : AG_ERROR_FORMAT), "variant %d: %d %s", variant,
                      status, ag_error_message());
        ck_assert_int_eq(adam.step, 0);
        for (int64_t i = 0; i < n; i++) ck_assert(adam.m[i] == 0 && adam.v[i] == 0);
        ag_checkpoint_free(loaded);
        ag_adam_free(&adam);
    }
    free(good);
    free(negative);
    ag_params_free(params);
}
END_TEST

START_TEST(test_check_finite_names_the_parameter) {
    ag_params *params = small_model(6);
    ck_assert_int_eq(ag_params_check_finite(params, true), AG_OK);
    ag_tensor *w = ag_params_find(params, "rnn.weight_hh");
    w->grad[3] = (ag_real)INFINITY;
    ck_assert_int_eq(ag_params_check_finite(params, false), AG_OK);
    ck_assert_int_eq(ag_params_check_finite(params, true), AG_ERROR_STATE);
    ck_assert_str_eq(ag_error_message(), "gradient of rnn.weight_hh[3] is inf");
    ag_params_find(params, "linear.bias")->data[1] = (ag_real)NAN;
    ck_assert_int_eq(ag_params_check_finite(params, true), AG_ERROR_STATE);
    ck_assert_str_eq(ag_error_message(), "value of linear.bias[1] is nan");

    /* What a demo prints when a step goes wrong: the loss, the element,
     * and which checkpoint is still good. */
    char dir[128], expected[300];
    path_in_tmpdir("run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_int_eq(ag_run_check_finite(run, 0.5, params), AG_ERROR_STATE);
    snprintf(expected, sizeof expected,
             "loss 0.5, value of linear.bias[1] is nan: training stopped; %s/checkpoint.safetensors keeps the last "
             "good state", dir);
    ck_assert_str_eq(ag_error_message(), expected);
    ag_params_find(params, "linear.bias")->data[1] = 0;
    w->grad[3] = 0;
    ck_assert_int_eq(ag_run_check_finite(run, 0.5, params), AG_OK);
    ck_assert_int_eq(ag_run_check_finite(run, INFINITY, params), AG_ERROR_STATE);
    ck_assert_msg(strstr(ag_error_message(), "loss inf, the loss is not finite") != NULL, "%s", ag_error_message());
    ag_run_close(run);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------- ag_run */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(test_resume_metrics_cuts_back_to_the_checkpoint) {
    char dir[128], metrics[160];
    path_in_tmpdir("run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_ptr_nonnull(run);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", dir);
    const char *const columns[] = {"loss", "acc"};
    /* Rows past the checkpoint (step 2), and a row torn by a kill. */
    write_text(metrics, "step,loss,acc\n1,0.5,\n2,0.25,0.75\n3,0.125,\n4,0.06");
    run = ag_run_resume(dir);
    ck_assert_ptr_nonnull(run);
    ck_assert_int_eq(ag_run_resume_metrics(run, columns, 2, 2), AG_OK);
    ck_assert_int_eq(ag_run_log(run, 3, (double[]){0.1, NAN}), AG_OK);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    ck_assert_str_eq(read_text(metrics), "step,loss,acc\n1,0.5,\n2,0.25,0.75\n3,0.1,\n");

    struct {
        const char *content;
        int64_t step;
        const char *keyword;
    } bad[] = {
        {"step,loss,accuracy\n1,0.5,\n", 1, "'accuracy'"},
        {"step,loss,acc\n1,0.5,\n3,0.5,\n", 2, "ends at step 1"},
        {"step,loss,acc\n2,0.5,\n1,0.5,\n", 2, "line 3"},
        {"step,loss,acc\n1,0.5\n", 1, "line 2 has 2 fields"},
        {"step,loss,acc\nx,0.5,1\n", 1, "'x'"},
        {"", 0, "no header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(metrics, bad[i].content);
        run = ag_run_resume(dir);
        ck_assert_int_eq(ag_run_resume_metrics(run, columns, 2, bad[i].step), AG_ERROR_FORMAT);
        ck_assert_msg(strstr(ag_error_message(), bad[i].keyword) != NULL, "case %zu: '%s' lacks '%s'", i,
                      ag_error_message(), bad[i].keyword);
        ck_assert_str_eq(read_text(metrics), bad[i].content); /* left as it was */
        ag_run_close(run);
    }
    char missing[160];
    path_in_tmpdir("no-such-run", missing, sizeof missing);
    ck_assert_ptr_null(ag_run_resume(missing));

    /* What a run killed mid-write leaves goes; nothing else does. */
    const char *stale[] = {"checkpoint.safetensors.tmp.123", "metrics.csv.tmp.9"},
               *kept[] = {"notes.tmp.5", "metrics.csv.tmp.x", "checkpoint.safetensors.tmp."};
    char path[200];
    for (int i = 0; i < 2; i++) write_text(path_in_tmpdir(stale[i], path, sizeof path), "x");
    for (int i = 0; i < 3; i++) write_text(path_in_tmpdir(kept[i], path, sizeof path), "x");
    run = ag_run_resume(tmpdir);
    ck_assert_ptr_nonnull(run);
    ag_run_close(run);
    for (int i = 0; i < 2; i++) ck_assert_msg(access(path_in_tmpdir(stale[i], path, sizeof path), F_OK) != 0, "%s stays", stale[i]);
    for (int i = 0; i < 3; i++) ck_assert_msg(access(path_in_tmpdir(kept[i], path, sizeof path), F_OK) == 0, "%s went", kept[i]);
}
END_TEST

START_TEST(test_options_stay_out_of_checkpoints) {
    char dir[128], path[192];
    path_in_tmpdir("run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ag_params *params = small_model(7);
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.5), AG_OK);
    ck_assert_int_eq(ag_run_set_option(run, "threads", "%d", 2), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_run_save_checkpoint(run, w), AG_OK);
    ck_assert_int_eq(ag_run_save_model(run, params), AG_OK);
    ag_checkpoint_writer_free(w);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    snprintf(path, sizeof path, "%s/params.csv", dir);
    ck_assert_msg(strstr(read_text(path), "\"threads\",\"2\"") != NULL, "params.csv lacks the option");

    const char *files[] = {"checkpoint.safetensors", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        ag_checkpoint *loaded = ag_checkpoint_load(path);
        ck_assert_ptr_nonnull(loaded);
        ck_assert_str_eq(ag_checkpoint_metadata(loaded, "lr"), "0.5");
        ck_assert_ptr_null(ag_checkpoint_metadata(loaded, "threads"));
        ag_checkpoint_free(loaded);
    }

    /* A resumed run: the same setting passes, another is named, options
     * may differ. */
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    ag_checkpoint *loaded = ag_checkpoint_load(path);
    run = ag_run_resume(dir);
    ck_assert_int_eq(ag_run_set_option(run, "threads", "%d", 1), AG_OK);
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.5), AG_OK);
    ck_assert_int_eq(ag_run_check_params(run, loaded), AG_OK);
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.25), AG_OK);
    ck_assert_int_eq(ag_run_check_params(run, loaded), AG_ERROR_STATE);
    ck_assert_msg(strstr(ag_error_message(), "lr=0.5") && strstr(ag_error_message(), "lr=0.25"), "%s",
                  ag_error_message());
    ag_checkpoint_free(loaded);
    ag_run_close(run);
    ag_params_free(params);
}
END_TEST

/* ------------------------------------------------------------ run identity */

/* A run in DIR (under the temporary directory) with one setting, its
 * params.csv and a checkpoint; returns its id in `id`. */
static void identity_run(const char *name, char *id, size_t size) {
    char dir[128];
    path_in_tmpdir(name, dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_msg(run != NULL, "%s", ag_error_message());
    ag_params *params = small_model(3);
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.5), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_run_save_checkpoint(run, w), AG_OK);
    ck_assert_int_eq(ag_run_save_model(run, params), AG_OK);
    ag_checkpoint_writer_free(w);
    ck_assert_ptr_nonnull(ag_run_id(run));
    snprintf(id, size, "%s", ag_run_id(run));
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    ag_params_free(params);
}

static ag_checkpoint *load_checkpoint_of(const char *name) {
    char path[192];
    snprintf(path, sizeof path, "%s/%s/checkpoint.safetensors", tmpdir, name);
    ag_checkpoint *cp = ag_checkpoint_load(path);
    ck_assert_msg(cp != NULL, "%s", ag_error_message());
    return cp;
}

static ag_run *resume_run(const char *name) {
    char dir[128];
    ag_run *run = ag_run_resume(path_in_tmpdir(name, dir, sizeof dir));
    ck_assert_msg(run != NULL, "%s", ag_error_message());
    return run;
}

/* A run's id: random, in params.csv and its checkpoints (not its model);
 * a resumed run keeps it, and refuses another run's checkpoint. */
START_TEST(test_run_identity) {
    char a[32], b[32], path[192], expected[512];
    identity_run("a", a, sizeof a);
    identity_run("b", b, sizeof b);
    ck_assert_int_eq((int)strlen(a), AG_RUN_ID_LENGTH);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), AG_RUN_ID_LENGTH);
    ck_assert_str_ne(a, b); /* the same settings, two runs */
    snprintf(expected, sizeof expected, "name,value\n\"run_id\",\"%s\"\n\"lr\",\"0.5\"\n", a);
    ck_assert_str_eq(read_text(path_in_tmpdir("a/params.csv", path, sizeof path)), expected);
    ag_checkpoint *cp_a = load_checkpoint_of("a"), *cp_b = load_checkpoint_of("b");
    ck_assert_str_eq(ag_checkpoint_metadata(cp_a, "ag.run_id"), a);
    ag_checkpoint *model = ag_checkpoint_load(path_in_tmpdir("a/model.safetensors", path, sizeof path));
    ck_assert_ptr_null(ag_checkpoint_metadata(model, "ag.run_id"));
    ag_checkpoint_free(model);

    /* Its own checkpoint: it goes on under its id. */
    ag_run *run = resume_run("a");
    ck_assert_str_eq(ag_run_id(run), a);
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.5), AG_OK);
    ck_assert_int_eq(ag_run_check_identity(run, cp_a), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    ck_assert_str_eq(read_text(path_in_tmpdir("a/params.csv", path, sizeof path)), expected);
    /* Another run's, with the same settings: the settings pass (the id is
     * no setting), the identity does not. */
    ck_assert_int_eq(ag_run_check_params(run, cp_b), AG_OK);
    ck_assert_int_eq(ag_run_check_identity(run, cp_b), AG_ERROR_STATE);
    snprintf(expected, sizeof expected,
             "%s/a/checkpoint.safetensors belongs to run %s but %s/a/params.csv to run %s (a checkpoint copied from "
             "another run?)",
             tmpdir, b, tmpdir, a);
    ck_assert_str_eq(ag_error_message(), expected);
    ck_assert_str_eq(ag_run_id(run), a);
    ck_assert_int_eq(ag_run_set_param(run, "run_id", "%s", b), AG_ERROR_ARGUMENT);
    ag_run_close(run);

    /* A run begun by an older ag: no id in params.csv nor the checkpoint. It
     * goes on, and keeps none. */
    char old_dir[128];
    path_in_tmpdir("old", old_dir, sizeof old_dir);
    ck_assert_int_eq(mkdir(old_dir, 0777), 0);
    write_text(path_in_tmpdir("old/params.csv", path, sizeof path), "name,value\n\"lr\",\"0.5\"\n");
    ag_params *params = small_model(3);
    ag_checkpoint_writer *w = ag_checkpoint_writer_create();
    ck_assert_int_eq(ag_checkpoint_add_params(w, params), AG_OK);
    ck_assert_int_eq(ag_checkpoint_set_metadata(w, "lr", "0.5"), AG_OK);
    ck_assert_int_eq(ag_checkpoint_save(w, path_in_tmpdir("old/checkpoint.safetensors", path, sizeof path)), AG_OK);
    ag_checkpoint *cp_old = load_checkpoint_of("old");
    run = resume_run("old");
    ck_assert_ptr_null(ag_run_id(run));
    ck_assert_int_eq(ag_run_check_identity(run, cp_old), AG_OK);
    ck_assert_ptr_null(ag_run_id(run));
    ck_assert_int_eq(ag_run_set_param(run, "lr", "%g", 0.5), AG_OK);
    ck_assert_int_eq(ag_run_write_params(run), AG_OK);
    ck_assert_str_eq(read_text(path_in_tmpdir("old/params.csv", path, sizeof path)), "name,value\n\"lr\",\"0.5\"\n");
    ck_assert_int_eq(ag_run_save_checkpoint(run, w), AG_OK);
    ag_checkpoint *saved = load_checkpoint_of("old");
    ck_assert_ptr_null(ag_checkpoint_metadata(saved, "ag.run_id"));
    ag_checkpoint_free(saved);
    /* ... but a checkpoint with an id there, or an old one in a run with an
     * id, is another run's. */
    ck_assert_int_eq(ag_run_check_identity(run, cp_a), AG_ERROR_STATE);
    ck_assert_msg(strstr(ag_error_message(), "old/params.csv has no run id (a checkpoint copied"), "%s",
                  ag_error_message());
    ag_run_close(run);
    run = resume_run("a");
    ck_assert_int_eq(ag_run_check_identity(run, cp_old), AG_ERROR_STATE);
    ck_assert_msg(strstr(ag_error_message(), "a/checkpoint.safetensors has no run id but"), "%s", ag_error_message());
    ag_run_close(run);

    /* Stopped before params.csv was written: the checkpoint's id is the run's. */
    char bare[128];
    ck_assert_int_eq(mkdir(path_in_tmpdir("bare", bare, sizeof bare), 0777), 0);
    run = resume_run("bare");
    ck_assert_ptr_null(ag_run_id(run));
    ck_assert_int_eq(ag_run_check_identity(run, cp_b), AG_OK);
    ck_assert_str_eq(ag_run_id(run), b);
    ag_run_close(run);

    /* A run_id in params.csv that is not one, or twice: refused. */
    const char *bad[] = {"name,value\n\"run_id\",\"xyz\"\n", "name,value\n\"run_id\",\"0123456789ABCDEF\"\n",
                         "name,value\nrun_id,0123456789abcdef\nrun_id,0123456789abcdef\n", "name,value\n\"run_id"};
    for (int i = 0; i < 4; i++) {
        write_text(path_in_tmpdir("bare/params.csv", path, sizeof path), bad[i]);
        ck_assert_ptr_null(ag_run_resume(bare));
        ck_assert_int_eq(ag_error_code(), AG_ERROR_FORMAT);
        ck_assert_msg(strstr(ag_error_message(), "bare/params.csv"), "%s", ag_error_message());
    }
    ag_checkpoint_writer_free(w);
    ag_params_free(params);
    ag_checkpoint_free(cp_a);
    ag_checkpoint_free(cp_b);
    ag_checkpoint_free(cp_old);
}
END_TEST

/* Every file ag writes goes through ag_atomic_file: the old content or the
 * new, never a mix, never a FIFO or device replaced by a regular file. */
START_TEST(test_atomic_file) {
    char path[128], fifo[128], temporary[160];
    path_in_tmpdir("file.txt", path, sizeof path);
    write_text(path, "old");
    ag_atomic_file out;
    ck_assert_int_eq(ag_atomic_file_begin(&out, path), AG_OK);
    fputs("new", out.file);
    snprintf(temporary, sizeof temporary, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_str_eq(out.temporary, temporary);
    ck_assert_str_eq(read_text(path), "old"); /* nothing visible before the commit */
    ag_atomic_file_abort(&out);
    ck_assert_str_eq(read_text(path), "old");
    ck_assert_int_ne(access(temporary, F_OK), 0);

    ck_assert_int_eq(ag_atomic_file_begin(&out, path), AG_OK);
    fputs("new", out.file);
    ck_assert_int_eq(ag_atomic_file_commit(&out), AG_OK);
    ck_assert_str_eq(read_text(path), "new");
    ck_assert_int_ne(access(temporary, F_OK), 0);
    ck_assert_int_eq(ag_atomic_file_commit(&out), AG_ERROR_STATE);

    path_in_tmpdir("fifo", fifo, sizeof fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(ag_atomic_file_begin(&out, fifo), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), "is something else, not a regular file") != NULL, "%s", ag_error_message());
    struct stat info;
    ck_assert(stat(fifo, &info) == 0 && S_ISFIFO(info.st_mode));
    ck_assert_int_eq(ag_atomic_file_begin(&out, tmpdir), AG_ERROR_IO);
    ck_assert_msg(strstr(ag_error_message(), "is a directory") != NULL, "%s", ag_error_message());
    ag_params *params = small_model(1);
    ck_assert_int_eq(ag_params_save(params, fifo, NULL, 0), AG_ERROR_IO);
    ck_assert(stat(fifo, &info) == 0 && S_ISFIFO(info.st_mode));
    ag_params_free(params);
}
END_TEST

/* A step past 2^53 (INT64_MAX from a damaged file, say) would overflow
 * on the next step, and Adam's bias corrections take it as a double:
 * both loaders refuse it and change nothing; 2^53 itself loads. */
START_TEST(test_optimizer_step_is_bounded) {
    ag_params *params = small_model(7);
    int64_t n = ag_params_size(params);
    ag_real *moments = calloc((size_t)n, sizeof *moments);
    char path[128];
    path_in_tmpdir("step.safetensors", path, sizeof path);
    const int64_t steps[] = {INT64_MAX, ((int64_t)1 << 53) + 1, (int64_t)1 << 53};
    for (int kind = 0; kind < 2; kind++)
        for (int i = 0; i < 3; i++) {
            ag_checkpoint_writer *w = ag_checkpoint_writer_create();
            ck_assert_int_eq(ag_checkpoint_set_metadata(w, "optimizer", kind == 0 ? "adam" : "sgd"), AG_OK);
            ck_assert_int_eq(ag_checkpoint_set_int(w, "optimizer.step", steps[i]), AG_OK);
            ck_assert_int_eq(ag_checkpoint_add_array(w, "optimizer.exp_avg", moments, n), AG_OK);
            ck_assert_int_eq(ag_checkpoint_add_array(w, "optimizer.exp_avg_sq", moments, n), AG_OK);
            ck_assert_int_eq(ag_checkpoint_save(w, path), AG_OK);
            ag_checkpoint_writer_free(w);
            ag_checkpoint *loaded = ag_checkpoint_load(path);
            ck_assert_ptr_nonnull(loaded);
            ag_adam adam;
            ag_sgd sgd;
            ck_assert_int_eq(ag_adam_init(&adam, params, 0.1), AG_OK);
            ck_assert_int_eq(ag_sgd_init(&sgd, params, 0.1, 0), AG_OK);
            ag_status status = kind == 0 ? ag_adam_load(&adam, loaded) : ag_sgd_load(&sgd, loaded);
            int64_t step = kind == 0 ? adam.step : sgd.step;
            if (i < 2) {
                ck_assert_msg(status == AG_ERROR_FORMAT, "kind %d, step %lld: %d %s", kind, (long long)steps[i], status,
                              ag_error_message());
                ck_assert_msg(strstr(ag_error_message(), "is beyond 2^53") != NULL, "%s", ag_error_message());
                ck_assert_int_eq(step, 0);
            } else {
                ck_assert_msg(status == AG_OK, "kind %d, step 2^53: %s", kind, ag_error_message());
                ck_assert_int_eq(step, (int64_t)1 << 53);
            }
            ag_checkpoint_free(loaded);
            ag_adam_free(&adam);
            ag_sgd_free(&sgd);
        }
    free(moments);
    ag_params_free(params);
}
END_TEST

/* A write that fails (a full disk, a file size limit) is reported with
 * its reason, not as a "short write": the file size limit stands in for a
 * full disk here (tests/full_disk.sh fills a real one where it may mount
 * a tmpfs). */
START_TEST(test_atomic_file_names_the_write_error) {
    char path[128], metrics[160], dir[128];
    path_in_tmpdir("big.txt", path, sizeof path);
    write_text(path, "old");
    path_in_tmpdir("run", dir, sizeof dir);
    ag_run *run = ag_run_create("test", dir);
    ck_assert_ptr_nonnull(run);
    ck_assert_int_eq(ag_run_close(run), AG_OK);
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", dir);
    char *rows = malloc(1 << 16), *end = rows;
    end += sprintf(end, "step,loss\n");
    for (int step = 1; step <= 2000; step++) end += sprintf(end, "%d,0.%d\n", step, step);
    write_text(metrics, rows);

    struct rlimit saved;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {4096, saved.rlim_max};
    /* No assertion while the limit holds: Check writes its own messages
     * to a file. */
    int limited = setrlimit(RLIMIT_FSIZE, &small);
    ag_atomic_file out;
    ag_status begun = ag_atomic_file_begin(&out, path), committed = AG_OK;
    if (begun == AG_OK) {
        for (int i = 0; i < 1000; i++) fputs("0123456789abcdef", out.file);
        committed = ag_atomic_file_commit(&out);
    }
    char message[600], metrics_message[600] = "";
    snprintf(message, sizeof message, "%s", ag_error_message());
    run = ag_run_resume(dir);
    const char *const columns[] = {"loss"};
    ag_status resumed = run ? ag_run_resume_metrics(run, columns, 1, 2000) : ag_error_code();
    snprintf(metrics_message, sizeof metrics_message, "%s", ag_error_message());
    if (run) ag_run_close(run);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, saved_handler);

    ck_assert_int_eq(limited, 0);
    ck_assert_int_eq(begun, AG_OK);
    ck_assert_int_eq(committed, AG_ERROR_IO);
    ck_assert_msg(strstr(message, "write of temporary file") && strstr(message, strerror(EFBIG)), "%s", message);
    ck_assert_str_eq(read_text(path), "old");
    ck_assert_int_eq(resumed, AG_ERROR_IO);
    ck_assert_msg(strstr(metrics_message, "metrics.csv: write of temporary file") &&
                      strstr(metrics_message, strerror(EFBIG)),
                  "%s", metrics_message);
    FILE *f = fopen(metrics, "rb");
    char *back = malloc(1 << 16);
    size_t n = fread(back, 1, (1 << 16) - 1, f);
    back[n] = '\0';
    fclose(f);
    ck_assert_str_eq(back, rows); /* as it was */
    free(back);
    free(rows);
    char temporary[200];
    snprintf(temporary, sizeof temporary, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_ne(access(temporary, F_OK), 0);
}
END_TEST

/* What a writer killed mid-write left, PATH.tmp.PID, goes once its
 * process is gone; a live process's, this one's, another file's and names
 * that are no PID stay. */
START_TEST(test_atomic_file_removes_stale_temporaries) {
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    char path[128], name[64];
    path_in_tmpdir("data.csv", path, sizeof path);
    write_text(path, "12,3\n");
    /* PID 1 is alive (or not ours to signal). */
    const char *gone = "data.csv.tmp.%ld", *kept[] = {"data.csv.tmp.1", "other.csv.tmp.%ld", "data.csv.tmp.0%ld",
                                                      "data.csv.tmp.%ldx", "data.csv.tmp.", "data.csvtmp.%ld"};
    snprintf(name, sizeof name, gone, (long)child);
    write_text(path_in_tmpdir(name, (char[200]){0}, 200), "partial");
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char file[64];
        snprintf(file, sizeof file, kept[i], (long)child);
        write_text(path_in_tmpdir(file, (char[200]){0}, 200), "partial");
    }
    char mine[64];
    snprintf(mine, sizeof mine, "data.csv.tmp.%ld", (long)getpid());
    write_text(path_in_tmpdir(mine, (char[200]){0}, 200), "partial");

    ck_assert_int_eq(ag_atomic_file_remove_stale(path), 1);
    char full[200];
    ck_assert_int_ne(access(path_in_tmpdir(name, full, sizeof full), F_OK), 0);
    ck_assert_int_eq(access(path_in_tmpdir(mine, full, sizeof full), F_OK), 0);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char file[64];
        snprintf(file, sizeof file, kept[i], (long)child);
        ck_assert_msg(access(path_in_tmpdir(file, full, sizeof full), F_OK) == 0, "%s went", file);
    }
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(ag_atomic_file_remove_stale(path), 0);
    ck_assert_int_eq(ag_atomic_file_remove_stale(""), 0);
    ck_assert_int_eq(ag_atomic_file_remove_stale("/no/such/dir/x.csv"), 0);
}
END_TEST

AG_TEST_SUITE(training_checkpoint_suite)
static Suite *training_checkpoint_suite(void) {
    Suite *s = suite_create("training_checkpoint");
    TCase *tc = tcase_create("resume");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_test(tc, test_adam_resume_is_exact);
    tcase_add_test(tc, test_sgd_momentum_resume_is_exact);
    tcase_add_test(tc, test_metadata_and_generators_round_trip);
    tcase_add_test(tc, test_tensor_names_are_checked);
    tcase_add_test(tc, test_adam_load_changes_nothing_on_error);
    tcase_add_test(tc, test_check_finite_names_the_parameter);
    tcase_add_test(tc, test_resume_metrics_cuts_back_to_the_checkpoint);
    tcase_add_test(tc, test_options_stay_out_of_checkpoints);
    tcase_add_test(tc, test_run_identity);
    tcase_add_test(tc, test_atomic_file);
    tcase_add_test(tc, test_optimizer_step_is_bounded);
    tcase_add_test(tc, test_atomic_file_names_the_write_error);
    tcase_add_test(tc, test_atomic_file_removes_stale_temporaries);
    suite_add_tcase(s, tc);
    return s;
}
