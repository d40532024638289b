/*
 * lcm_bench.c - LCM's side of the gamecast vs. LCM side-by-side benchmark.
 *
 * One binary, two modes:
 *
 *   lcm_bench send URL COUNT RATE SIZE
 *       Publish COUNT messages of SIZE bytes (SIZE >= 16) on channel "EVENTS",
 *       paced at RATE messages/s (0 = as fast as possible). Bytes 0..7 of each
 *       message are the sequence number (1..COUNT), bytes 8..15 the
 *       CLOCK_MONOTONIC send time in ns, both little-endian u64; the rest is
 *       filler. Afterwards, 5 messages on "END" (payload: COUNT as u64 LE).
 *
 *   lcm_bench recv URL [--lines]
 *       Subscribe to "EVENTS" and "END", print "ready", then handle messages
 *       until END arrives or 10 s pass with nothing. With --lines, print
 *       "SEQ SENT_NS" per message (flushed). Always finish with one line:
 *       done received=N highest=H out_of_order=K expected=E p50_us=X p99_us=Y
 *
 * Suggested URL: udpm://239.255.76.67:7667?ttl=0
 *   ttl=0 keeps multicast datagrams on the host. Note that LCM's udpm
 *   transport does not set IP_MULTICAST_IF, so it sends via the default
 *   route's interface: run it inside a network namespace whose only
 *   interface is loopback (with a 224.0.0.0/4 route on lo).
 *
 * Build:
 *   cc -O2 -o lcm_bench lcm_bench.c $(pkg-config --cflags --libs lcm)
 * (lcm.pc "Requires: glib-2.0 gthread-2.0"; if the glib dev package is not
 *  installed, pkg-config fails, and `cc -O2 -o lcm_bench lcm_bench.c -llcm`
 *  works just as well: lcm.h itself does not include glib.)
 *
 * Latencies are one-way (receiver's CLOCK_MONOTONIC at handler entry minus
 * the sender's), valid because both processes run on the same host.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lcm/lcm.h>

#define EVENTS_CHANNEL "EVENTS"
#define END_CHANNEL "END"
#define HEADER_SIZE 16
#define IDLE_LIMIT_NS (10ULL * 1000000000ULL) /* recv gives up after 10 s idle */
#define HANDLE_TIMEOUT_MS 100

/* Sleep only when the next deadline is further away than this; closer
 * deadlines are busy-waited, since nanosleep can overshoot by ~50-100 us,
 * which would cap the achievable rate far below 100k/s. */
#define SPIN_THRESHOLD_NS 200000ULL
/* When sleeping, wake up this much early and spin the rest. */
#define SLEEP_MARGIN_NS 100000ULL

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / 1000000000ULL),
        .tv_nsec = (long)(ns % 1000000000ULL),
    };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Explicit byte order so the wire format does not depend on the host. */
static void put_u64_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        fprintf(stderr, "lcm_bench: invalid %s: '%s'\n", what, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Wait until the absolute CLOCK_MONOTONIC time `deadline` (ns). */
static void wait_until(uint64_t deadline)
{
    uint64_t now = now_ns();
    if (now >= deadline)
        return; /* behind schedule: send immediately (catch-up burst) */
    if (deadline - now > SPIN_THRESHOLD_NS)
        sleep_ns(deadline - now - SLEEP_MARGIN_NS);
    while (now_ns() < deadline) {
        /* spin */
    }
}

/* ---------------------------------------------------------------- send */

static int run_send(const char *url, uint64_t count, uint64_t rate, uint64_t size)
{
    if (size < HEADER_SIZE) {
        fprintf(stderr, "lcm_bench: SIZE must be >= %d\n", HEADER_SIZE);
        return 2;
    }
    if (size > (uint64_t)INT32_MAX) {
        fprintf(stderr, "lcm_bench: SIZE too large\n");
        return 2;
    }

    lcm_t *lcm = lcm_create(url);
    if (!lcm) {
        fprintf(stderr, "lcm_bench: lcm_create(\"%s\") failed\n", url);
        return 1;
    }

    uint8_t *buf = malloc(size);
    if (!buf) {
        fprintf(stderr, "lcm_bench: out of memory\n");
        lcm_destroy(lcm);
        return 1;
    }
    for (uint64_t i = HEADER_SIZE; i < size; i++)
        buf[i] = (uint8_t)i; /* filler */

    int rc = 0;
    uint64_t publish_errors = 0;
    uint64_t start = now_ns();
    for (uint64_t seq = 1; seq <= count; seq++) {
        if (rate > 0) {
            /* Absolute schedule (start + k/rate) rather than a per-message
             * delay, so oversleeping on one message is made up by sending the
             * following ones back to back instead of drifting. */
            uint64_t k = seq - 1;
            uint64_t offset = (k / rate) * 1000000000ULL +
                              (k % rate) * 1000000000ULL / rate;
            wait_until(start + offset);
        }
        put_u64_le(buf, seq);
        put_u64_le(buf + 8, now_ns()); /* taken just before publishing */
        if (lcm_publish(lcm, EVENTS_CHANNEL, buf, (unsigned int)size) != 0)
            publish_errors++;
    }
    uint64_t elapsed = now_ns() - start;

    if (publish_errors > 0) {
        fprintf(stderr, "lcm_bench: %" PRIu64 " of %" PRIu64 " publishes failed\n",
                publish_errors, count);
        rc = 1;
    }
    fprintf(stderr, "lcm_bench: sent %" PRIu64 " messages in %.3f s (%.0f msg/s)\n",
            count, (double)elapsed / 1e9,
            elapsed > 0 ? (double)count * 1e9 / (double)elapsed : 0.0);

    /* Let receivers drain before END; END is repeated because udpm is
     * unreliable and a single lost END would make the receiver wait for its
     * 10 s idle timeout. */
    sleep_ns(50 * 1000000ULL);
    uint8_t end_msg[8];
    put_u64_le(end_msg, count);
    for (int i = 0; i < 5; i++) {
        if (lcm_publish(lcm, END_CHANNEL, end_msg, sizeof end_msg) != 0) {
            fprintf(stderr, "lcm_bench: publishing END failed\n");
            rc = 1;
        }
        sleep_ns(10 * 1000000ULL);
    }

    free(buf);
    lcm_destroy(lcm);
    return rc;
}

/* ---------------------------------------------------------------- recv */

struct recv_state {
    int lines;           /* --lines: print "SEQ SENT_NS" per message */
    int done;            /* END received */
    uint64_t received;   /* EVENTS messages handled */
    uint64_t highest;    /* highest seq seen */
    uint64_t out_of_order; /* seq <= highest (duplicate or reordered) */
    uint64_t expected;   /* COUNT announced by END, 0 if none */
    uint64_t malformed;  /* messages too short to carry the header */
    uint64_t *lat_ns;    /* one-way latencies, growable */
    size_t lat_len, lat_cap;
    int oom;
};

static void on_events(const lcm_recv_buf_t *rbuf, const char *channel, void *user)
{
    (void)channel;
    uint64_t arrival = now_ns(); /* first thing: handler entry time */
    struct recv_state *st = user;

    if (rbuf->data_size < HEADER_SIZE) {
        st->malformed++;
        return;
    }
    const uint8_t *p = rbuf->data;
    uint64_t seq = get_u64_le(p);
    uint64_t sent = get_u64_le(p + 8);

    st->received++;
    if (seq <= st->highest)
        st->out_of_order++;
    else
        st->highest = seq;

    if (st->lat_len == st->lat_cap && !st->oom) {
        size_t cap = st->lat_cap ? st->lat_cap * 2 : 16384;
        uint64_t *n = realloc(st->lat_ns, cap * sizeof *n);
        if (n) {
            st->lat_ns = n;
            st->lat_cap = cap;
        } else {
            st->oom = 1; /* keep counting, stop recording latencies */
        }
    }
    if (st->lat_len < st->lat_cap)
        st->lat_ns[st->lat_len++] = arrival >= sent ? arrival - sent : 0;

    if (st->lines) {
        /* Flush per line, as a real-time consumer would, so whoever reads
         * our stdout can timestamp each message's arrival. */
        printf("%" PRIu64 " %" PRIu64 "\n", seq, sent);
        fflush(stdout);
    }
}

static void on_end(const lcm_recv_buf_t *rbuf, const char *channel, void *user)
{
    (void)channel;
    struct recv_state *st = user;
    if (rbuf->data_size >= 8)
        st->expected = get_u64_le(rbuf->data);
    st->done = 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double percentile_us(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

static int run_recv(const char *url, int lines)
{
    struct recv_state st;
    memset(&st, 0, sizeof st);
    st.lines = lines;

    lcm_t *lcm = lcm_create(url);
    if (!lcm) {
        fprintf(stderr, "lcm_bench: lcm_create(\"%s\") failed\n", url);
        return 1;
    }

    /* We deliberately keep LCM's default per-subscription queue capacity
     * (no lcm_subscription_set_queue_capacity): the point is to measure LCM
     * as shipped, including the messages it drops when a handler falls
     * behind. */
    lcm_subscription_t *s_ev = lcm_subscribe(lcm, EVENTS_CHANNEL, on_events, &st);
    lcm_subscription_t *s_end = lcm_subscribe(lcm, END_CHANNEL, on_end, &st);
    if (!s_ev || !s_end) {
        fprintf(stderr, "lcm_bench: lcm_subscribe failed\n");
        lcm_destroy(lcm);
        return 1;
    }

    /* udpm opens and joins its receive socket on the first subscribe, so
     * from here on nothing sent will be missed for lack of a socket. */
    printf("ready\n");
    fflush(stdout);

    int rc = 0;
    uint64_t last_activity = now_ns();
    while (!st.done) {
        int r = lcm_handle_timeout(lcm, HANDLE_TIMEOUT_MS);
        if (r < 0) {
            fprintf(stderr, "lcm_bench: lcm_handle_timeout failed\n");
            rc = 1;
            break;
        }
        uint64_t now = now_ns();
        if (r > 0)
            last_activity = now;
        else if (now - last_activity >= IDLE_LIMIT_NS)
            break; /* sender gone or END lost: report what we have */
    }

    qsort(st.lat_ns, st.lat_len, sizeof *st.lat_ns, cmp_u64);
    printf("done received=%" PRIu64 " highest=%" PRIu64 " out_of_order=%" PRIu64
           " expected=%" PRIu64 " p50_us=%.1f p99_us=%.1f\n",
           st.received, st.highest, st.out_of_order, st.expected,
           percentile_us(st.lat_ns, st.lat_len, 50.0),
           percentile_us(st.lat_ns, st.lat_len, 99.0));
    fflush(stdout);
    if (st.malformed)
        fprintf(stderr, "lcm_bench: %" PRIu64 " malformed messages ignored\n",
                st.malformed);
    if (st.oom)
        fprintf(stderr, "lcm_bench: out of memory, latency sample truncated\n");

    free(st.lat_ns);
    lcm_unsubscribe(lcm, s_ev);
    lcm_unsubscribe(lcm, s_end);
    lcm_destroy(lcm);
    return rc;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
            "usage: lcm_bench send URL COUNT RATE SIZE\n"
            "       lcm_bench recv URL [--lines]\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "send") == 0 && argc == 6) {
        uint64_t count, rate, size;
        if (parse_u64(argv[3], "COUNT", &count) || parse_u64(argv[4], "RATE", &rate) ||
            parse_u64(argv[5], "SIZE", &size))
            return 2;
        return run_send(argv[2], count, rate, size);
    }
    if (argc >= 2 && strcmp(argv[1], "recv") == 0 && (argc == 3 || argc == 4)) {
        int lines = 0;
        if (argc == 4) {
            if (strcmp(argv[3], "--lines") != 0) {
                usage();
                return 2;
            }
            lines = 1;
        }
        return run_recv(argv[2], lines);
    }
    usage();
    return 2;
}
