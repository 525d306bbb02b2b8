/* Learning-rate schedules with torch.optim.lr_scheduler's closed forms
 * (StepLR, CosineAnnealingLR, LinearLR as a warm-up), and their position
 * and learning rate in a training checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_internal.h"

static const char *kind_name(ag_lr_kind kind) {
    switch (kind) {
    case AG_LR_CONSTANT: return "constant";
    case AG_LR_STEP: return "step";
    case AG_LR_COSINE: return "cosine";
    }
    return "?";
}

static ag_status check_lr(const char *who, ag_lr_schedule *s, double lr) {
    if (!s) return ag_error_set(AG_ERROR_ARGUMENT, "%s: schedule is NULL", who);
    if (!(isfinite(lr) && lr > 0)) return ag_error_set(AG_ERROR_ARGUMENT, "%s: lr %g must be finite and > 0", who, lr);
    return AG_OK;
}

static void start(ag_lr_schedule *s, ag_lr_kind kind, double lr) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->base_lr = lr;
    s->gamma = 1;
    s->warmup_start_factor = 1;
}

ag_status ag_lr_constant(ag_lr_schedule *s, double lr) {
    ag_status status = check_lr("ag_lr_constant", s, lr);
    if (status == AG_OK) start(s, AG_LR_CONSTANT, lr);
    return status;
}

ag_status ag_lr_step_decay(ag_lr_schedule *s, double lr, int64_t step_size, double gamma) {
    ag_status status = check_lr("ag_lr_step_decay", s, lr);
    if (status != AG_OK) return status;
    if (step_size < 1 || !(isfinite(gamma) && gamma > 0))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_lr_step_decay: step_size %lld must be >= 1 and gamma %g > 0",
                            (long long)step_size, gamma);
    start(s, AG_LR_STEP, lr);
    s->step_size = step_size;
    s->gamma = gamma;
    return AG_OK;
}

ag_status ag_lr_cosine(ag_lr_schedule *s, double lr, int64_t t_max, double eta_min) {
    ag_status status = check_lr("ag_lr_cosine", s, lr);
    if (status != AG_OK) return status;
    if (t_max < 1 || !(isfinite(eta_min) && eta_min >= 0))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_lr_cosine: t_max %lld must be >= 1 and eta_min %g >= 0",
                            (long long)t_max, eta_min);
    start(s, AG_LR_COSINE, lr);
    s->t_max = t_max;
    s->eta_min = eta_min;
    return AG_OK;
}

ag_status ag_lr_warmup(ag_lr_schedule *s, int64_t warmup_steps, double start_factor) {
    if (!s) return ag_error_set(AG_ERROR_ARGUMENT, "ag_lr_warmup: schedule is NULL");
    if (warmup_steps < 0 || !(start_factor > 0 && start_factor <= 1))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_lr_warmup: warmup_steps %lld must be >= 0 and start_factor %g in (0, 1]",
                            (long long)warmup_steps, start_factor);
    s->warmup_steps = warmup_steps;
    s->warmup_start_factor = start_factor;
    return AG_OK;
}

double ag_lr_schedule_at(const ag_lr_schedule *s, int64_t step) {
    if (!s || step < 0) return NAN;
    if (step < s->warmup_steps) /* LinearLR(start_factor, 1.0, total_iters = warmup_steps) */
        return s->base_lr * (s->warmup_start_factor +
                             (1.0 - s->warmup_start_factor) * (double)step / (double)s->warmup_steps);
    int64_t t = step - s->warmup_steps;
    switch (s->kind) {
    case AG_LR_CONSTANT: return s->base_lr;
    case AG_LR_STEP: return s->base_lr * pow(s->gamma, (double)(t / s->step_size));
    case AG_LR_COSINE:
        return s->eta_min + (s->base_lr - s->eta_min) * (1 + cos(3.14159265358979323846 * (double)t / (double)s->t_max)) / 2;
    }
    return NAN;
}

double ag_lr_schedule_step(ag_lr_schedule *s, double *lr) {
    if (!s) return NAN;
    s->step++;
    double value = ag_lr_schedule_at(s, s->step);
    if (lr) *lr = value;
    return value;
}

ag_status ag_lr_schedule_save(const ag_lr_schedule *s, double lr, ag_checkpoint_writer *w) {
    if (!s || !w) return ag_error_set(AG_ERROR_ARGUMENT, "ag_lr_schedule_save: schedule or writer is NULL");
    char text[40];
    snprintf(text, sizeof text, "%.17g", lr);
    ag_status status = ag_checkpoint_set_metadata(w, "schedule", kind_name(s->kind));
    if (status == AG_OK) status = ag_checkpoint_set_int(w, "schedule.step", s->step);
    if (status == AG_OK) status = ag_checkpoint_set_metadata(w, "schedule.lr", text);
    return status;
}

ag_status ag_lr_schedule_load(ag_lr_schedule *s, double *lr, const ag_checkpoint *cp) {
    static const char who[] = "ag_lr_schedule_load";
    if (!s || !lr || !cp) return ag_error_set(AG_ERROR_ARGUMENT, "%s: schedule, lr or checkpoint is NULL", who);
    const char *kind = ag_checkpoint_metadata(cp, "schedule");
    if (!kind) return ag_error_set(AG_ERROR_FORMAT, "%s: the checkpoint has no schedule", who);
    if (strcmp(kind, kind_name(s->kind)) != 0) {
        char buf[40];
        return ag_error_set(AG_ERROR_FORMAT, "%s: the checkpoint's schedule is '%s', this one is '%s'", who,
                            ag_printable(kind, buf, sizeof buf), kind_name(s->kind));
    }
    int64_t step;
    ag_status status = ag_checkpoint_get_int(cp, "schedule.step", &step);
    if (status != AG_OK) return status;
    if (step < 0) return ag_error_set(AG_ERROR_FORMAT, "%s: schedule.step %lld is negative", who, (long long)step);
    const char *text = ag_checkpoint_metadata(cp, "schedule.lr");
    if (!text) return ag_error_set(AG_ERROR_FORMAT, "%s: the checkpoint has no schedule.lr", who);
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(isfinite(value) && value >= 0)) {
        char buf[40];
        return ag_error_set(AG_ERROR_FORMAT, "%s: schedule.lr '%s' is not a finite learning rate >= 0", who,
                            ag_printable(text, buf, sizeof buf));
    }
    s->step = step;
    *lr = value;
    return AG_OK;
}
