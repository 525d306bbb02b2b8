/* l1norm: the L1-norm RNN experiment. A one-unit ReLU RNN reads a sequence
 * of reals and must output the sum of their absolute values; training has
 * to find w_ih = w_hh = 1 (exactly, in float32) on its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag.h"
#include "ag_run.h"
#include "flags.h"
#include "l1norm.h"

static const char *const SUMMARY =
    "l1norm: train a 1-unit ReLU RNN (torch.nn.RNNCell(1, 1)) to compute sum |x| of variable-length\n"
    "sequences, until both weights are exactly 1.0; then test it on one long sequence.\n\n"
    "Usage: l1norm [flags]\n"
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,w_ih,w_hh) and model.safetensors; the last\n"
    "line on stdout is 'summary: key=value ...'.";

typedef struct options {
    long seed, batch, max_length, max_steps, test_length, threads;
    double lr, bias_tolerance;
    const char *init, *run_dir;
    bool bias, quiet;
} options;

/* --init w_ih=V,w_hh=V[,b_ih=V,b_hh=V]: the notebook's study of initial
 * signs. Returns false after printing what is wrong. */
static bool apply_init(const char *text, const l1norm_model *model, bool bias) {
    if (strcmp(text, "default") == 0) return true;
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
        if (k < 0 || end == equals + 1 || *end != '\0' || !isfinite(value)) {
            fprintf(stderr, "l1norm: --init: '%s' is not NAME=NUMBER with NAME one of w_ih, w_hh, b_ih, b_hh\n", item);
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

static int fail(const char *what) {
    fprintf(stderr, "l1norm: %s: %s\n", what, ag_error_message());
    return 1;
}

int main(int argc, char **argv) {
    options o = {.seed = 42, .batch = 32, .max_length = 10, .max_steps = 50000, .test_length = 10000,
                 .lr = 1e-3, .bias_tolerance = 1e-10, .init = "default", .threads = 0};
    const flag_spec specs[] = {
        {"seed", FLAG_INT, &o.seed, 0, 4294967295.0, false, "random seed (init, data and test sequence)"},
        {"lr", FLAG_DOUBLE, &o.lr, 0, 10, true, "Adam learning rate"},
        {"batch", FLAG_INT, &o.batch, 1, 1 << 20, false, "sequences per step"},
        {"max-len", FLAG_INT, &o.max_length, 1, 1 << 20, false, "lengths are uniform in 1..max-len"},
        {"max-steps", FLAG_INT, &o.max_steps, 1, 1e9, false, "give up after this many steps"},
        {"init", FLAG_STRING, &o.init, 0, 0, false, "'default' (U(-1,1)) or w_ih=V,w_hh=V[,b_ih=V,b_hh=V]"},
        {"bias", FLAG_BOOL, &o.bias, 0, 0, false, "give the cell biases b_ih and b_hh"},
        {"bias-tolerance", FLAG_DOUBLE, &o.bias_tolerance, 0, 1, true,
         "with --bias: converged once the mean loss of the last 100 steps is below this"},
        {"test-len", FLAG_INT, &o.test_length, 1, 1e8, false, "length of the test sequence"},
        {"threads", FLAG_INT, &o.threads, 0, 64, false,
         "threads for the rows of a batch (0: one a core); results do not depend on it"},
        {"run-dir", FLAG_STRING, &o.run_dir, 0, 0, false, "where to write the run (default runs/l1norm-DATE-TIME)"},
        {"quiet", FLAG_BOOL, &o.quiet, 0, 0, false, "no progress line"},
    };
    int parsed = flags_parse("l1norm", SUMMARY, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (o.threads == 0) o.threads = demo_default_threads();
    if (ag_set_num_threads((int)o.threads) != AG_OK) return fail("--threads");

    /* Model: one RNNCell(1, 1, relu), PyTorch's init or the given weights. */
    ag_rng init_rng, data_rng, test_rng;
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    ag_rng_seed(&data_rng, (uint64_t)o.seed, 1);
    ag_rng_seed(&test_rng, (uint64_t)o.seed, 2);
    l1norm_model model;
    if (l1norm_model_init(&model, o.bias, &init_rng) != AG_OK) return fail("model");
    if (!apply_init(o.init, &model, o.bias)) return 2;
    ag_real *w_ih = model.cell.weight_ih->data, *w_hh = model.cell.weight_hh->data;

    /* Memory for training, before anything is written. */
    ag_sequence_batch batch;
    ag_real *targets = malloc((size_t)o.batch * sizeof *targets);
    ag_real *test_values = malloc((size_t)o.test_length * sizeof *test_values);
    ag_adam adam;
    ag_ctx *ctx = ag_ctx_create();
    if (!targets || !test_values) ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld sequences", o.batch);
    if (!targets || !test_values || !ctx || ag_sequence_batch_init(&batch, (int)o.batch, (int)o.max_length, 1) != AG_OK ||
        ag_adam_init(&adam, model.params, o.lr) != AG_OK)
        return fail("setup");

    /* The run directory and its settings. */
    ag_run *run = ag_run_create("l1norm", o.run_dir);
    if (!run) return fail("run directory");
    ag_run_set_param(run, "demo", "l1norm");
    ag_run_set_param(run, "seed", "%ld", o.seed);
    ag_run_set_param(run, "threads", "%ld", o.threads);
    ag_run_set_param(run, "lr", "%g", o.lr);
    ag_run_set_param(run, "batch", "%ld", o.batch);
    ag_run_set_param(run, "max_len", "%ld", o.max_length);
    ag_run_set_param(run, "max_steps", "%ld", o.max_steps);
    ag_run_set_param(run, "bias", "%d", o.bias);
    ag_run_set_param(run, "init", "%s", o.init);
    ag_run_set_param(run, "initial_w_ih", "%.9g", (double)*w_ih);
    ag_run_set_param(run, "initial_w_hh", "%.9g", (double)*w_hh);
    if (o.bias) {
        ag_run_set_param(run, "initial_b_ih", "%.9g", (double)model.cell.bias_ih->data[0]);
        ag_run_set_param(run, "initial_b_hh", "%.9g", (double)model.cell.bias_hh->data[0]);
    }
    ag_run_set_param(run, "test_len", "%ld", o.test_length);
    const char *const columns[] = {"loss", "w_ih", "w_hh"};
    if (ag_run_write_params(run) != AG_OK || ag_run_begin_metrics(run, columns, 3) != AG_OK) return fail("run files");

    /* Training: MSE, Adam, a fresh batch every step, until w_ih = w_hh = 1. */
    ag_progress progress;
    ag_progress_start(&progress, stdout, o.max_steps, 1000, o.quiet);
    double start = ag_seconds(), recent_loss[100] = {0}, loss_value = NAN;
    long step = 0;
    bool converged = false;
    while (step < o.max_steps && !converged) {
        l1norm_make_batch(&data_rng, &batch, targets);
        ag_params_zero_grad(model.params);
        ag_tensor *prediction = l1norm_forward(ctx, &model, &batch);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){(int)o.batch, 1}, targets);
        ag_tensor *loss = ag_mse_loss(ctx, prediction, target);
        if (ag_backward(ctx, loss) != AG_OK) return fail("training step");
        ag_adam_step(&adam, model.params);
        step++;
        loss_value = loss->data[0];
        ag_ctx_reset(ctx);
        if (ag_run_log(run, step, (double[]){loss_value, *w_ih, *w_hh}) != AG_OK) return fail("metrics");
        ag_progress_update(&progress, step, loss_value);
        recent_loss[step % 100] = loss_value;
        if (!o.bias) {
            converged = *w_ih == 1.0f && *w_hh == 1.0f;
        } else if (step >= 100) {
            /* With biases the solution (b_ih + b_hh = 0) need not be
             * representable exactly: judge by the loss instead. */
            double mean = 0;
            for (int i = 0; i < 100; i++) mean += recent_loss[i] / 100;
            converged = mean < o.bias_tolerance;
        }
    }
    ag_progress_end(&progress);
    double train_seconds = ag_seconds() - start;

    /* Test: one long sequence, prediction against the exact sum. */
    if (ag_run_flush(run) != AG_OK) return fail("metrics");
    double true_sum = 0, prediction = 0;
    for (long t = 0; t < o.test_length; t++) {
        test_values[t] = (ag_real)ag_rng_normal(&test_rng);
        true_sum += fabs((double)test_values[t]);
    }
    double test_start = ag_seconds();
    if (l1norm_predict(ctx, &model, test_values, (int)o.test_length, &prediction) != AG_OK) return fail("test");
    double test_seconds = ag_seconds() - test_start;
    double relative_error = fabs(prediction - true_sum) / fmax(true_sum, 1e-30);

    if (ag_run_save_model(run, model.params) != AG_OK) return fail("checkpoint");
    printf("run: %s\n", ag_run_dir(run));
    if (!converged) printf("did not converge within %ld steps\n", o.max_steps);
    printf("summary: converged=%d steps=%ld w_ih=%.9g w_hh=%.9g", converged, step, (double)*w_ih, (double)*w_hh);
    if (o.bias)
        printf(" b_ih=%.9g b_hh=%.9g", (double)model.cell.bias_ih->data[0], (double)model.cell.bias_hh->data[0]);
    printf(" loss=%.6g test_len=%ld pred=%.6f true=%.6f rel_err=%.3g seconds=%.3f test_seconds=%.4f\n", loss_value,
           o.test_length, prediction, true_sum, relative_error, train_seconds, test_seconds);

    ag_status closed = ag_run_close(run);
    free(test_values);
    free(targets);
    ag_adam_free(&adam);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    l1norm_model_free(&model);
    if (closed != AG_OK) return fail("closing the run");
    return 0;
}
