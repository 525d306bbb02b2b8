/* adding: the adding problem of Le, Jaitly and Hinton (2015), "A Simple Way
 * to Initialize Recurrent Networks of Rectified Linear Units": an IRNN
 * (ReLU RNN with an identity recurrent weight) against a tanh RNN, an LSTM
 * and a GRU, for sequence lengths up to hundreds of steps. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adding.h"
#include "ag.h"
#include "ag_run.h"
#include "flags.h"

static const char *const SUMMARY =
    "adding: train a recurrent net on the adding problem: read T pairs (value in [0,1), marker) and output\n"
    "the sum of the two marked values (one marker in each half). Always answering 1 scores a test MSE of\n"
    "about 0.167: the baseline to beat.\n"
    "Models (--model): irnn (ReLU RNN, W_hh = identity), rnn-tanh, lstm, gru (torch.nn.GRUCell's equations and\n"
    "init, models/gru.c); each with a Linear readout of the last state.\n\n"
    "Usage: adding [flags]\n"
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,test_mse,grad_norm), checkpoint.safetensors (to go on\n"
    "with --resume RUN_DIR after a kill or Ctrl-C) and model.safetensors; the last line on stdout is\n"
    "'summary: key=value ...'.";

typedef struct options {
    const char *model, *optimizer, *run_dir, *resume;
    long T, hidden, batch, train_size, test_size, steps, epochs, eval_every, seed, threads, checkpoint_every;
    double lr, clip, identity_scale, forget_bias, stop_below;
    bool quiet;
} options;

static int fail(const char *what) {
    fprintf(stderr, "adding: %s: %s\n", what, ag_error_message());
    return 1;
}

/* Test MSE over the whole test set, and the MSE of always answering 1. */
static double evaluate(ag_ctx *ctx, const adding_model *model, const options *o, ag_sequence_batch *batch,
                       ag_real *targets, double *baseline) {
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    double squared_error = 0, baseline_error = 0;
    int64_t done = 0;
    while (done < o->test_size) {
        int rows = (int)(o->test_size - done < batch->batch ? o->test_size - done : batch->batch);
        for (int r = 0; r < batch->batch; r++)
            targets[r] = adding_example((uint64_t)o->seed, ADDING_TEST, done + (r < rows ? r : 0), batch, r);
        ag_tensor *prediction = adding_forward(ctx, model, batch);
        if (!prediction) {
            squared_error = NAN;
            ag_ctx_reset(ctx);
            break;
        }
        for (int r = 0; r < rows; r++) {
            double error = (double)prediction->data[r] - targets[r];
            squared_error += error * error;
            baseline_error += (1.0 - targets[r]) * (1.0 - targets[r]);
        }
        done += rows;
        ag_ctx_reset(ctx);
    }
    ag_set_grad_enabled(ctx, was_enabled);
    *baseline = baseline_error / (double)o->test_size;
    return squared_error / (double)o->test_size;
}

/* What changes from step to step besides the weights and the optimizer: all
 * of it goes into the checkpoint, so a resumed run has the same bits. The
 * epoch's order is not saved but made again from the generator's state
 * before its shuffle. */
typedef struct training_state {
    int64_t step, position; /* position: the next example in order[] */
    ag_rng order_rng, order_rng_before_shuffle;
    ag_real loss;
} training_state;

typedef struct optimizer {
    bool sgd;
    ag_sgd sgd_state;
    ag_adam adam_state;
} optimizer;

static ag_status save_checkpoint(ag_run *run, const adding_model *model, const optimizer *opt,
                                 const training_state *state, int64_t stopped_early, int64_t train_size) {
    ag_checkpoint *cp = ag_checkpoint_create();
    if (!cp) return ag_error_code();
    char loss_text[32];
    snprintf(loss_text, sizeof loss_text, "%.9g", (double)state->loss);
    /* Mid-epoch, the order is remade from the state before its shuffle. */
    const ag_rng *order_rng = state->position < train_size ? &state->order_rng_before_shuffle : &state->order_rng;
    ag_status status = ag_checkpoint_add_params(cp, model->params);
    if (status == AG_OK) status = opt->sgd ? ag_sgd_save(&opt->sgd_state, cp) : ag_adam_save(&opt->adam_state, cp);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.step", state->step);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.position", state->position);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.stopped_early", stopped_early);
    if (status == AG_OK) status = ag_checkpoint_set_rng(cp, "train.rng.order", order_rng);
    if (status == AG_OK) status = ag_checkpoint_set_metadata(cp, "train.loss", loss_text);
    if (status == AG_OK) status = ag_run_save_checkpoint(run, cp);
    ag_checkpoint_free(cp);
    return status;
}

/* Fisher-Yates with the run's generator: the order of one epoch. */
static void shuffle(int64_t *order, int64_t n, ag_rng *rng) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)ag_rng_below(rng, (uint32_t)(i + 1));
        int64_t swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
}

int main(int argc, char **argv) {
    options o = {.model = "irnn", .optimizer = "adam", .T = 150, .hidden = 100, .batch = 16, .train_size = 100000,
                 .test_size = 10000, .steps = 20000, .eval_every = 500, .seed = 42, .lr = 1e-4, .clip = 1,
                 .identity_scale = 1, .forget_bias = 1, .threads = 0, .checkpoint_every = 1000};
    const flag_spec specs[] = {
        {"model", FLAG_STRING, &o.model, 0, 0, false, "irnn, rnn-tanh, lstm or gru", false},
        {"T", FLAG_INT, &o.T, 2, 100000, false, "sequence length", false},
        {"hidden", FLAG_INT, &o.hidden, 1, 4096, false, "hidden units", false},
        {"batch", FLAG_INT, &o.batch, 1, 65536, false, "sequences per step", false},
        {"lr", FLAG_DOUBLE, &o.lr, 0, 10, true, "learning rate", false},
        {"optim", FLAG_STRING, &o.optimizer, 0, 0, false, "adam or sgd (the paper: sgd, lr 0.01)", false},
        {"clip", FLAG_DOUBLE, &o.clip, 0, 1e9, true, "global gradient-norm limit", false},
        {"identity-scale", FLAG_DOUBLE, &o.identity_scale, -10, 10, false, "irnn: W_hh = scale * I", false},
        {"forget-bias", FLAG_DOUBLE, &o.forget_bias, -100, 100, false, "lstm: forget-gate bias", false},
        {"train-size", FLAG_INT, &o.train_size, 1, 1e8, false, "training examples (the order of an epoch takes 8 bytes each)", false},
        {"test-size", FLAG_INT, &o.test_size, 1, 1e9, false, "test examples", false},
        {"steps", FLAG_INT, &o.steps, 1, 1e10, false, "training steps", false},
        {"epochs", FLAG_INT, &o.epochs, 0, 1e6, false, "training epochs instead of --steps (0: use --steps)", false},
        {"eval-every", FLAG_INT, &o.eval_every, 1, 1e10, false, "steps between test evaluations", false},
        {"stop-below", FLAG_DOUBLE, &o.stop_below, 0, 10, false, "stop once the test MSE is below this (0: never)", false},
        {"seed", FLAG_INT, &o.seed, 0, 4294967295.0, false, "random seed (init, data, order)", false},
        {"threads", FLAG_INT, &o.threads, 0, 64, false,
         "threads for the rows of a batch (0: one a core); results do not depend on it", true},
        {"run-dir", FLAG_STRING, &o.run_dir, 0, 0, false, "where to write the run (default runs/adding-DATE-TIME)", true},
        {"checkpoint-every", FLAG_INT, &o.checkpoint_every, 1, 1e10, false,
         "steps between checkpoints (RUN_DIR/checkpoint.safetensors; also at the start, the end and on SIGINT/SIGTERM)",
         true},
        {"resume", FLAG_STRING, &o.resume, 0, 0, false, "go on with the run in this directory from its checkpoint, with its settings", true},
        {"quiet", FLAG_BOOL, &o.quiet, 0, 0, false, "no progress line", true},
    };
    const int n_specs = (int)(sizeof specs / sizeof specs[0]);
    int parsed = flags_parse("adding", SUMMARY, specs, n_specs, argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
    if (o.resume && o.run_dir) {
        fprintf(stderr, "adding: --run-dir: not with --resume (the run goes on in %s)\n", o.resume);
        return 2;
    }
    int exit_code = 0;
    ag_checkpoint *resume = o.resume ? flags_resume("adding", "adding", o.resume, specs, n_specs, argc, argv, &exit_code)
                                     : NULL;
    if (o.resume && !resume) return exit_code;
    if (o.threads == 0) o.threads = demo_default_threads();
    if (ag_set_num_threads((int)o.threads) != AG_OK) return fail("--threads");
    adding_kind kind;
    if (strcmp(o.model, "irnn") == 0)
        kind = ADDING_IRNN;
    else if (strcmp(o.model, "rnn-tanh") == 0)
        kind = ADDING_RNN_TANH;
    else if (strcmp(o.model, "lstm") == 0)
        kind = ADDING_LSTM;
    else if (strcmp(o.model, "gru") == 0)
        kind = ADDING_GRU;
    else {
        char shown[64];
        fprintf(stderr, "adding: --model: '%s' is not one of irnn, rnn-tanh, lstm, gru\n",
                ag_printable(o.model, shown, sizeof shown));
        return 2;
    }
    bool use_sgd = strcmp(o.optimizer, "sgd") == 0;
    if (!use_sgd && strcmp(o.optimizer, "adam") != 0) {
        char shown[64];
        fprintf(stderr, "adding: --optim: '%s' is not one of adam, sgd\n", ag_printable(o.optimizer, shown, sizeof shown));
        return 2;
    }
    int64_t steps = o.epochs > 0 ? (o.epochs * o.train_size + o.batch - 1) / o.batch : o.steps;

    /* Model. */
    int64_t stopped_early = 0;
    ag_rng init_rng;
    training_state state = {.position = o.train_size, .loss = (ag_real)NAN};
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    ag_rng_seed(&state.order_rng, (uint64_t)o.seed, 1);
    adding_model model;
    if (adding_model_init(&model, kind, (int)o.hidden, o.identity_scale, o.forget_bias, &init_rng) != AG_OK)
        return fail("model");

    /* Memory for training, before anything is written. */
    ag_sequence_batch batch;
    ag_real *targets = malloc((size_t)o.batch * sizeof *targets);
    int64_t *order = malloc((size_t)o.train_size * sizeof *order);
    ag_ctx *ctx = ag_ctx_create();
    optimizer opt = {.sgd = use_sgd};
    ag_status setup = use_sgd ? ag_sgd_init(&opt.sgd_state, model.params, o.lr, 0)
                              : ag_adam_init(&opt.adam_state, model.params, o.lr);
    if (!targets || !order) ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld examples", o.train_size);
    if (!targets || !order || !ctx || setup != AG_OK ||
        ag_sequence_batch_init(&batch, (int)o.batch, (int)o.T, 2) != AG_OK)
        return fail("setup");
    if (resume) {
        ag_status status = ag_checkpoint_read_params(resume, model.params);
        if (status == AG_OK) status = ag_params_check_finite(model.params, false);
        if (status == AG_OK)
            status = use_sgd ? ag_sgd_load(&opt.sgd_state, resume) : ag_adam_load(&opt.adam_state, resume);
        if (status == AG_OK) status = ag_checkpoint_get_int(resume, "train.step", &state.step);
        if (status == AG_OK) status = ag_checkpoint_get_int(resume, "train.position", &state.position);
        if (status == AG_OK) status = ag_checkpoint_get_rng(resume, "train.rng.order", &state.order_rng);
        if (status == AG_OK) status = ag_checkpoint_get_int(resume, "train.stopped_early", &stopped_early);
        if (status == AG_OK && (state.step < 0 || state.position < 0 || state.position > o.train_size))
            status = ag_error_set(AG_ERROR_FORMAT, "train.step %lld or train.position %lld is out of range",
                                  (long long)state.step, (long long)state.position);
        const char *loss = ag_checkpoint_metadata(resume, "train.loss");
        state.loss = loss ? (ag_real)strtod(loss, NULL) : (ag_real)NAN;
        if (status != AG_OK) {
            fprintf(stderr, "adding: --resume %s: %s\n", o.resume, ag_error_message());
            return 1;
        }
        if (state.position < o.train_size) {
            state.order_rng_before_shuffle = state.order_rng;
            shuffle(order, o.train_size, &state.order_rng);
        }
    }

    /* Run directory. */
    ag_run *run = resume ? ag_run_resume(o.resume) : ag_run_create("adding", o.run_dir);
    if (!run) return fail("run directory");
    ag_run_set_param(run, "demo", "adding");
    flags_record(specs, n_specs, run);
    ag_run_set_param(run, "total_steps", "%lld", (long long)steps);
    ag_run_set_option(run, "threads", "%ld", o.threads);
    const char *const columns[] = {"loss", "test_mse", "grad_norm"};
    if (resume && ag_run_check_params(run, resume) != AG_OK) {
        fprintf(stderr, "adding: --resume: %s\n", ag_error_message());
        return 2;
    }
    /* metrics.csv first: a resume that finds it is not this run's changes
     * nothing in the directory. */
    if ((resume ? ag_run_resume_metrics(run, columns, 3, state.step) : ag_run_begin_metrics(run, columns, 3)) != AG_OK ||
        ag_run_write_params(run) != AG_OK)
        return fail("run files");

    /* Training: MSE, Adam or SGD, global gradient-norm clipping. */
    double baseline = NAN, test_mse = NAN;
    if (!resume) {
        test_mse = evaluate(ctx, &model, &o, &batch, targets, &baseline);
        if (ag_run_log(run, 0, (double[]){NAN, test_mse, NAN}) != AG_OK) return fail("metrics");
    }
    if (ag_run_catch_signals() != AG_OK) return fail("signals");
    ag_progress progress;
    ag_progress_start(&progress, stdout, steps, o.eval_every, o.quiet);
    ag_progress_resume_at(&progress, state.step);
    double start = ag_seconds();
    int64_t first_step = state.step;
    while (state.step < steps && !stopped_early && !ag_run_stop_signal()) {
        /* A checkpoint at the start too: a run killed at any moment can go on. */
        if (state.step % o.checkpoint_every == 0 && (state.step > first_step || !resume) &&
            save_checkpoint(run, &model, &opt, &state, stopped_early, o.train_size) != AG_OK)
            return fail("checkpoint");
        for (int r = 0; r < o.batch; r++) {
            if (state.position == o.train_size) {
                state.order_rng_before_shuffle = state.order_rng;
                shuffle(order, o.train_size, &state.order_rng);
                state.position = 0;
            }
            targets[r] = adding_example((uint64_t)o.seed, ADDING_TRAIN, order[state.position++], &batch, r);
        }
        ag_params_zero_grad(model.params);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){(int)o.batch, 1}, targets);
        ag_tensor *loss = ag_mse_loss(ctx, adding_forward(ctx, &model, &batch), target);
        if (ag_backward(ctx, loss) != AG_OK) return fail("training step");
        ag_real loss_value = loss->data[0];
        ag_ctx_reset(ctx);
        if (ag_run_check_finite(run, loss_value, model.params) != AG_OK) {
            ag_progress_end(&progress);
            fprintf(stderr, "adding: step %lld: %s\n", (long long)state.step + 1, ag_error_message());
            ag_run_close(run); /* keeps the curve up to here */
            return 1;
        }
        double grad_norm = ag_params_clip_grad_norm(model.params, o.clip);
        if (opt.sgd)
            ag_sgd_step(&opt.sgd_state, model.params);
        else
            ag_adam_step(&opt.adam_state, model.params);
        state.step++;
        state.loss = loss_value;
        bool evaluate_now = state.step % o.eval_every == 0 || state.step == steps;
        test_mse = evaluate_now ? evaluate(ctx, &model, &o, &batch, targets, &baseline) : NAN;
        if (ag_run_log(run, state.step, (double[]){loss_value, test_mse, grad_norm}) != AG_OK) return fail("metrics");
        ag_progress_update(&progress, state.step, loss_value);
        if (evaluate_now) {
            if (!o.quiet && !progress.terminal) printf("step %lld: test MSE %.6f\n", (long long)state.step, test_mse);
            stopped_early = o.stop_below > 0 && test_mse < o.stop_below;
        }
    }
    ag_progress_end(&progress);
    double seconds = ag_seconds() - start;
    if (save_checkpoint(run, &model, &opt, &state, stopped_early, o.train_size) != AG_OK) return fail("checkpoint");
    int stop = ag_run_stop_signal();
    if (stop) {
        fprintf(stderr, "adding: %s at step %lld: checkpoint saved; go on with: adding --resume %s\n",
                stop == SIGINT ? "SIGINT" : "SIGTERM", (long long)state.step, ag_run_dir(run));
    } else {
        if (isnan(test_mse)) test_mse = evaluate(ctx, &model, &o, &batch, targets, &baseline);
        if (ag_run_save_model(run, model.params) != AG_OK) return fail("checkpoint");
        printf("run: %s\n", ag_run_dir(run));
        printf("summary: model=%s T=%ld steps=%lld test_mse=%.6g baseline_mse=%.6g seconds=%.2f step_ms=%.3f\n",
               o.model, o.T, (long long)state.step, test_mse, baseline, seconds,
               state.step > first_step ? 1e3 * seconds / (double)(state.step - first_step) : 0.0);
    }
    ag_status closed = ag_run_close(run);
    free(targets);
    free(order);
    ag_adam_free(&opt.adam_state);
    ag_sgd_free(&opt.sgd_state);
    ag_checkpoint_free(resume);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    adding_model_free(&model);
    if (closed != AG_OK) return fail("closing the run");
    return stop ? 128 + stop : 0;
}
