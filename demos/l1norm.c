/* l1norm: the L1-norm RNN experiment. A one-unit ReLU RNN reads a sequence
 * of reals and must output the sum of their absolute values; training has
 * to find w_ih = w_hh = 1 (exactly, in float32) on its own. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "ag_run.h"
#include "harness.h"
#include "l1norm.h"

static const char *const SUMMARY =
    "l1norm: train a 1-unit ReLU RNN (torch.nn.RNNCell(1, 1)) to compute sum |x| of variable-length\n"
    "sequences, until both weights are exactly 1.0; then test it on one long sequence.\n\n"
    "Usage: l1norm [flags]\n"
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,w_ih,w_hh), checkpoint.safetensors (to go on\n"
    "with --resume RUN_DIR after a kill or Ctrl-C) and model.safetensors; the last line on stdout is\n"
    "'summary: key=value ...'.";

typedef struct options {
    long seed, batch, max_length, max_steps, test_length;
    double lr, bias_tolerance;
    const char *init;
    bool bias;
} options;

/* --init, on the model as PyTorch's init drew it: positive (the default:
 * the same magnitudes, every sign positive, so the ReLU is alive from the
 * start and any seed converges), torch (the draw as it is, the notebook's:
 * fails whenever w_ih < 0; "default" is its name in checkpoints of older
 * builds) or w_ih=V,w_hh=V[,b_ih=V,b_hh=V] (the notebook's study of
 * initial signs). Returns false after printing what is wrong. */
static bool apply_init(const char *text, l1norm_model *model, bool bias) {
    if (strcmp(text, "positive") == 0) {
        l1norm_init_positive(model);
        return true;
    }
    if (strcmp(text, "torch") == 0 || strcmp(text, "default") == 0) return true;
    const char *names[4] = {"w_ih", "w_hh", "b_ih", "b_hh"};
    ag_tensor *targets[4] = {model->cell.weight_ih, model->cell.weight_hh, model->cell.bias_ih, model->cell.bias_hh};
    bool given[4] = {false};
    char copy[256];
    if (strlen(text) >= sizeof copy) {
        fprintf(stderr, "l1norm: --init: value is too long\n");
        return false;
    }
    strcpy(copy, text);
    for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
        char *equals = strchr(item, '=');
        int k = -1;
        for (int i = 0; i < 4 && equals; i++)
            if ((size_t)(equals - item) == strlen(names[i]) && strncmp(item, names[i], strlen(names[i])) == 0) k = i;
        char *end = NULL;
        double value = equals ? strtod(equals + 1, &end) : 0;
        char shown[64];
        if (k < 0 || end == equals + 1 || *end != '\0' || !isfinite(value)) {
            fprintf(stderr,
                    "l1norm: --init: '%s' is not NAME=NUMBER with NAME one of w_ih, w_hh, b_ih, b_hh "
                    "(or the whole value positive or torch)\n",
                    ag_printable(item, shown, sizeof shown));
            return false;
        }
        if (!isfinite((ag_real)value)) {
            fprintf(stderr, "l1norm: --init: '%s' is beyond the range of a float\n", ag_printable(item, shown, sizeof shown));
            return false;
        }
        if (given[k]) {
            fprintf(stderr, "l1norm: --init: %s is given twice\n", names[k]);
            return false;
        }
        if (k >= 2 && !bias) {
            fprintf(stderr, "l1norm: --init: %s needs --bias\n", names[k]);
            return false;
        }
        targets[k]->data[0] = (ag_real)value;
        given[k] = true;
    }
    for (int k = 0; k < (bias ? 4 : 2); k++)
        if (!given[k]) {
            fprintf(stderr, "l1norm: --init: %s is missing (give %s)\n", names[k],
                    bias ? "w_ih, w_hh, b_ih and b_hh" : "w_ih and w_hh");
            return false;
        }
    return true;
}

/* The data generator and the last 100 losses: besides the weights and
 * Adam's moments, all that changes from step to step; in every checkpoint,
 * so a resumed run has the same bits. */
typedef struct training_state {
    ag_rng data_rng;
    ag_real recent_loss[100]; /* the last 100 losses, by step % 100 */
    ag_real loss;
} training_state;

static ag_status save_state(const void *data, ag_checkpoint_writer *cp) {
    const training_state *state = data;
    char loss_text[32];
    snprintf(loss_text, sizeof loss_text, "%.9g", (double)state->loss);
    ag_status status = ag_checkpoint_set_rng(cp, "train.rng.data", &state->data_rng);
    if (status == AG_OK) status = ag_checkpoint_set_metadata(cp, "train.loss", loss_text);
    if (status == AG_OK) status = ag_checkpoint_add_array(cp, "train.recent_loss", state->recent_loss, 100);
    return status;
}

static ag_status restore_state(void *data, const ag_checkpoint *cp, int64_t step) {
    training_state *state = data;
    ag_status status = ag_checkpoint_get_rng(cp, "train.rng.data", &state->data_rng);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "train.recent_loss", state->recent_loss, 100);
    const char *loss = ag_checkpoint_metadata(cp, "train.loss");
    state->loss = loss ? (ag_real)strtod(loss, NULL) : (ag_real)NAN;
    return status;
}

/* Converged: both weights exactly 1; with biases the solution (b_ih + b_hh
 * = 0) need not be representable exactly, so the loss decides instead. */
static bool has_converged(const l1norm_model *model, const training_state *state, int64_t step, bool bias,
                          double tolerance) {
    if (!bias) return model->cell.weight_ih->data[0] == 1.0f && model->cell.weight_hh->data[0] == 1.0f;
    if (step < 100) return false;
    double mean = 0;
    for (int i = 0; i < 100; i++) mean += (double)state->recent_loss[i] / 100;
    return mean < tolerance;
}

/* The test after training: `length` values from test_rng, their sum of
 * |x| and the model's prediction. Training is over and saved by then, so
 * SIGINT or SIGTERM (a test of 10^8 steps takes seconds) skips the test
 * and the model file, and --resume finishes them; false then, or after a
 * failure, with d's exit code set. */
static bool run_test(demo *d, ag_ctx *ctx, const l1norm_model *model, ag_rng *test_rng, ag_real *values, long length,
                     double *true_sum, double *prediction, double *seconds) {
    for (long t = 0; t < length; t++) {
        if (t % (1 << 20) == 0 && ag_run_stop_signal()) break;
        values[t] = (ag_real)ag_rng_normal(test_rng);
        *true_sum += fabs((double)values[t]);
    }
    double start = ag_seconds();
    int stop = ag_run_stop_signal();
    if (!stop && l1norm_predict_or_stop(ctx, model, values, (int)length, ag_run_stop_signal, prediction) != AG_OK) {
        stop = ag_run_stop_signal();
        if (!stop) return demo_fail(d, "test"), false;
    }
    *seconds = ag_seconds() - start;
    if (!stop) return true;
    fprintf(stderr, "l1norm: %s during the test: training is complete and saved in %s; the test was skipped "
            "(finish it with: l1norm --resume %s)\n", stop == SIGINT ? "SIGINT" : "SIGTERM", ag_run_dir(d->run),
            ag_run_dir(d->run));
    d->exit_code = 128 + stop;
    return false;
}

int main(int argc, char **argv) {
    demo_fit_blas_kernels(argv); /* the right OpenBLAS kernels, or this process as it is */
    options o = {.seed = 42, .batch = 32, .max_length = 10, .max_steps = 50000, .test_length = 10000,
                 .lr = 1e-3, .bias_tolerance = 1e-10, .init = "positive"};
    demo d;
    demo_init(&d, "l1norm", "l1norm", DEMO_STEPS, 10000);
    const flag_spec specs[] = {
        {"seed", FLAG_INT, &o.seed, 0, 4294967295.0, false, "random seed (init, data and test sequence)", false},
        {"lr", FLAG_DOUBLE, &o.lr, 0, 10, true, "Adam learning rate", false},
        {"batch", FLAG_INT, &o.batch, 1, 1 << 20, false, "sequences per step", false},
        {"max-len", FLAG_INT, &o.max_length, 1, 1 << 20, false, "lengths are uniform in 1..max-len", false},
        {"max-steps", FLAG_INT, &o.max_steps, 1, 1e9, false, "give up after this many steps", false},
        {"init", FLAG_STRING, &o.init, 0, 0, false,
         "positive (PyTorch's U(-1,1) magnitudes, signs positive), torch (U(-1,1) as drawn; old name: default) "
         "or w_ih=V,w_hh=V[,b_ih=V,b_hh=V]",
         false},
        {"bias", FLAG_BOOL, &o.bias, 0, 0, false, "give the cell biases b_ih and b_hh", false},
        {"bias-tolerance", FLAG_DOUBLE, &o.bias_tolerance, 0, 1, true,
         "with --bias: converged once the mean loss of the last 100 steps is below this", false},
        {"test-len", FLAG_INT, &o.test_length, 1, 1e8, false, "length of the test sequence", false},
        DEMO_RUN_FLAGS(&d),
    };
    if (!demo_parse(&d, SUMMARY, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv)) return d.exit_code;

    /* Data: a fresh batch of sequences every step; one long test sequence. */
    training_state state = {.loss = (ag_real)NAN};
    ag_rng init_rng, test_rng;
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    ag_rng_seed(&state.data_rng, (uint64_t)o.seed, 1);
    ag_rng_seed(&test_rng, (uint64_t)o.seed, 2);
    ag_sequence_batch batch;
    ag_real *targets = malloc((size_t)o.batch * sizeof *targets);
    ag_real *test_values = malloc((size_t)o.test_length * sizeof *test_values);
    if (!targets || !test_values) ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld sequences", o.batch);
    if (!targets || !test_values || ag_sequence_batch_init(&batch, (int)o.batch, (int)o.max_length, 1) != AG_OK)
        return demo_fail(&d, "setup");

    /* Model: one RNNCell(1, 1, relu), PyTorch's init (made positive or as drawn) or the given weights; MSE, Adam. */
    l1norm_model model;
    if (l1norm_model_init(&model, o.bias, &init_rng) != AG_OK) return demo_fail(&d, "model");
    if (!apply_init(o.init, &model, o.bias)) return demo_close(&d), 2;
    ag_real *w_ih = model.cell.weight_ih->data, *w_hh = model.cell.weight_hh->data;
    demo_optimizer adam;
    ag_ctx *ctx = ag_ctx_create();
    if (demo_optimizer_init(&adam, "adam", model.params, o.lr) != AG_OK || !ctx) return demo_fail(&d, "setup");
    demo_set_param(&d, "initial_w_ih", "%.9g", (double)*w_ih);
    demo_set_param(&d, "initial_w_hh", "%.9g", (double)*w_hh);
    if (o.bias) {
        demo_set_param(&d, "initial_b_ih", "%.9g", (double)model.cell.bias_ih->data[0]);
        demo_set_param(&d, "initial_b_hh", "%.9g", (double)model.cell.bias_hh->data[0]);
    }
    const char *const columns[] = {"loss", "w_ih", "w_hh"};
    if (!demo_open(&d, &(demo_training){.params = model.params, .optimizer = &adam,
                                        .state = {&state, save_state, restore_state}, .columns = columns,
                                        .n_columns = 3, .total = o.max_steps, .progress_every = 1000}))
        return d.exit_code;

    /* Training until w_ih = w_hh = 1. */
    bool converged = has_converged(&model, &state, d.step, o.bias, o.bias_tolerance);
    while (demo_running(&d) && !converged) {
        l1norm_make_batch(&state.data_rng, &batch, targets);
        ag_params_zero_grad(model.params);
        ag_tensor *prediction = l1norm_forward(ctx, &model, &batch);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){(int)o.batch, 1}, targets);
        ag_tensor *loss = ag_mse_loss(ctx, prediction, target);
        if (ag_backward(ctx, loss) != AG_OK) return demo_fail(&d, "training step");
        state.loss = loss->data[0];
        ag_ctx_reset(ctx);
        if (!demo_finite(&d, state.loss)) break;
        if (!demo_step(&d)) break;
        d.step++;
        state.recent_loss[d.step % 100] = state.loss;
        if (!demo_log(&d, (double[]){state.loss, *w_ih, *w_hh})) break;
        converged = has_converged(&model, &state, d.step, o.bias, o.bias_tolerance);
    }

    /* Test: one long sequence, prediction against the exact sum. */
    double true_sum = 0, prediction = 0, test_seconds = 0;
    if (demo_finish(&d) && run_test(&d, ctx, &model, &test_rng, test_values, o.test_length, &true_sum, &prediction,
                                    &test_seconds)) {
        double relative_error = fabs(prediction - true_sum) / fmax(true_sum, 1e-30);
        demo_set_converged(&d, converged);
        if (demo_save_model(&d)) {
            if (!converged) printf("did not converge within %ld steps\n", o.max_steps);
            char biases[80] = "";
            if (o.bias)
                snprintf(biases, sizeof biases, " b_ih=%.9g b_hh=%.9g", (double)model.cell.bias_ih->data[0],
                         (double)model.cell.bias_hh->data[0]);
            demo_summary(&d,
                   "converged=%d steps=%lld w_ih=%.9g w_hh=%.9g%s loss=%.6g test_len=%ld pred=%.6f true=%.6f "
                   "rel_err=%.3g seconds=%.3f test_seconds=%.4f resumed_at=%lld",
                   converged, (long long)d.step, (double)*w_ih, (double)*w_hh, biases, (double)state.loss,
                   o.test_length, prediction, true_sum, relative_error, d.seconds, test_seconds,
                   (long long)d.first_step);
        }
    }
    free(test_values);
    free(targets);
    demo_optimizer_free(&adam);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    l1norm_model_free(&model);
    return demo_close(&d);
}
