/* example.c - drives `stylize serve` with synthetic game frames using framestyle_client.h.
 *
 * Renders a scrolling pattern as an engine would read it back (BGRA8, bottom-up), with float16 motion vectors and
 * float32 depth, keeps two frames in flight, and writes the last stylized frame as a PPM picture.
 *
 *     cc -std=c99 -O2 -o framestyle_example tools/clients/c/example.c
 *     ./framestyle_example unix:/tmp/framestyle.sock --frames 100 --out last.ppm [--shm] [--latest]
 *
 * Options: --frames N, --size WxH, --style NAME, --mix NAME=WEIGHT,NAME=WEIGHT (a mix of up to four styles of one
 * shared network, in place of --style), --token T, --shm, --latest, --out FILE.ppm, and --check-invert (verify
 * that each result is the colour negative of its frame: for tests against a server that inverts).
 */
#define _POSIX_C_SOURCE 200809L
#include "framestyle_client.h"

#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Frame t of a pattern scrolling 2 pixels a frame to the right; row 0 is the bottom row (OpenGL read-back). */
static void render(unsigned char *bgra, uint32_t width, uint32_t height, unsigned t) {
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < width; x++) {
            unsigned char *p = bgra + ((size_t)y * width + x) * 4;
            unsigned u = x - 2u * t;
            p[0] = (unsigned char)(u * 3u);
            p[1] = (unsigned char)(y * 4u);
            p[2] = (unsigned char)((u / 8u + y / 8u) % 2u ? 220u : 30u);
            p[3] = (unsigned char)(x + y);
        }
}

static int write_ppm(const char *path, const unsigned char *bgra, uint32_t width, uint32_t height) {
    FILE *file = fopen(path, "wb");
    if (!file) return -1;
    fprintf(file, "P6\n%u %u\n255\n", width, height);
    for (uint32_t row = 0; row < height; row++) {
        const unsigned char *line = bgra + (size_t)(height - 1u - row) * width * 4u;  /* bottom-up to top-down */
        for (uint32_t x = 0; x < width; x++) {
            unsigned char rgb[3] = {line[x * 4 + 2], line[x * 4 + 1], line[x * 4]};
            fwrite(rgb, 1, 3, file);
        }
    }
    return fclose(file);
}

/* Fills frame->mix from "NAME=WEIGHT,NAME=WEIGHT"; returns 0, or -1 for an unknown style, a part without a weight
 * or more than FS_MAX_MIX parts. */
static int parse_mix(const fs_client *client, const char *spec, fs_frame *frame) {
    char copy[1024];
    if (strlen(spec) >= sizeof copy) return -1;
    strcpy(copy, spec);
    frame->mix_count = 0;
    for (char *part = strtok(copy, ","); part; part = strtok(NULL, ",")) {
        char *equals = strchr(part, '=');
        if (!equals || frame->mix_count == FS_MAX_MIX) return -1;
        *equals = 0;
        int index = fs_style_index(client, part);
        if (index < 0) return -1;
        frame->mix[frame->mix_count].style = (uint16_t)index;
        frame->mix[frame->mix_count].weight = strtof(equals + 1, NULL);
        frame->mix_count++;
    }
    return frame->mix_count ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s HOST:PORT|unix:PATH [--frames N] [--size WxH] [--style NAME] "
                        "[--mix NAME=W,NAME=W] [--token T] [--shm] [--latest] [--out FILE.ppm] [--check-invert]\n",
                argv[0]);
        return 2;
    }
    unsigned frames = 30, width = 64, height = 36;
    const char *out = NULL, *style = NULL, *mix = NULL;
    int check_invert = 0;
    fs_options options = fs_default_options();
    options.name = "c-example";
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) sscanf(argv[++i], "%ux%u", &width, &height);
        else if (!strcmp(argv[i], "--style") && i + 1 < argc) style = argv[++i];
        else if (!strcmp(argv[i], "--mix") && i + 1 < argc) mix = argv[++i];
        else if (!strcmp(argv[i], "--token") && i + 1 < argc) options.token = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--shm")) options.shared_memory = 1;
        else if (!strcmp(argv[i], "--latest")) options.mode = FS_LATEST;
        else if (!strcmp(argv[i], "--check-invert")) check_invert = 1;
        else {
            fprintf(stderr, "framestyle_example: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    options.slot_bytes = (uint32_t)fs_body_size(width, height, width * 4u, FS_PLANE_F16, FS_PLANE_F32);

    fs_client client;
    if (fs_connect(&client, argv[1], &options) != FS_OK) {
        fprintf(stderr, "framestyle_example: %s\n", client.error);
        return 1;
    }
    printf("connected: protocol %u, %u in flight, %s, styles:", client.version, client.in_flight,
           client.shm ? "shared memory" : "socket");
    for (unsigned i = 0; i < client.style_count; i++) printf(" %s", client.style_names[i]);
    printf("\n");
    int style_index = style ? fs_style_index(&client, style) : (int)FS_DEFAULT_STYLE;
    if (style_index < 0) {
        fprintf(stderr, "framestyle_example: the server has no style %s\n", style);
        fs_close(&client);
        return 1;
    }
    fs_frame mixed = fs_default_frame();
    if (mix && parse_mix(&client, mix, &mixed) != 0) {
        fprintf(stderr, "framestyle_example: --mix %s: give up to %d NAME=WEIGHT parts of the server's styles\n",
                mix, FS_MAX_MIX);
        fs_close(&client);
        return 1;
    }

    size_t pixels_size = (size_t)width * height * 4u;
    unsigned char *inputs = malloc(pixels_size * FS_MAX_IN_FLIGHT), *result = malloc(pixels_size);
    uint16_t *motion = malloc((size_t)width * height * 2u * sizeof(uint16_t));
    float *depth = malloc((size_t)width * height * sizeof(float));
    double *round_trips = malloc(frames * sizeof(double)), *sent_at = malloc(frames * sizeof(double));
    if (!inputs || !result || !motion || !depth || !round_trips || !sent_at) return 1;
    for (size_t i = 0; i < (size_t)width * height; i++) {
        motion[2 * i] = fs_float_to_half(-2.0f);  /* each pixel shows what was 2 pixels to its left before */
        motion[2 * i + 1] = fs_float_to_half(0.0f);
        depth[i] = 5.0f + (float)(i % width) / (float)width;
    }

    unsigned sent = 0, results = 0, dropped = 0, failed = 0, timed = 0;
    double server_us = 0;
    int status = FS_OK;
    while (status == FS_OK && (sent < frames || client.pending_count > 0)) {
        if (sent < frames && client.pending_count < client.in_flight) {
            unsigned char *input = inputs + (size_t)(sent % FS_MAX_IN_FLIGHT) * pixels_size;
            render(input, width, height, sent);
            fs_frame frame = fs_default_frame();
            frame.frame_id = sent;
            frame.timestamp = (uint64_t)(now_ms() * 1000.0);
            frame.width = width;
            frame.height = height;
            frame.stride = width * 4u;
            frame.pixel_format = FS_BGRA8;
            frame.origin = FS_BOTTOM_UP;
            frame.style = (uint16_t)style_index;
            frame.mix_count = mixed.mix_count;
            memcpy(frame.mix, mixed.mix, sizeof frame.mix);
            frame.flags = FS_FLAG_TEMPORAL | (sent == 0 ? FS_FLAG_RESET : 0);
            frame.pixels = input;
            frame.motion_type = FS_PLANE_F16;
            frame.motion = motion;
            frame.depth_type = FS_PLANE_F32;
            frame.depth = depth;
            sent_at[sent] = now_ms();
            status = fs_send_frame(&client, &frame);
            sent++;
            continue;
        }
        fs_reply reply;
        status = fs_receive(&client, &reply, result, pixels_size);
        if (status != FS_OK) break;
        if (reply.kind == FS_REPLY_DROPPED) { dropped++; continue; }
        if (reply.kind == FS_REPLY_ERROR) {
            fprintf(stderr, "frame %llu failed: %s\n", (unsigned long long)reply.frame_id, reply.message);
            failed++;
            continue;
        }
        round_trips[timed++] = now_ms() - sent_at[reply.frame_id];
        server_us += reply.queue_us + reply.process_us;
        results++;
        if (check_invert) {
            const unsigned char *input = inputs + (size_t)(reply.frame_id % FS_MAX_IN_FLIGHT) * pixels_size;
            for (size_t i = 0; i < pixels_size; i++) {
                unsigned char expected = i % 4 == 3 ? input[i] : (unsigned char)(255 - input[i]);
                if (result[i] != expected) {
                    fprintf(stderr, "frame %llu: byte %zu is %u, expected %u\n", (unsigned long long)reply.frame_id,
                            i, result[i], expected);
                    fs_close(&client);
                    return 1;
                }
            }
        }
    }
    if (status != FS_OK) {
        fprintf(stderr, "framestyle_example: %s\n", client.error);
        fs_close(&client);
        return 1;
    }
    fs_close(&client);
    qsort(round_trips, timed, sizeof(double), compare_doubles);
    printf("frames %u: %u stylized, %u dropped, %u failed; round trip p50 %.2f ms; server time mean %.2f ms\n",
           frames, results, dropped, failed, timed ? round_trips[timed / 2] : 0.0,
           results ? server_us / results / 1000.0 : 0.0);
    if (out && results && write_ppm(out, result, width, height) != 0) {
        fprintf(stderr, "framestyle_example: cannot write %s\n", out);
        return 1;
    }
    free(inputs);
    free(result);
    free(motion);
    free(depth);
    free(round_trips);
    free(sent_at);
    return failed ? 1 : 0;
}
