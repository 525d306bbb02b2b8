/* Files written whole or not at all: the content goes to PATH.tmp.PID,
 * which is flushed, synced and renamed over PATH, so a reader (or a run
 * killed halfway) only ever sees the old file or the new one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"

ag_status ag_atomic_file_begin(ag_atomic_file *a, const char *path) {
    a->file = NULL;
    a->path[0] = a->temporary[0] = '\0';
    if (!path || !*path) return ag_error_set(AG_ERROR_ARGUMENT, "ag_atomic_file_begin: path is NULL or empty");
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path ||
        snprintf(a->temporary, sizeof a->temporary, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof a->temporary)
        return ag_error_set(AG_ERROR_ARGUMENT, "%.80s...: path is too long", path);
    /* The rename would replace a directory entry of another kind (a FIFO,
     * a device such as /dev/null) with a regular file. */
    struct stat info;
    if (stat(path, &info) == 0 && !S_ISREG(info.st_mode))
        return ag_error_set(AG_ERROR_IO, "%s: is %s, not a regular file", path,
                            S_ISDIR(info.st_mode) ? "a directory" : "something else");
    a->file = fopen(a->temporary, "wb");
    if (!a->file)
        return ag_error_set(AG_ERROR_IO, "%s: cannot create temporary file %s: %s", path, a->temporary,
                            strerror(errno));
    return AG_OK;
}

/* Makes the rename itself durable; best effort, since some file systems
 * cannot sync a directory and the file is already complete. */
static void sync_directory(const char *path) {
    char dir[sizeof ((ag_atomic_file *)0)->path];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

ag_status ag_atomic_file_commit(ag_atomic_file *a) {
    if (!a->file) return ag_error_set(AG_ERROR_STATE, "ag_atomic_file_commit: no file was begun");
    const char *failed = NULL; /* what went wrong, for the message */
    int saved_errno = 0;
    errno = 0;
    if (ferror(a->file) || fflush(a->file) != 0)
        failed = "write";
    else if (fsync(fileno(a->file)) != 0)
        failed = "fsync";
    if (failed) saved_errno = errno;
    /* Some file systems (NFS) report a failed write only at close. */
    if (fclose(a->file) != 0 && !failed) {
        failed = "close";
        saved_errno = errno;
    }
    a->file = NULL;
    if (!failed && rename(a->temporary, a->path) != 0) {
        failed = "rename";
        saved_errno = errno;
    }
    if (failed) {
        unlink(a->temporary);
        return ag_error_set(AG_ERROR_IO, "%s: %s of temporary file %s failed: %s", a->path, failed, a->temporary,
                            saved_errno ? strerror(saved_errno) : "short write");
    }
    sync_directory(a->path);
    return AG_OK;
}

void ag_atomic_file_abort(ag_atomic_file *a) {
    if (!a->file) return;
    fclose(a->file);
    a->file = NULL;
    unlink(a->temporary);
}
