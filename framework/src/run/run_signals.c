/* SIGINT and SIGTERM noted, not obeyed at once, so that a training loop
 * saves its checkpoint before it stops. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "ag_run.h"

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int signal_number) { stop_signal = signal_number; }

ag_status ag_run_catch_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    /* The handler is needed once: a second Ctrl-C stops the program at
     * once, for a user who does not want to wait for the checkpoint. */
    action.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0)
        return ag_error_set(AG_ERROR_STATE, "ag_run_catch_signals: sigaction failed: %s", strerror(errno));
    return AG_OK;
}

int ag_run_stop_signal(void) { return stop_signal; }
