/* adding: the adding problem of Le, Jaitly and Hinton (2015), "A Simple Way
 * to Initialize Recurrent Networks of Rectified Linear Units": an IRNN
 * (ReLU RNN with an identity recurrent weight) against a tanh RNN, an LSTM
 * and a GRU, for sequence lengths up to hundreds of steps. */
#include <math.h>
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
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,test_mse,grad_norm) and model.safetensors; the last\n"
    "line on stdout is 'summary: key=value ...'.";

typedef struct options {
    const char *model, *optimizer, *run_dir;
    long T, hidden, batch, train_size, test_size, steps, epochs, eval_every, seed, threads;
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
                 .identity_scale = 1, .forget_bias = 1, .threads = 0};
    const flag_spec specs[] = {
        {"model", FLAG_STRING, &o.model, 0, 0, false, "irnn, rnn-tanh, lstm or gru"},
        {"T", FLAG_INT, &o.T, 2, 100000, false, "sequence length"},
        {"hidden", FLAG_INT, &o.hidden, 1, 4096, false, "hidden units"},
        {"batch", FLAG_INT, &o.batch, 1, 65536, false, "sequences per step"},
        {"lr", FLAG_DOUBLE, &o.lr, 0, 10, true, "learning rate"},
        {"optim", FLAG_STRING, &o.optimizer, 0, 0, false, "adam or sgd (the paper: sgd, lr 0.01)"},
        {"clip", FLAG_DOUBLE, &o.clip, 0, 1e9, true, "global gradient-norm limit"},
        {"identity-scale", FLAG_DOUBLE, &o.identity_scale, -10, 10, false, "irnn: W_hh = scale * I"},
        {"forget-bias", FLAG_DOUBLE, &o.forget_bias, -100, 100, false, "lstm: forget-gate bias"},
        {"train-size", FLAG_INT, &o.train_size, 1, 1e9, false, "training examples"},
        {"test-size", FLAG_INT, &o.test_size, 1, 1e9, false, "test examples"},
        {"steps", FLAG_INT, &o.steps, 1, 1e10, false, "training steps"},
        {"epochs", FLAG_INT, &o.epochs, 0, 1e6, false, "training epochs instead of --steps (0: use --steps)"},
        {"eval-every", FLAG_INT, &o.eval_every, 1, 1e10, false, "steps between test evaluations"},
        {"stop-below", FLAG_DOUBLE, &o.stop_below, 0, 10, false, "stop once the test MSE is below this (0: never)"},
        {"seed", FLAG_INT, &o.seed, 0, 4294967295.0, false, "random seed (init, data, order)"},
        {"threads", FLAG_INT, &o.threads, 0, 64, false,
         "threads for the rows of a batch (0: one a core); results do not depend on it"},
        {"run-dir", FLAG_STRING, &o.run_dir, 0, 0, false, "where to write the run (default runs/adding-DATE-TIME)"},
        {"quiet", FLAG_BOOL, &o.quiet, 0, 0, false, "no progress line"},
    };
    int parsed = flags_parse("adding", SUMMARY, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, NULL, NULL);
    if (parsed != FLAGS_OK) return parsed == FLAGS_HELP ? 0 : 2;
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
        fprintf(stderr, "adding: --model: '%s' is not one of irnn, rnn-tanh, lstm, gru\n", o.model);
        return 2;
    }
    bool use_sgd = strcmp(o.optimizer, "sgd") == 0;
    if (!use_sgd && strcmp(o.optimizer, "adam") != 0) {
        fprintf(stderr, "adding: --optim: '%s' is not one of adam, sgd\n", o.optimizer);
        return 2;
    }
    int64_t steps = o.epochs > 0 ? (o.epochs * o.train_size + o.batch - 1) / o.batch : o.steps;

    /* Model. */
    ag_rng init_rng, order_rng;
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    ag_rng_seed(&order_rng, (uint64_t)o.seed, 1);
    adding_model model;
    if (adding_model_init(&model, kind, (int)o.hidden, o.identity_scale, o.forget_bias, &init_rng) != AG_OK)
        return fail("model");

    /* Memory for training, before anything is written. */
    ag_sequence_batch batch;
    ag_real *targets = malloc((size_t)o.batch * sizeof *targets);
    int64_t *order = malloc((size_t)o.train_size * sizeof *order);
    ag_ctx *ctx = ag_ctx_create();
    ag_adam adam = {0};
    ag_sgd sgd = {0};
    ag_status setup = use_sgd ? ag_sgd_init(&sgd, model.params, o.lr, 0) : ag_adam_init(&adam, model.params, o.lr);
    if (!targets || !order) ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld examples", o.train_size);
    if (!targets || !order || !ctx || setup != AG_OK ||
        ag_sequence_batch_init(&batch, (int)o.batch, (int)o.T, 2) != AG_OK)
        return fail("setup");

    /* Run directory. */
    ag_run *run = ag_run_create("adding", o.run_dir);
    if (!run) return fail("run directory");
    ag_run_set_param(run, "demo", "adding");
    ag_run_set_param(run, "model", "%s", o.model);
    ag_run_set_param(run, "T", "%ld", o.T);
    ag_run_set_param(run, "hidden", "%ld", o.hidden);
    ag_run_set_param(run, "batch", "%ld", o.batch);
    ag_run_set_param(run, "optim", "%s", o.optimizer);
    ag_run_set_param(run, "lr", "%g", o.lr);
    ag_run_set_param(run, "clip", "%g", o.clip);
    ag_run_set_param(run, "identity_scale", "%g", o.identity_scale);
    ag_run_set_param(run, "forget_bias", "%g", o.forget_bias);
    ag_run_set_param(run, "train_size", "%ld", o.train_size);
    ag_run_set_param(run, "test_size", "%ld", o.test_size);
    ag_run_set_param(run, "steps", "%lld", (long long)steps);
    ag_run_set_param(run, "eval_every", "%ld", o.eval_every);
    ag_run_set_param(run, "seed", "%ld", o.seed);
    ag_run_set_param(run, "threads", "%ld", o.threads);
    const char *const columns[] = {"loss", "test_mse", "grad_norm"};
    if (ag_run_write_params(run) != AG_OK || ag_run_begin_metrics(run, columns, 3) != AG_OK) return fail("run files");

    /* Training: MSE, Adam or SGD, global gradient-norm clipping. */
    double baseline = NAN, test_mse = evaluate(ctx, &model, &o, &batch, targets, &baseline);
    if (ag_run_log(run, 0, (double[]){NAN, test_mse, NAN}) != AG_OK) return fail("metrics");
    ag_progress progress;
    ag_progress_start(&progress, stdout, steps, o.eval_every, o.quiet);
    double start = ag_seconds(), loss_value = NAN;
    int64_t step = 0, position = o.train_size;
    while (step < steps) {
        for (int r = 0; r < o.batch; r++) {
            if (position == o.train_size) {
                shuffle(order, o.train_size, &order_rng);
                position = 0;
            }
            targets[r] = adding_example((uint64_t)o.seed, ADDING_TRAIN, order[position++], &batch, r);
        }
        ag_params_zero_grad(model.params);
        ag_tensor *target = ag_from_array(ctx, 2, (int[]){(int)o.batch, 1}, targets);
        ag_tensor *loss = ag_mse_loss(ctx, adding_forward(ctx, &model, &batch), target);
        if (ag_backward(ctx, loss) != AG_OK) return fail("training step");
        loss_value = loss->data[0];
        ag_ctx_reset(ctx);
        double grad_norm = ag_params_clip_grad_norm(model.params, o.clip);
        if (!isfinite(loss_value) || !isfinite(grad_norm)) {
            ag_progress_end(&progress);
            fprintf(stderr, "adding: step %lld: loss %g, gradient norm %g: training diverged\n",
                    (long long)step + 1, loss_value, grad_norm);
            ag_run_close(run); /* keeps the curve up to here */
            return 1;
        }
        if (use_sgd)
            ag_sgd_step(&sgd, model.params);
        else
            ag_adam_step(&adam, model.params);
        step++;
        bool evaluate_now = step % o.eval_every == 0 || step == steps;
        test_mse = evaluate_now ? evaluate(ctx, &model, &o, &batch, targets, &baseline) : NAN;
        if (ag_run_log(run, step, (double[]){loss_value, test_mse, grad_norm}) != AG_OK) return fail("metrics");
        ag_progress_update(&progress, step, loss_value);
        if (evaluate_now) {
            if (!o.quiet && !progress.terminal) printf("step %lld: test MSE %.6f\n", (long long)step, test_mse);
            if (o.stop_below > 0 && test_mse < o.stop_below) break;
        }
    }
    ag_progress_end(&progress);
    double seconds = ag_seconds() - start;
    if (ag_run_flush(run) != AG_OK) return fail("metrics");
    if (isnan(test_mse)) test_mse = evaluate(ctx, &model, &o, &batch, targets, &baseline);

    if (ag_run_save_model(run, model.params) != AG_OK) return fail("checkpoint");
    printf("run: %s\n", ag_run_dir(run));
    printf("summary: model=%s T=%ld steps=%lld test_mse=%.6g baseline_mse=%.6g seconds=%.2f step_ms=%.3f\n", o.model,
           o.T, (long long)step, test_mse, baseline, seconds, step > 0 ? 1e3 * seconds / (double)step : 0.0);
    ag_status closed = ag_run_close(run);
    free(targets);
    free(order);
    ag_adam_free(&adam);
    ag_sgd_free(&sgd);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    adding_model_free(&model);
    return closed == AG_OK ? 0 : fail("closing the run");
}
