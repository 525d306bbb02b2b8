/* ag_mpi.h in one process (no mpirun; tests/mpi.sh runs several): the
 * exchange adds chunks in chunk order, ((g0 + g1) + g2) + ..., which
 * float rounding can tell from any other order; one chunk leaves the
 * gradients as they are; chunks must be kept in order, each once; the
 * gather copies every chunk's block. */
#include <math.h>
#include <string.h>

#include "ag_mpi.h"
#include "test_util.h"

/* Gradients whose sum depends on the order: 1e8 + 1 - 1e8 is 0 in float
 * from the left, 1 from the right. */
static const ag_real chunk_grads[3][2] = {{1e8f, 0.5f}, {1.0f, 0.25f}, {-1e8f, 0.125f}};

START_TEST(test_exchange_sums_in_chunk_order) {
    ck_assert_int_eq(ag_mpi_size(), 1);
    int first = -1, count = -1;
    ag_mpi_chunks(3, &first, &count);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(count, 3);
    ag_params *params = ag_params_create();
    ag_tensor *w = ag_params_add(params, "w", 1, (int[]){2});
    ag_mpi_exchange *x = ag_mpi_exchange_create(params, 3, 1);
    ck_assert_ptr_nonnull(x);
    for (int step = 0; step < 2; step++) { /* a second step starts afresh */
        for (int k = 0; k < 3; k++) {
            memcpy(w->grad, chunk_grads[k], sizeof chunk_grads[k]);
            ag_real loss = (ag_real)(k + 1);
            ck_assert_int_eq(ag_mpi_exchange_keep(x, k, &loss), AG_OK);
        }
        ag_real loss = 0;
        ck_assert_int_eq(ag_mpi_exchange_sum(x, &loss), AG_OK);
        volatile ag_real left = chunk_grads[0][0];
        left = left + chunk_grads[1][0];
        left = left + chunk_grads[2][0];
        ck_assert(w->grad[0] == left); /* 0: from the left */
        ck_assert(w->grad[0] == 0.0f);
        ck_assert(w->grad[1] == 0.875f);
        ck_assert(loss == 6.0f);
    }
    ag_mpi_exchange_free(x);
    ag_params_free(params);
}
END_TEST

START_TEST(test_one_chunk_leaves_the_gradients) {
    ag_params *params = ag_params_create();
    ag_tensor *w = ag_params_add(params, "w", 1, (int[]){2});
    ag_mpi_exchange *x = ag_mpi_exchange_create(params, 1, 1);
    w->grad[0] = -0.0f; /* 0 + -0 would be +0: no addition happens */
    w->grad[1] = 3.0f;
    ag_real loss = 2.5f, total = 0;
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 0, &loss), AG_OK);
    ck_assert_int_eq(ag_mpi_exchange_sum(x, &total), AG_OK);
    ck_assert(w->grad[0] == 0.0f && signbit(w->grad[0]));
    ck_assert(w->grad[1] == 3.0f);
    ck_assert(total == 2.5f);
    ag_mpi_exchange_free(x);
    ag_params_free(params);
}
END_TEST

START_TEST(test_chunks_kept_in_order) {
    ag_params *params = ag_params_create();
    ag_params_add(params, "w", 1, (int[]){2});
    ag_mpi_exchange *x = ag_mpi_exchange_create(params, 3, 1);
    ag_real loss = 1;
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 1, &loss), AG_ERROR_ARGUMENT); /* 0 first */
    ck_assert_msg(strstr(ag_error_message(), "expected 0") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 0, &loss), AG_OK);
    ck_assert_int_eq(ag_mpi_exchange_sum(x, &loss), AG_ERROR_STATE); /* 1 and 2 not kept */
    ck_assert_msg(strstr(ag_error_message(), "chunk 1") != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 1, &loss), AG_OK);
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 2, &loss), AG_OK);
    ck_assert_int_eq(ag_mpi_exchange_keep(x, 3, &loss), AG_ERROR_ARGUMENT); /* past the last */
    ck_assert_ptr_null(ag_mpi_exchange_create(params, 0, 1));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    ag_mpi_exchange_free(x);
    ag_params_free(params);
}
END_TEST

START_TEST(test_gather_chunks_in_one_process) {
    const char mine[6] = "abcdef";
    char all[6] = {0};
    ck_assert_int_eq(ag_mpi_gather_chunks(mine, all, 2, 3), AG_OK);
    ck_assert(memcmp(all, mine, 6) == 0);
    ck_assert_int_eq(ag_mpi_gather_chunks(mine, NULL, 2, 3), AG_ERROR_ARGUMENT);
    int all_codes[1];
    ck_assert_int_eq(ag_mpi_gather_int(7, all_codes), AG_OK);
    ck_assert_int_eq(all_codes[0], 7);
}
END_TEST

AG_TEST_SUITE(mpi_suite)
static Suite *mpi_suite(void) {
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("one process");
    tcase_add_test(tc, test_exchange_sums_in_chunk_order);
    tcase_add_test(tc, test_one_chunk_leaves_the_gradients);
    tcase_add_test(tc, test_chunks_kept_in_order);
    tcase_add_test(tc, test_gather_chunks_in_one_process);
    suite_add_tcase(s, tc);
    return s;
}
