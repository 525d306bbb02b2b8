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
#include "harness.h"

static const char *const SUMMARY =
    "adding: train a recurrent net on the adding problem: read T pairs (value in [0,1), marker) and output\n"
    "the sum of the two marked values (one marker in each half). Always answering 1 scores a test MSE of\n"
    "about 0.167: the baseline to beat.\n"
    "Models (--model): irnn (ReLU RNN, W_hh = identity), rnn-tanh, lstm, gru (torch.nn.GRUCell, fused:\n"
    "ag_gru_cell_run); each with a Linear readout of the last state.\n\n"
    "Usage: adding [flags]\n"
    "Writes RUN_DIR/params.csv, metrics.csv (step,loss,test_mse,grad_norm), checkpoint.safetensors (to go on\n"
    "with --resume RUN_DIR after a kill or Ctrl-C) and model.safetensors; the last line on stdout is\n"
    "'summary: key=value ...'.";

typedef struct options {
    const char *model, *optimizer;
    long T, hidden, batch, train_size, test_size, steps, epochs, eval_every, seed;
    double lr, clip, identity_scale, forget_bias, stop_below;
} options;

static bool parse_model(const char *name, adding_kind *kind) {
    const char *const names[] = {"irnn", "rnn-tanh", "lstm", "gru"};
    const adding_kind kinds[] = {ADDING_IRNN, ADDING_RNN_TANH, ADDING_LSTM, ADDING_GRU};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return *kind = kinds[i], true;
    char shown[64];
    fprintf(stderr, "adding: --model: '%s' is not one of irnn, rnn-tanh, lstm, gru\n", ag_printable(name, shown, sizeof shown));
    return false;
}

/* The test MSE of always answering 1, from the test targets alone (no
 * model): the same for a new run and a resumed one, so it can go into
 * params.csv (for plots/adding.gp's baseline) and the checkpoint's
 * settings. A cheap loop: test_size examples of T random numbers. */
static double baseline_mse(const options *o, ag_sequence_batch *batch) {
    double baseline_error = 0;
    for (int64_t i = 0; i < o->test_size; i++) {
        double target = adding_example((uint64_t)o->seed, ADDING_TEST, i, batch, 0);
        baseline_error += (1.0 - target) * (1.0 - target);
    }
    return baseline_error / (double)o->test_size;
}

/* Test MSE over the whole test set. The first evaluation of a new run
 * comes before its directory exists, so a signal may cut it short (NAN):
 * nothing is lost. */
static double evaluate(ag_ctx *ctx, const adding_model *model, const options *o, ag_sequence_batch *batch,
                       ag_real *targets, bool stoppable) {
    bool was_enabled = ag_set_grad_enabled(ctx, false);
    double squared_error = 0;
    int64_t done = 0;
    while (done < o->test_size && !(stoppable && ag_run_stop_signal())) {
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
        }
        done += rows;
        ag_ctx_reset(ctx);
    }
    ag_set_grad_enabled(ctx, was_enabled);
    return squared_error / (double)o->test_size;
}

/* The order of one epoch: 0..n-1 shuffled with the run's generator (n is
 * at most --train-size's 1e8, so the shuffle cannot fail). */
static void shuffle(int64_t *order, int64_t n, ag_rng *rng) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    ag_rng_shuffle(rng, order, (size_t)n, sizeof *order);
}

/* The data order and what else changes from step to step besides the
 * weights and the optimizer: all of it goes into the checkpoint, so a
 * resumed run has the same bits. The epoch's order is not saved but made
 * again from the generator's state before its shuffle. */
typedef struct data_order {
    int64_t *order, size, position; /* position: the next example in order[] */
    ag_rng rng, rng_before_shuffle;
    int64_t stopped_early; /* --stop-below was reached */
    ag_real loss;
} data_order;

static int64_t next_example(data_order *data) {
    if (data->position == data->size) {
        data->rng_before_shuffle = data->rng;
        shuffle(data->order, data->size, &data->rng);
        data->position = 0;
    }
    return data->order[data->position++];
}

static ag_status save_state(const void *state, ag_checkpoint_writer *cp) {
    const data_order *data = state;
    char loss_text[32];
    snprintf(loss_text, sizeof loss_text, "%.9g", (double)data->loss);
    /* Mid-epoch, the order is remade from the state before its shuffle. */
    const ag_rng *rng = data->position < data->size ? &data->rng_before_shuffle : &data->rng;
    ag_status status = ag_checkpoint_set_int(cp, "train.position", data->position);
    if (status == AG_OK) status = ag_checkpoint_set_int(cp, "train.stopped_early", data->stopped_early);
    if (status == AG_OK) status = ag_checkpoint_set_rng(cp, "train.rng.order", rng);
    if (status == AG_OK) status = ag_checkpoint_set_metadata(cp, "train.loss", loss_text);
    return status;
}

static ag_status restore_state(void *state, const ag_checkpoint *cp, int64_t step) {
    data_order *data = state;
    ag_status status = ag_checkpoint_get_int(cp, "train.position", &data->position);
    if (status == AG_OK) status = ag_checkpoint_get_rng(cp, "train.rng.order", &data->rng);
    if (status == AG_OK) status = ag_checkpoint_get_int(cp, "train.stopped_early", &data->stopped_early);
    if (status == AG_OK && (data->position < 0 || data->position > data->size))
        return ag_error_set(AG_ERROR_FORMAT, "train.position %lld is out of range", (long long)data->position);
    const char *loss = ag_checkpoint_metadata(cp, "train.loss");
    data->loss = loss ? (ag_real)strtod(loss, NULL) : (ag_real)NAN;
    if (status == AG_OK && data->position < data->size) {
        data->rng_before_shuffle = data->rng;
        shuffle(data->order, data->size, &data->rng);
    }
    return status;
}

int main(int argc, char **argv) {
    demo_fit_blas_kernels(argv); /* the right OpenBLAS kernels, or this process as it is */
    options o = {.model = "irnn", .optimizer = "adam", .T = 150, .hidden = 100, .batch = 16, .train_size = 100000,
                 .test_size = 10000, .steps = 20000, .eval_every = 500, .seed = 42, .lr = 1e-4, .clip = 1,
                 .identity_scale = 1, .forget_bias = 1};
    demo d;
    demo_init(&d, "adding", "adding", DEMO_STEPS, 1000);
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
        DEMO_CHUNKS_FLAG(&d),
        DEMO_RUN_FLAGS(&d),
    };
    if (!demo_parse(&d, SUMMARY, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv)) return d.exit_code;
    adding_kind kind;
    if (!parse_model(o.model, &kind)) return demo_close(&d), 2;
    int64_t steps = o.epochs > 0 ? (o.epochs * o.train_size + o.batch - 1) / o.batch : o.steps;

    /* Data: examples made from (seed, index); the training order reshuffled each epoch. */
    ag_sequence_batch batch;
    ag_real *targets = malloc((size_t)o.batch * sizeof *targets);
    data_order data = {.order = malloc((size_t)o.train_size * sizeof(int64_t)), .size = o.train_size,
                       .position = o.train_size, .loss = (ag_real)NAN};
    ag_rng_seed(&data.rng, (uint64_t)o.seed, 1);
    if (!targets || !data.order) ag_error_set(AG_ERROR_MEMORY, "out of memory for %ld examples", o.train_size);
    if (!targets || !data.order || ag_sequence_batch_init(&batch, (int)o.batch, (int)o.T, 2) != AG_OK)
        return demo_fail(&d, "setup");

    /* Model and optimizer: MSE, Adam or SGD, global gradient-norm clipping. */
    ag_rng init_rng;
    ag_rng_seed(&init_rng, (uint64_t)o.seed, 0);
    adding_model model;
    if (adding_model_init(&model, kind, (int)o.hidden, o.identity_scale, o.forget_bias, &init_rng) != AG_OK)
        return demo_fail(&d, "model");
    demo_optimizer opt;
    if (demo_optimizer_init(&opt, o.optimizer, model.params, o.lr) != AG_OK) return demo_fail(&d, "--optim");
    ag_ctx *ctx = ag_ctx_create();
    if (!ctx) return demo_fail(&d, "setup");

    /* A new run's first row: the test MSE before training. */
    double baseline = baseline_mse(&o, &batch);
    double test_mse = d.resume ? NAN : evaluate(ctx, &model, &o, &batch, targets, true);
    demo_set_param(&d, "total_steps", "%lld", (long long)steps);
    demo_set_param(&d, "baseline_mse", "%.9g", baseline);
    const char *const columns[] = {"loss", "test_mse", "grad_norm"};
    if (!demo_open(&d, &(demo_training){.params = model.params, .optimizer = &opt,
                                        .state = {&data, save_state, restore_state}, .columns = columns,
                                        .n_columns = 3, .first_row = (double[]){NAN, test_mse, NAN},
                                        .total = steps, .progress_every = o.eval_every, .batch_rows = (int)o.batch}))
        return d.exit_code;
    /* This process's chunks of each batch (all of them without mpirun). */
    int64_t *examples = malloc((size_t)o.batch * sizeof *examples);
    ag_sequence_batch *chunks = calloc((size_t)d.my_chunks + 1, sizeof *chunks);
    if (!examples || !chunks) return demo_fail(&d, "setup");
    for (int k = 0; k < d.my_chunks; k++) {
        int first, rows;
        demo_chunk_rows(&d, (int)o.batch, d.first_chunk + k, &first, &rows);
        if (rows > 0 && ag_sequence_batch_init(&chunks[k], rows, (int)o.T, 2) != AG_OK) return demo_fail(&d, "setup");
    }

    while (demo_running(&d) && !data.stopped_early) {
        /* The batch's examples; this process runs its chunks of them. */
        for (int r = 0; r < o.batch; r++) examples[r] = next_example(&data);
        for (int k = d.first_chunk; k < d.first_chunk + d.my_chunks; k++) {
            int first, rows;
            demo_chunk_rows(&d, (int)o.batch, k, &first, &rows);
            ag_sequence_batch *part = &chunks[k - d.first_chunk];
            for (int r = 0; r < rows; r++)
                targets[r] = adding_example((uint64_t)o.seed, ADDING_TRAIN, examples[first + r], part, r);
            ag_params_zero_grad(model.params);
            ag_tensor *target = ag_from_array(ctx, 2, (int[]){rows, 1}, targets);
            ag_tensor *loss = rows == 0 ? NULL
                                        : ag_scale(ctx, ag_mse_loss(ctx, adding_forward(ctx, &model, part), target),
                                                   (ag_real)rows / (ag_real)o.batch);
            if (rows > 0 && ag_backward(ctx, loss) != AG_OK) return demo_fail(&d, "training step");
            ag_real loss_share = rows > 0 ? loss->data[0] : 0;
            ag_ctx_reset(ctx);
            if (!demo_keep_chunk(&d, k, loss_share)) return d.exit_code;
        }
        if (!demo_sum_chunks(&d, &data.loss)) return d.exit_code;
        if (!demo_finite(&d, data.loss)) break;
        double grad_norm = ag_params_clip_grad_norm(model.params, o.clip);
        if (!demo_step(&d)) break;
        d.step++;
        bool evaluate_now = d.step % o.eval_every == 0 || d.step == steps;
        test_mse = evaluate_now ? evaluate(ctx, &model, &o, &batch, targets, false) : NAN;
        if (evaluate_now) data.stopped_early = o.stop_below > 0 && test_mse < o.stop_below;
        if (!demo_log(&d, (double[]){data.loss, test_mse, grad_norm})) break;
        if (evaluate_now && !d.quiet && !d.progress.terminal)
            printf("step %lld: test MSE %.6f\n", (long long)d.step, test_mse);
    }

    if (demo_finish(&d)) {
        if (isnan(test_mse)) test_mse = evaluate(ctx, &model, &o, &batch, targets, false);
        if (o.stop_below > 0) demo_set_converged(&d, data.stopped_early);
        if (demo_save_model(&d))
            demo_summary(&d, "model=%s T=%ld steps=%lld test_mse=%.6g baseline_mse=%.6g seconds=%.2f step_ms=%.3f",
                   o.model, o.T, (long long)d.step, test_mse, baseline, d.seconds,
                   d.step > d.first_step ? 1e3 * d.seconds / (double)(d.step - d.first_step) : 0.0);
    }
    for (int k = 0; k < d.my_chunks; k++) ag_sequence_batch_free(&chunks[k]);
    free(chunks);
    free(examples);
    free(targets);
    free(data.order);
    demo_optimizer_free(&opt);
    ag_sequence_batch_free(&batch);
    ag_ctx_free(ctx);
    adding_model_free(&model);
    return demo_close(&d);
}
