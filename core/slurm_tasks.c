#include "slurm_tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blas_kernels.h"
#include "results.h"

/* ---- task lists ---------------------------------------------------------------- */

int ob_slurm_tasks_write(const char *path, const ob_slurm_task_line *lines, size_t n, ob_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ob_fail(err, OB_ENOMEM, "%s: out of memory", path);
    int rc = OB_OK;
    for (size_t i = 0; i < n && rc == OB_OK; i++) {
        const char *col[6] = {lines[i].name, lines[i].spec, lines[i].result,
                              lines[i].ckpt, lines[i].log, lines[i].heartbeat};
        for (int c = 0; c < 6; c++) {
            if (strpbrk(col[c], "\t\n")) {
                rc = ob_fail(err, OB_EINVAL, "%s: a tab or newline in '%s' cannot go into a task list; "
                                             "use another --out folder", path, col[c]);
                break;
            }
            fprintf(f, "%s%c", col[c], c == 5 ? '\n' : '\t');
        }
    }
    fclose(f);
    if (rc == OB_OK) rc = ob_write_text_atomic(path, text, err);
    free(text);
    return rc;
}

/* The names (first column) of a task list, one per line; NULL when unreadable. */
static char **read_names(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        line[strcspn(line, "\t\n")] = '\0';
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (!names) names = calloc(1, sizeof *names);
    return names;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---- running Slurm's commands ------------------------------------------------------ */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }

int ob_slurm_tool(const char *const *argv, double timeout_s, int *status, char **out, char **errout,
                  ob_error *err) {
    int po[2], pe[2], px[2];
    if (pipe(po) != 0) return ob_fail(err, OB_EIO, "pipe: %s", strerror(errno));
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return ob_fail(err, OB_EIO, "pipe: %s", strerror(errno));
    }
    if (pipe(px) != 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return ob_fail(err, OB_EIO, "pipe: %s", strerror(errno));
    }
    cloexec(po[0]), cloexec(pe[0]), cloexec(px[0]), cloexec(px[1]);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(px[0]), close(px[1]);
        return ob_fail(err, OB_EIO, "cannot start %s: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        /* jobs inherit sbatch's environment: let each node pick its kernels */
        ob_blas_forget_choice();
        execvp(argv[0], (char *const *)argv);
        int e = errno;
        if (write(px[1], &e, sizeof e) != (ssize_t)sizeof e) { /* the parent sees EOF */ }
        _exit(127);
    }
    close(po[1]), close(pe[1]), close(px[1]);
    int e = 0;
    ssize_t got = read(px[0], &e, sizeof e);
    close(px[0]);
    if (got == (ssize_t)sizeof e) {
        close(po[0]), close(pe[0]);
        waitpid(pid, NULL, 0);
        return ob_fail(err, OB_ENOTSUP, "cannot run %s: %s", argv[0], strerror(e));
    }
    buf b[2] = {{0}, {0}};
    buf_add(&b[0], "", 0);
    buf_add(&b[1], "", 0);
    int fds[2] = {po[0], pe[0]}, open_fds = 2, killed = 0;
    double deadline = now_s() + timeout_s;
    while (open_fds > 0) {
        struct pollfd p[2];
        int np = 0, which[2];
        for (int k = 0; k < 2; k++)
            if (fds[k] >= 0) p[np] = (struct pollfd){.fd = fds[k], .events = POLLIN}, which[np++] = k;
        double left = deadline - now_s();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        int r = poll(p, (nfds_t)np, (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR) break;
        for (int q = 0; q < np && r > 0; q++) {
            if (!(p[q].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char tmp[4096];
            ssize_t k = read(p[q].fd, tmp, sizeof tmp);
            if (k > 0) buf_add(&b[which[q]], tmp, (size_t)k);
            else if (k == 0 || errno != EINTR) {
                close(p[q].fd);
                fds[which[q]] = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k] >= 0) close(fds[k]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (out) *out = b[0].data; else free(b[0].data);
    if (errout) *errout = b[1].data; else free(b[1].data);
    if (killed)
        return ob_fail(err, OB_EIO, "%s did not answer within %g s (stopped)", argv[0], timeout_s);
    return OB_OK;
}

/* ---- squeue's view of a results directory -------------------------------------------- */

typedef struct list_cache {
    char path[PATH_MAX];
    char **names;
    size_t n;
} list_cache;

/* The users who wrote task lists in slurm_dir, as "uid,uid,..." (jobs of a
 * shared results directory may be anyone's): how many. */
static int task_list_owners(const char *slurm_dir, char *out, size_t len) {
    out[0] = '\0';
    DIR *d = opendir(slurm_dir);
    if (!d) return 0;
    long uids[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16) {
        size_t l = strlen(e->d_name);
        if (l < 7 || strcmp(e->d_name + l - 6, ".tasks") != 0) continue;
        char path[PATH_MAX + 300];
        struct stat sb;
        snprintf(path, sizeof path, "%s%s", slurm_dir, e->d_name);
        if (stat(path, &sb) != 0) continue;
        int seen = 0;
        for (int k = 0; k < n; k++) seen |= uids[k] == (long)sb.st_uid;
        if (seen) continue;
        uids[n] = (long)sb.st_uid;
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%ld", n ? "," : "", uids[n]);
        n++;
    }
    closedir(d);
    return n;
}

int ob_slurm_queue(const char *dir, ob_slurm_queued **tasks, size_t *n, ob_error *err) {
    *tasks = NULL;
    *n = 0;
    char real[PATH_MAX];
    if (!realpath(dir, real)) return ob_fail(err, OB_EIO, "%s: %s", dir, strerror(errno));
    char prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, "%s/slurm/", real);
    size_t plen = strlen(prefix);

    char users[512];
    if (task_list_owners(prefix, users, sizeof users) == 0) return OB_OK; /* never submitted */
    /* array job id | task index | state | node | comment (last: it may hold '|') */
    const char *argv[] = {"squeue", "--noheader", "--array", "--user", users, "--format",
                          "%F|%K|%T|%N|%k", NULL};
    int status = 0;
    char *out = NULL, *errout = NULL;
    int rc = ob_slurm_tool(argv, 30, &status, &out, &errout, err);
    if (rc != OB_OK) return rc == OB_ENOTSUP ? ob_fail(err, OB_ENOTSUP, "squeue is not available here") : rc;
    if (status != 0) {
        errout[strcspn(errout, "\n")] = '\0';
        rc = ob_fail(err, OB_ENOTSUP, "squeue failed (exit %d): %s", status,
                     *errout ? errout : "no message");
        free(out);
        free(errout);
        return rc;
    }
    free(errout);

    list_cache cache[8];
    size_t ncache = 0, cap = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *field[5];
        int nf = 0;
        char *p = line;
        for (; nf < 4; nf++) {
            char *bar = strchr(p, '|');
            if (!bar) break;
            *bar = '\0';
            field[nf] = p;
            p = bar + 1;
        }
        if (nf < 4) continue;
        field[4] = p;
        if (strncmp(field[4], OB_SLURM_COMMENT_PREFIX, strlen(OB_SLURM_COMMENT_PREFIX)) != 0) continue;
        const char *list = field[4] + strlen(OB_SLURM_COMMENT_PREFIX);
        if (strncmp(list, prefix, plen) != 0 || strchr(list + plen, '/')) continue;
        char *end;
        long index = strtol(field[1], &end, 10);
        if (*field[1] == '\0' || *end != '\0') continue; /* not an array task */
        list_cache *c = NULL;
        for (size_t k = 0; k < ncache; k++)
            if (strcmp(cache[k].path, list) == 0) c = &cache[k];
        if (!c) {
            if (ncache == sizeof cache / sizeof cache[0]) {
                free_names(cache[0].names, cache[0].n);
                memmove(cache, cache + 1, (ncache - 1) * sizeof *cache);
                ncache--;
            }
            c = &cache[ncache++];
            snprintf(c->path, sizeof c->path, "%s", list);
            c->names = read_names(list, &c->n);
            if (!c->names) c->n = 0;
        }
        if (index < 1 || (size_t)index > c->n) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            *tasks = realloc(*tasks, cap * sizeof **tasks);
        }
        ob_slurm_queued *t = &(*tasks)[(*n)++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", c->names[index - 1]);
        snprintf(t->job, sizeof t->job, "%s_%ld", field[0], index);
        snprintf(t->state, sizeof t->state, "%s", field[2]);
        snprintf(t->node, sizeof t->node, "%s", strcmp(field[3], "(null)") ? field[3] : "");
    }
    for (size_t k = 0; k < ncache; k++) free_names(cache[k].names, cache[k].n);
    free(out);
    return OB_OK;
}
