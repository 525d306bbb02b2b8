/* Files written whole or not at all: the content goes to PATH.tmp.PID,
 * which is flushed, synced and renamed over PATH, so a reader (or a run
 * killed halfway) only ever sees the old file or the new one. */
#define _GNU_SOURCE /* fopencookie */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"

/* The stream a caller writes to passes every write(2) through here, so the
 * first failure's errno is kept: stdio only sets its error flag, and by the
 * commit errno may tell of anything (a full disk said "short write"). */
typedef struct atomic_stream {
    int fd;
    int error; /* errno of the first failed write or close; 0 if none */
} atomic_stream;

static ssize_t stream_write(void *cookie, const char *buf, size_t size) {
    atomic_stream *s = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(s->fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (!s->error) s->error = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done; /* fewer than size: stdio sets the stream's error flag */
}

/* A writer may go back to fill in what it knows only at the end (the
 * checkpoint's checksum): stdio flushes before it seeks. */
static int stream_seek(void *cookie, off64_t *offset, int whence) {
    atomic_stream *s = cookie;
    off_t at = lseek(s->fd, (off_t)*offset, whence);
    if (at < 0) return -1;
    *offset = at;
    return 0;
}

static int stream_close(void *cookie) {
    atomic_stream *s = cookie;
    int closed = close(s->fd);
    if (closed != 0 && !s->error) s->error = errno;
    s->fd = -1;
    return closed;
}

ag_status ag_atomic_file_begin(ag_atomic_file *a, const char *path) {
    a->file = NULL;
    a->stream = NULL;
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
    atomic_stream *s = malloc(sizeof *s);
    if (!s) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", path);
    s->error = 0;
    s->fd = open(a->temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        int saved = errno;
        free(s);
        return ag_error_set(AG_ERROR_IO, "%s: cannot create temporary file %s: %s", path, a->temporary,
                            strerror(saved));
    }
    a->file = fopencookie(s, "wb", (cookie_io_functions_t){.write = stream_write, .seek = stream_seek, .close = stream_close});
    if (!a->file) {
        close(s->fd);
        unlink(a->temporary);
        free(s);
        return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", path);
    }
    a->stream = s;
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
    atomic_stream *s = a->stream;
    const char *failed = NULL; /* what went wrong, for the message */
    int saved_errno = 0;
    errno = 0;
    if (ferror(a->file) || fflush(a->file) != 0) {
        failed = "write";
        saved_errno = s->error ? s->error : errno;
    } else if (fsync(s->fd) != 0) {
        failed = "fsync";
        saved_errno = errno;
    }
    /* Some file systems (NFS) report a failed write only at close. */
    if (fclose(a->file) != 0 && !failed) {
        failed = "close";
        saved_errno = s->error ? s->error : errno;
    }
    a->file = NULL;
    a->stream = NULL;
    free(s);
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
    free(a->stream);
    a->file = NULL;
    a->stream = NULL;
    unlink(a->temporary);
}

int ag_atomic_file_remove_stale(const char *path) {
    if (!path || !*path) return 0;
    char dir[sizeof ((ag_atomic_file *)0)->path];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path) >= (int)sizeof dir)
        return 0;
    size_t base_length = strlen(base);
    if (base_length == 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        const char *name = entry->d_name, *digits = name + base_length + 5;
        if (strncmp(name, base, base_length) != 0 || strncmp(name + base_length, ".tmp.", 5) != 0) continue;
        size_t n = strspn(digits, "0123456789");
        if (n == 0 || n > 9 || digits[n] != '\0' || digits[0] == '0') continue; /* as begin writes a PID */
        long pid = strtol(digits, NULL, 10);
        if (pid == (long)getpid()) continue;
        /* Only a process that is gone: a live one (or one not ours to
         * signal, EPERM) may be writing it now. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char stale[sizeof dir + 256];
        snprintf(stale, sizeof stale, "%s/%s", dir, name);
        if (unlink(stale) == 0) removed++;
    }
    closedir(d);
    return removed;
}
