/*
 * footprint: how long gregor takes from exec to accepting connections, how
 * much memory it holds when idle, and how long a SIGTERM takes to stop it.
 * A benchmark, not a test: it prints figures and fails only if the broker
 * does not come up or does not exit cleanly.
 *
 *   footprint GREGOR_BIN [RUNS]
 *
 * Each run: fresh data dir, a free port; fork+exec; connect() polled every
 * 50 us until it succeeds (time to ready); one ApiVersions + Metadata round
 * trip as a client would; 0.5 s later VmRSS from /proc (idle RSS); SIGTERM
 * and wait (stop time). Prints min/median/max over the runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        perror("bind");
        exit(1);
    }
    close(s);
    return ntohs(a.sin_port);
}

static int try_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
        return s;
    close(s);
    return -1;
}

/* Send one request frame and read one response frame; 0 on success. */
static int round_trip(int s, const unsigned char *req, size_t len)
{
    if (write(s, req, len) != (ssize_t)len)
        return -1;
    unsigned char hdr[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = read(s, hdr + got, 4 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    size_t size = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
    char buf[4096];
    while (size > 0) {
        ssize_t n = read(s, buf, size < sizeof buf ? size : sizeof buf);
        if (n <= 0)
            return -1;
        size -= (size_t)n;
    }
    return 0;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, const char *unit, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%-22s min %8.2f  median %8.2f  max %8.2f %s\n", what, v[0], v[n / 2], v[n - 1], unit);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: footprint GREGOR_BIN [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 10;
    if (runs < 1)
        runs = 1;
    double *ready = calloc((size_t)runs, sizeof *ready), *rss = calloc((size_t)runs, sizeof *rss),
           *stop = calloc((size_t)runs, sizeof *stop);
    /* ApiVersions v0 and Metadata v1 (null topics), client id "fp" */
    static const unsigned char api_versions[] = {0, 0, 0, 12, 0, 18, 0, 0, 0, 0, 0, 1, 0, 2, 'f', 'p'};
    static const unsigned char metadata[] = {0, 0, 0, 16, 0,   3,   0,    1,    0,    0,
                                             0, 2, 0, 2,  'f', 'p', 0xff, 0xff, 0xff, 0xff};

    for (int i = 0; i < runs; i++) {
        char dir[] = "/tmp/gregor-footprint.XXXXXX";
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        int port = free_port();
        char listeners[64], logdirs[128];
        snprintf(listeners, sizeof listeners, "listeners=PLAINTEXT://127.0.0.1:%d", port);
        snprintf(logdirs, sizeof logdirs, "log.dirs=%s", dir);
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", 1);
            dup2(null, 2);
            execl(argv[1], argv[1], "--override", listeners, "--override", logdirs, (char *)NULL);
            _exit(127);
        }
        int s = -1;
        while ((s = try_connect(port)) < 0) {
            if (now_ms() - t0 > 10000 || waitpid(pid, NULL, WNOHANG) == pid) {
                fprintf(stderr, "footprint: broker did not come up\n");
                return 1;
            }
            usleep(50);
        }
        ready[i] = now_ms() - t0;
        if (round_trip(s, api_versions, sizeof api_versions) < 0 || round_trip(s, metadata, sizeof metadata) < 0) {
            fprintf(stderr, "footprint: ApiVersions/Metadata round trip failed\n");
            return 1;
        }
        usleep(500 * 1000);
        rss[i] = (double)rss_kb(pid) / 1024.0;
        close(s);
        double t1 = now_ms();
        kill(pid, SIGTERM);
        int status;
        waitpid(pid, &status, 0);
        stop[i] = now_ms() - t1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "footprint: broker did not exit 0 on SIGTERM\n");
            return 1;
        }
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "footprint: could not remove %s\n", dir);
    }
    printf("gregor footprint over %d runs (targets: ready < 10 ms, idle RSS < 5 MiB)\n", runs);
    report("exec -> accepting", "ms", ready, runs);
    report("idle RSS", "MiB", rss, runs);
    report("SIGTERM -> exit", "ms", stop, runs);
    return 0;
}
