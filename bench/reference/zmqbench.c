/*
 * zmqbench: the minimal libzmq reference for RecPool's broker benchmark, and the load generator
 * used against both the reference and RecPool, so that both are driven by the same client.
 *
 *   zmqbench forwarder FRONTEND BACKEND     ROUTER-ROUTER forwarder, no protocol work:
 *                                           client frames go round-robin to workers and back.
 *   zmqbench echo BACKEND                   a DEALER worker that echoes what it gets.
 *   zmqbench answer BACKEND                 a DEALER worker that answers a SCORE as recpool-worker does, with
 *                                           no model: the request's header with the reply bit set, then a
 *                                           rows × 1 tensor of zeros (the reply's shape, not its scores).
 *   zmqbench client ENDPOINT MODE C N W     C requests in flight, N requests in all; MODE is
 *                                           "raw" (one 64-byte frame) or "recpool" (a SCORE of
 *                                           one row of W floats). Prints one JSON line.
 *
 * Build: cc -O2 -o zmqbench zmqbench.c -lzmq
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *open_socket(void *ctx, int type) {
    void *s = zmq_socket(ctx, type);
    int zero = 0, hwm = 100000, one = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (type == ZMQ_ROUTER) zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    return s;
}

/* Moves one whole multipart message from `from` to `to`, optionally replacing/adding frames. */
static int recv_parts(void *s, zmq_msg_t *parts, int max) {
    int n = 0, more = 1;
    while (more && n < max) {
        zmq_msg_init(&parts[n]);
        if (zmq_msg_recv(&parts[n], s, 0) < 0) return -1;
        more = zmq_msg_more(&parts[n]);
        n++;
    }
    return n;
}

static void send_parts(void *s, zmq_msg_t *parts, int from, int n) {
    for (int i = from; i < n; i++) zmq_msg_send(&parts[i], s, i + 1 < n ? ZMQ_SNDMORE : 0);
}

static int forwarder(const char *front, const char *back) {
    void *ctx = zmq_ctx_new();
    void *fe = open_socket(ctx, ZMQ_ROUTER), *be = open_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(fe, front) || zmq_bind(be, back)) { perror("bind"); return 1; }
    zmq_msg_t workers[64];
    int nworkers = 0, next = 0;
    zmq_pollitem_t items[2] = {{be, 0, ZMQ_POLLIN, 0}, {fe, 0, ZMQ_POLLIN, 0}};
    zmq_msg_t parts[8];
    for (;;) {
        if (zmq_poll(items, nworkers ? 2 : 1, -1) < 0) break;
        if (items[0].revents & ZMQ_POLLIN) {
            int n = recv_parts(be, parts, 8);
            if (n == 2 && zmq_msg_size(&parts[1]) == 0) { /* READY: remember the worker */
                zmq_msg_init(&workers[nworkers]);
                zmq_msg_copy(&workers[nworkers], &parts[0]);
                nworkers++;
                zmq_msg_close(&parts[0]);
                zmq_msg_close(&parts[1]);
            } else if (n >= 2) {
                zmq_msg_close(&parts[0]);
                send_parts(fe, parts, 1, n);
            }
        }
        if (nworkers && (items[1].revents & ZMQ_POLLIN)) {
            int n = recv_parts(fe, parts, 7);
            zmq_msg_t wid;
            zmq_msg_init(&wid);
            zmq_msg_copy(&wid, &workers[next]);
            next = (next + 1) % nworkers;
            zmq_msg_send(&wid, be, ZMQ_SNDMORE);
            send_parts(be, parts, 0, n);
        }
    }
    return 0;
}

static int echo(const char *back) {
    void *ctx = zmq_ctx_new();
    void *s = open_socket(ctx, ZMQ_DEALER);
    zmq_connect(s, back);
    zmq_send(s, "", 0, 0);
    zmq_msg_t parts[8];
    for (;;) {
        int n = recv_parts(s, parts, 8);
        if (n < 0) break;
        send_parts(s, parts, 0, n);
    }
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v);

/* Answers [header][tensor] with [header | reply bit][rows × 1 zeros]; anything else is echoed. */
static int answer(const char *back) {
    void *ctx = zmq_ctx_new();
    void *s = open_socket(ctx, ZMQ_DEALER);
    zmq_connect(s, back);
    zmq_send(s, "", 0, 0);
    zmq_msg_t parts[8];
    unsigned char *scores = NULL;
    size_t capacity = 0;
    for (;;) {
        int n = recv_parts(s, parts, 8);
        if (n < 0) break;
        if (n == 2 && zmq_msg_size(&parts[0]) == 56 && zmq_msg_size(&parts[1]) >= 8) {
            unsigned char header[56];
            memcpy(header, zmq_msg_data(&parts[0]), 56);
            header[4] |= 0x80;
            const unsigned char *t = zmq_msg_data(&parts[1]);
            uint32_t rows = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
            size_t length = 8 + 4 * (size_t)rows;
            if (length > capacity) {
                free(scores);
                scores = calloc(1, length);
                capacity = length;
            }
            put_u32(scores, rows);
            put_u32(scores + 4, 1);
            zmq_msg_close(&parts[0]);
            zmq_msg_close(&parts[1]);
            zmq_send(s, header, 56, ZMQ_SNDMORE);
            zmq_send(s, scores, length, 0);
        } else {
            send_parts(s, parts, 0, n);
        }
    }
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int client(const char *endpoint, const char *mode, int concurrency, int total, int width, int rows) {
    int recpool = strcmp(mode, "recpool") == 0;
    void *ctx = zmq_ctx_new();
    void *s = open_socket(ctx, ZMQ_DEALER);
    zmq_connect(s, endpoint);
    unsigned char header[56] = {0};
    size_t tensor_len = 8 + 4 * (size_t)width * (size_t)rows;
    /* raw mode: 64 bytes, or as many bytes as the recpool request's tensor when ROWS is given */
    size_t body_len = rows > 1 ? tensor_len : 64;
    unsigned char *body = calloc(1, body_len);
    unsigned char *tensor = calloc(1, tensor_len);
    memcpy(header, "RPL\x01\x01", 5);
    put_u32(tensor, (uint32_t)rows);      /* rows */
    put_u32(tensor + 4, (uint32_t)width); /* cols */
    for (int i = 0; i < width * rows; i++) { float f = 0.01f * (float)(i % 7); memcpy(tensor + 8 + 4 * i, &f, 4); }
    uint64_t *sent = calloc((size_t)total, sizeof(uint64_t));
    uint64_t *lat = calloc((size_t)total, sizeof(uint64_t));
    int next = 0, done = 0, errors = 0;
    uint64_t start = 0;
    while (done < total) {
        while (next < total && next - done < concurrency) {
            sent[next] = now_ns();
            if (next == 0) start = sent[0];
            if (recpool) {
                put_u64(header + 8, (uint64_t)next + 1);
                zmq_send(s, header, 56, ZMQ_SNDMORE);
                zmq_send(s, tensor, tensor_len, 0);
            } else {
                put_u64(body, (uint64_t)next + 1);
                zmq_send(s, body, body_len, 0);
            }
            next++;
        }
        zmq_msg_t parts[4];
        int n = recv_parts(s, parts, 4);
        uint64_t t = now_ns();
        if (n < 1) break;
        const unsigned char *d = zmq_msg_data(&parts[0]);
        uint64_t id = recpool ? get_u64(d + 8) : get_u64(d);
        if (recpool && (d[32] | d[33])) errors++;
        if (id >= 1 && id <= (uint64_t)total) lat[id - 1] = t - sent[id - 1];
        for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
        done++;
    }
    uint64_t elapsed = now_ns() - start;
    qsort(lat, (size_t)total, sizeof(uint64_t), cmp_u64);
    printf("{\"mode\":\"%s\",\"concurrency\":%d,\"requests\":%d,\"errors\":%d,\"rps\":%.0f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
           mode, concurrency, total, errors, total / (elapsed / 1e9), lat[total / 2] / 1e3,
           lat[(size_t)(total * 0.99)] / 1e3);
    return errors ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "forwarder") == 0) return forwarder(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "echo") == 0) return echo(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "answer") == 0) return answer(argv[2]);
    if (argc >= 7 && strcmp(argv[1], "client") == 0)
        return client(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argc >= 8 ? atoi(argv[7]) : 1);
    fprintf(stderr, "usage: zmqbench forwarder FRONT BACK | echo BACK | answer BACK | client ENDPOINT raw|recpool C N WIDTH [ROWS]\n");
    return 2;
}
