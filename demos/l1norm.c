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
#include "flags.h"
#include "l1norm.h"

static const char *const SUMMARY =
    "l1norm: train a 1-unit ReLU RNN (torch.nn.RNNCell(1, 1)) to compute sum |x| of variable-length\n"
    "sequences, until both weights are exactly 1.0; then test it on one long sequence.\n\n"
    "Usage: l1norm [flags]\n"
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,w_ih,w_hh), checkpoint.safetensors (to go on\n"
    "with --resume RUN_DIR after a kill or Ctrl-C) and model.safetensors; the last line on stdout is\n"
    "'summary: key=value ...'.";

typedef struct options {
    long seed, batch, max_length, max_steps, test_length, threads, checkpoint_every;
    double lr, bias_tolerance;
    const char *init, *run_dir, *resume;
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
        char shown[64];
        if (k < 0 || end == equals + 1 || *end != '\0' || !isfinite(value)) {
            fprintf(stderr, "l1norm: --init: '%s' is not NAME=NUMBER with NAME one of w_ih, w_hh, b_ih, b_hh\n",
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

static int fail(const char *what) {
    fprintf(stderr, "l1norm: %s: %s\n", what, ag_error_message());
    return 1;
}

/* What changes from step to step besides the weights and Adam's moments:
 * all of it goes into the checkpoint, so a resumed run has the same bits. */
typedef struct training_state {
    int64_t step;
    ag_rng data_rng;
    ag_real recent_loss[100]; /* the last 100 losses, by step % 100 */
    ag_real loss;
} training_state;

static ag_status save_checkpoint(ag_run *run, const l1norm_model *model, const ag_adam *adam,
                                 const training_state *state) {
    ag_checkpoint *cp = ag_checkpoint_create();
    if (!cp) return ag_error_code();
    char loss_text[32];
    snprintf(loss_text, sizeof loss_text, "%.9g", (double)state->loss);
    ag_status status = ag_checkpoint_add_params(cp, model->params);
    if (status == AG_OK) status = ag_adam_save(adam, cp);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.step", state->step);
    if (status == AG_OK) status = ag_checkpoint_set_rng(cp, "train.rng.data", &state->data_rng);
    if (status == AG_OK) status = ag_checkpoint_set_metadata(cp, "train.loss", loss_text);
    if (status == AG_OK) status = ag_checkpoint_add_array(cp, "train.recent_loss", state->recent_loss, 100);
    if (status == AG_OK) status = ag_run_save_checkpoint(run, cp);
    ag_checkpoint_free(cp);
    return status;
}

static ag_status restore_checkpoint(const ag_checkpoint *cp, l1norm_model *model, ag_adam *adam,
                                    training_state *state) {
    ag_status status = ag_checkpoint_read_params(cp, model->params);
    if (status == AG_OK) status = ag_params_check_finite(model->params, false);
    if (status == AG_OK) status = ag_adam_load(adam, cp);
    if (status == AG_OK) status = ag_checkpoint_get_int(cp, "train.step", &state->step);
    if (status == AG_OK) status = ag_checkpoint_get_rng(cp, "train.rng.data", &state->data_rng);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "train.recent_loss", state->recent_loss, 100);
    const char *loss = ag_checkpoint_metadata(cp, "train.loss");
    state->loss = loss ? (ag_real)strtod(loss, NULL) : (ag_real)NAN;
    if (status == AG_OK && state->step < 0)
        status = ag_error_set(AG_ERROR_FORMAT, "train.step %lld is negative", (long long)state->step);
    return status;
}

/* Converged: both weights exactly 1; with biases the solution (b_ih + b_hh
 * = 0) need not be representable exactly, so the loss decides instead. */
static bool has_converged(const l1norm_model *model, const training_state *state, bool bias, double tolerance) {
    if (!bias) return model->cell.weight_ih->data[0] == 1.0f && model->cell.weight_hh->data[0] == 1.0f;
    if (state->step < 100) return false;
    double mean = 0;
    for (int i = 0; i < 100; i++) mean += (double)state->recent_loss[i] / 100;
    return mean < tolerance;
}

static const char *signal_name(int signal_number) { return signal_number == SIGINT ? "SIGINT" : "SIGTERM"; }

int main(int argc, char **argv) {
    options o = {.seed = 42, .batch = 32, .max_length = 10, .max_steps = 50000, .test_length = 10000,
                 .lr = 1e-3, .bias_tolerance = 1e-10, .init = "default", .threads = 0, .checkpoint_every = 10000};
    const flag_spec specs[] = {
        {"seed", FLAG_INT, &o.seed, 0, 4294967295.0, false, "random seed (init, data and test sequence)", false},
        {"lr", FLAG_DOUBLE, &o.lr, 0, 10, true, "Adam learning rate", false},
        {"batch", FLAG_INT, &o.batch, 1, 1 << 20, false, "sequences per step", false},
        {"max-len", FLAG_INT, &o.max_length, 1, 1 << 20, false, "lengths are uniform in 1..max-len", false},
        {"max-steps", FLAG_INT, &o.max_steps, 1, 1e9, false, "give up after this many steps", false},
        {"init", FLAG_STRING, &o.init, 0, 0, false, "'default' (U(-1,1)) or w_ih=V,w_hh=V[,b_ih=V,b_hh=V]", false},
        {"bias", FLAG_BOOL, &o.bias, 0, 0, false, "give the cell biases b_ih and b_hh", false},
        {"bias-tolerance", FLAG_DOUBLE, &o.bias_tolerance, 0, 1, true,
         "with --bias: converged once the mean loss of the last 100 steps is below this", false},
        {"test-len", FLAG_INT, &o.test_length, 1, 1e8, false, "length of the test sequence", false},
        {"threads", FLAG_INT, &o.threads, 0, 64, false,
         "threads for the rows of a batch (0: one a core); results do not depend on it", true},
        {"run-dir", FLAG_STRING, &o.run_dir, 0, 0, false, "where to write the run (default runs/l1norm-DATE-TIME)", true},
        {"checkpoint-every", FLAG_INT, &o.checkpoint_every, 1, 1e9, false,
         "steps between checkpoints (RUN_DIR/checkpoint.safetensors; also at the start, the end and on SIGINT/SIGTERM)",
         true},
        {"resume", FLAG_STRING, &o.resume, 0, 0, false, "go on with the run in this directory from its checkpoint, with its settings", true},
        {"quiet", FLAG_BOOL, &o.quiet, 0, 0, false, "no progress line", true},
    };
    const int n_specs = (int)(sizeof specs / sizeof specs[0]);
    int parsed = flags_parse("l1norm", SUMMARY, specs, n_specs, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (o.resume && o.run_dir) {
        fprintf(stderr, "l1norm: --run-dir: not with --resume (the run goes on in %s)\n", o.resume);
        return 2;
    }
    int exit_code = 0;
    ag_checkpoint *resume = o.resume ? flags_resume("l1norm", "l1norm", o.resume, specs, n_specs, argc, argv, &exit_code)
                                     : NULL;
    if (o.resume && !resume) return exit_code;
    if (o.threads == 0) o.threads = demo_default_threads();
    if (ag_set_num_threads((int)o.threads) != AG_OK) return fail("--threads");

    /* Model: one RNNCell(1, 1, relu), PyTorch's init or the given weights. */
    ag_rng init_rng, test_rng;
    training_state state = {.loss = (ag_real)NAN};
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    ag_rng_seed(&state.data_rng, (uint64_t)o.seed, 1);
    ag_rng_seed(&test_rng, (uint64_t)o.seed, 2);
    l1norm_model model;
    if (l1norm_model_init(&model, o.bias, &init_rng) != AG_OK) return fail("model");
    if (!apply_init(o.init, &model, o.bias)) return 2;
    ag_real *w_ih = model.cell.weight_ih->data, *w_hh = model.cell.weight_hh->data;
    const double initial[4] = {*w_ih, *w_hh, o.bias ? model.cell.bias_ih->data[0] : 0,
                               o.bias ? model.cell.bias_hh->data[0] : 0};

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
    if (resume && restore_checkpoint(resume, &model, &adam, &state) != AG_OK) {
        fprintf(stderr, "l1norm: --resume %s: %s\n", o.resume, ag_error_message());
        return 1;
    }

    /* The run directory and its settings. */
    ag_run *run = resume ? ag_run_resume(o.resume) : ag_run_create("l1norm", o.run_dir);
    if (!run) return fail("run directory");
    ag_run_set_param(run, "demo", "l1norm");
    flags_record(specs, n_specs, run);
    ag_run_set_option(run, "threads", "%ld", o.threads);
    ag_run_set_param(run, "initial_w_ih", "%.9g", initial[0]);
    ag_run_set_param(run, "initial_w_hh", "%.9g", initial[1]);
    if (o.bias) {
        ag_run_set_param(run, "initial_b_ih", "%.9g", initial[2]);
        ag_run_set_param(run, "initial_b_hh", "%.9g", initial[3]);
    }
    const char *const columns[] = {"loss", "w_ih", "w_hh"};
    if (resume && ag_run_check_params(run, resume) != AG_OK) {
        fprintf(stderr, "l1norm: --resume: %s\n", ag_error_message());
        return 2;
    }
    /* metrics.csv first: a resume that finds it is not this run's changes
     * nothing in the directory. */
    if ((resume ? ag_run_resume_metrics(run, columns, 3, state.step) : ag_run_begin_metrics(run, columns, 3)) != AG_OK ||
        ag_run_write_params(run) != AG_OK)
        return fail("run files");
    /* A checkpoint from the start: a run killed at any moment can go on. */
    if (!resume && save_checkpoint(run, &model, &adam, &state) != AG_OK) return fail("checkpoint");
    if (ag_run_catch_signals() != AG_OK) return fail("signals");

    /* Training: MSE, Adam, a fresh batch every step, until w_ih = w_hh = 1. */
    ag_progress progress;
    ag_progress_start(&progress, stdout, o.max_steps, 1000, o.quiet);
    ag_progress_resume_at(&progress, state.step);
    double start = ag_seconds();
    int64_t first_step = state.step;
    bool converged = has_converged(&model, &state, o.bias, o.bias_tolerance);
    while (state.step < o.max_steps && !converged) {
        l1norm_make_batch(&state.data_rng, &batch, targets);
        ag_params_zero_grad(model.params);
        ag_tensor *prediction = l1norm_forward(ctx, &model, &batch);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){(int)o.batch, 1}, targets);
        ag_tensor *loss = ag_mse_loss(ctx, prediction, target);
        if (ag_backward(ctx, loss) != AG_OK) return fail("training step");
        ag_real loss_value = loss->data[0];
        ag_ctx_reset(ctx);
        if (ag_run_check_finite(run, loss_value, model.params) != AG_OK) {
            ag_progress_end(&progress);
            fprintf(stderr, "l1norm: step %lld: %s\n", (long long)state.step + 1, ag_error_message());
            ag_run_close(run); /* keeps the curve up to here */
            return 1;
        }
        ag_adam_step(&adam, model.params);
        state.step++;
        state.loss = loss_value;
        state.recent_loss[state.step % 100] = loss_value;
        if (ag_run_log(run, state.step, (double[]){loss_value, *w_ih, *w_hh}) != AG_OK) return fail("metrics");
        ag_progress_update(&progress, state.step, loss_value);
        converged = has_converged(&model, &state, o.bias, o.bias_tolerance);
        if (state.step % o.checkpoint_every == 0 && save_checkpoint(run, &model, &adam, &state) != AG_OK)
            return fail("checkpoint");
        if (ag_run_stop_signal()) break;
    }
    ag_progress_end(&progress);
    double train_seconds = ag_seconds() - start;
    /* The end's checkpoint, unless the one on disk already holds this step. */
    if (state.step != first_step && state.step % o.checkpoint_every != 0 &&
        save_checkpoint(run, &model, &adam, &state) != AG_OK)
        return fail("checkpoint");
    int stop = ag_run_stop_signal();
    if (stop)
        fprintf(stderr, "l1norm: %s at step %lld: checkpoint saved; go on with: l1norm --resume %s\n",
                signal_name(stop), (long long)state.step, ag_run_dir(run));

    if (!stop) {
        /* Test: one long sequence, prediction against the exact sum. */
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
        printf("summary: converged=%d steps=%lld w_ih=%.9g w_hh=%.9g", converged, (long long)state.step, (double)*w_ih,
               (double)*w_hh);
        if (o.bias)
            printf(" b_ih=%.9g b_hh=%.9g", (double)model.cell.bias_ih->data[0], (double)model.cell.bias_hh->data[0]);
        printf(" loss=%.6g test_len=%ld pred=%.6f true=%.6f rel_err=%.3g seconds=%.3f test_seconds=%.4f resumed_at=%lld\n",
               (double)state.loss, o.test_length, prediction, true_sum, relative_error, train_seconds, test_seconds,
               (long long)first_step);
    }

    ag_status closed = ag_run_close(run);
    free(test_values);
    free(targets);
    ag_adam_free(&adam);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    l1norm_model_free(&model);
    ag_checkpoint_free(resume);
    if (closed != AG_OK) return fail("closing the run");
    return stop ? 128 + stop : 0;
}
