/* framestyle_client.h - a header-only C client for `stylize serve`, protocol version 1 (docs/protocol.md).
 *
 * C99 and POSIX sockets (Linux, macOS); shared memory needs /dev/shm or shm_open. Every function is static, so
 * the header can be included in any number of files. No allocation happens per frame.
 *
 *     fs_client client;
 *     fs_options options = fs_default_options();
 *     if (fs_connect(&client, "unix:/tmp/framestyle.sock", &options) != FS_OK) { puts(client.error); ... }
 *     fs_frame frame = fs_default_frame();
 *     frame.frame_id = 1; frame.width = w; frame.height = h; frame.stride = w * 4;
 *     frame.pixel_format = FS_BGRA8; frame.origin = FS_BOTTOM_UP; frame.pixels = rgba;
 *     // optional, when client.capabilities has FS_CAP_STYLE_MIX: a mix of styles of one shared network
 *     frame.mix_count = 2; frame.mix[0].style = 0; frame.mix[0].weight = 0.7f;
 *     frame.mix[1].style = 2; frame.mix[1].weight = 0.3f;
 *     fs_send_frame(&client, &frame);                     // up to client.in_flight frames before receiving
 *     fs_reply reply;
 *     fs_receive(&client, &reply, out, out_capacity);    // RESULT (pixels in out), DROPPED or frame ERROR
 *     fs_close(&client);
 *
 * Functions return FS_OK (0) or a negative FS_ERR_* code with a one-line message in client->error; after
 * FS_ERR_IO, FS_ERR_PROTOCOL, FS_ERR_SERVER or FS_ERR_TIMEOUT the connection is closed.
 */
#ifndef FRAMESTYLE_CLIENT_H
#define FRAMESTYLE_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#define FS_PROTOCOL_VERSION 1
#define FS_DEFAULT_STYLE 0xFFFFu
#define FS_NO_SLOT 0xFFFFFFFFu
#define FS_MAX_IN_FLIGHT 64
#define FS_HEADER_SIZE 12
#define FS_FRAME_SIZE 56
#define FS_RESULT_SIZE 48
#define FS_MAX_MIX 4          /* styles in one frame's style mix at most */
#define FS_MIX_HEAD_SIZE 4    /* style-mix block: u16 count, u16 reserved, then the entries */
#define FS_MIX_ENTRY_SIZE 8   /* one entry: u16 style, u16 reserved, f32 weight */

enum fs_message { FS_HELLO = 0x01, FS_FRAME = 0x02, FS_PING = 0x03, FS_BYE = 0x04,
                  FS_WELCOME = 0x81, FS_RESULT = 0x82, FS_DROPPED = 0x83, FS_ERROR = 0x84, FS_PONG = 0x85 };
enum fs_pixel_format { FS_RGBA8 = 1, FS_BGRA8 = 2, FS_RGB8 = 3, FS_BGR8 = 4 };
enum fs_origin { FS_TOP_DOWN = 0, FS_BOTTOM_UP = 1 };
enum fs_plane { FS_PLANE_NONE = 0, FS_PLANE_F16 = 1, FS_PLANE_F32 = 2 };
enum fs_mode { FS_ORDERED = 0, FS_LATEST = 1 };
enum fs_frame_flag { FS_FLAG_TEMPORAL = 1, FS_FLAG_RESET = 2, FS_FLAG_PRESERVE_COLOR = 4,
                     FS_FLAG_MIX = 8 /* set by fs_send_frame when the frame has a mix */ };
enum fs_capability { FS_CAP_MOTION = 1, FS_CAP_DEPTH = 2, FS_CAP_SHARED_MEMORY = 4, FS_CAP_LATEST = 8,
                     FS_CAP_FLOAT16 = 16, FS_CAP_STYLE_MIX = 32 };
enum fs_reply_kind { FS_REPLY_RESULT = 1, FS_REPLY_DROPPED = 2, FS_REPLY_ERROR = 3 };
enum fs_status { FS_OK = 0, FS_ERR_IO = -1, FS_ERR_PROTOCOL = -2, FS_ERR_SERVER = -3, FS_ERR_ARGUMENT = -4,
                 FS_ERR_TIMEOUT = -5 };
enum fs_error_code { FS_E_MALFORMED = 1, FS_E_UNSUPPORTED_VERSION, FS_E_UNAUTHORIZED, FS_E_TOO_LARGE,
                     FS_E_UNEXPECTED, FS_E_TOO_MANY_IN_FLIGHT, FS_E_UNKNOWN_STYLE, FS_E_BAD_SLOT, FS_E_TIMEOUT,
                     FS_E_BUSY, FS_E_SHUTTING_DOWN, FS_E_PROCESSING_FAILED, FS_E_INTERNAL };

typedef struct {
    const char *token;       /* the server's token, or NULL */
    const char *name;        /* shown in the server's reports, or NULL */
    int mode;                /* FS_ORDERED or FS_LATEST */
    unsigned in_flight;      /* frames to keep in flight at most, 1..FS_MAX_IN_FLIGHT */
    int shared_memory;       /* ask for shared-memory slots (same machine only) */
    uint32_t slot_bytes;     /* with shared memory: the largest frame body (fs_body_size) */
    int timeout_ms;          /* for connecting and for each reply */
} fs_options;

typedef struct {
    uint16_t style;          /* index into client->style_names */
    float weight;            /* finite, >= 0; the server scales a mix's weights to sum to 1 */
} fs_mix_entry;

typedef struct {
    uint64_t frame_id;       /* unique among the frames in flight */
    uint64_t timestamp;      /* echoed in the reply */
    uint32_t width, height;
    uint32_t stride;         /* bytes per pixel row in `pixels` */
    uint8_t pixel_format;    /* enum fs_pixel_format */
    uint8_t origin;          /* enum fs_origin */
    uint8_t motion_type;     /* enum fs_plane: two values per pixel, backward, see docs/protocol.md */
    uint8_t depth_type;      /* enum fs_plane: linear view depth */
    uint16_t style;          /* index into client->style_names, or FS_DEFAULT_STYLE */
    uint16_t flags;          /* enum fs_frame_flag */
    float strength;          /* 0..1 */
    float motion_scale_x, motion_scale_y;
    const void *pixels;      /* height rows of stride bytes */
    const void *motion;      /* width * height * 2 values, rows in the pixels' order, or NULL */
    const void *depth;       /* width * height values, or NULL */
    unsigned mix_count;      /* 0, or 1..FS_MAX_MIX styles mixed in place of `style` (FS_CAP_STYLE_MIX servers) */
    fs_mix_entry mix[FS_MAX_MIX];
} fs_frame;

typedef struct {
    int kind;                /* enum fs_reply_kind */
    uint64_t frame_id, timestamp;
    uint32_t width, height, stride;
    uint8_t pixel_format, origin;
    uint16_t style;
    uint32_t queue_us, process_us;
    uint16_t error_code;     /* FS_REPLY_ERROR: enum fs_error_code */
    char message[1025];      /* FS_REPLY_ERROR: the server's message */
} fs_reply;

typedef struct {
    uint64_t frame_id, order;
    uint32_t slot, width, height, stride;
    uint8_t pixel_format, used;
} fs_pending_frame;

typedef struct {
    int fd;
    int timeout_ms;
    uint16_t version, mode, in_flight, style_count, default_style;
    uint32_t capabilities, max_width, max_height, max_pixels;
    char **style_names, **style_titles;  /* point into `welcome` */
    unsigned char *welcome;
    unsigned char *shm;
    size_t shm_size;
    uint32_t shm_slots, shm_slot_bytes;
    unsigned char slot_busy[FS_MAX_IN_FLIGHT];
    fs_pending_frame pending[FS_MAX_IN_FLIGHT];
    unsigned pending_count;
    uint64_t order;
    uint16_t server_error;   /* the code of the last fatal server error, else 0 */
    char error[1200];
} fs_client;

/* --- small helpers --------------------------------------------------------------------------------------------- */

static inline fs_options fs_default_options(void) {
    fs_options options = {NULL, "framestyle-c", FS_ORDERED, 2, 0, 0, 30000};
    return options;
}

static inline fs_frame fs_default_frame(void) {
    fs_frame frame;
    memset(&frame, 0, sizeof frame);
    frame.style = FS_DEFAULT_STYLE;
    frame.flags = FS_FLAG_TEMPORAL;
    frame.strength = 1.0f;
    frame.motion_scale_x = frame.motion_scale_y = 1.0f;
    return frame;
}

static inline size_t fs_align16(size_t n) { return (n + 15u) & ~(size_t)15u; }
static inline size_t fs_plane_item(int type) { return type == FS_PLANE_F16 ? 2u : type == FS_PLANE_F32 ? 4u : 0u; }
static inline unsigned fs_channels(int format) { return format == FS_RGB8 || format == FS_BGR8 ? 3u : 4u; }

/* Offsets of the motion and depth planes in a frame body, and the body's size (docs/protocol.md, "Frame body"). */
static inline size_t fs_body_layout(uint32_t width, uint32_t height, uint32_t stride, int motion_type,
                                    int depth_type, size_t *motion_offset, size_t *depth_offset) {
    size_t pixels = (size_t)stride * height;
    size_t motion_bytes = (size_t)width * height * 2u * fs_plane_item(motion_type);
    size_t motion_at = motion_bytes ? fs_align16(pixels) : pixels;
    size_t depth_bytes = (size_t)width * height * fs_plane_item(depth_type);
    size_t depth_at = depth_bytes ? fs_align16(motion_at + motion_bytes) : motion_at + motion_bytes;
    if (motion_offset) *motion_offset = motion_at;
    if (depth_offset) *depth_offset = depth_at;
    return depth_at + depth_bytes;
}

static inline size_t fs_body_size(uint32_t width, uint32_t height, uint32_t stride, int motion_type,
                                  int depth_type) {
    return fs_body_layout(width, height, stride, motion_type, depth_type, NULL, NULL);
}

/* IEEE 754 single to half (round to nearest even), for float16 motion vectors and depth. */
static inline uint16_t fs_float_to_half(float value) {
    uint32_t f;
    memcpy(&f, &value, 4);
    uint32_t sign = (f >> 16) & 0x8000u, exponent = (f >> 23) & 0xFFu, mantissa = f & 0x7FFFFFu;
    if (exponent == 0xFFu) return (uint16_t)(sign | 0x7C00u | (mantissa ? 0x200u : 0u));
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mantissa |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e), half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1u);
        uint32_t midpoint = 1u << (shift - 1u);
        if (rest > midpoint || (rest == midpoint && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mantissa >> 13), rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++;
    return (uint16_t)half;
}

static inline const char *fs_error_name(unsigned code) {
    static const char *names[] = {"UNKNOWN", "MALFORMED", "UNSUPPORTED_VERSION", "UNAUTHORIZED", "TOO_LARGE",
                                  "UNEXPECTED", "TOO_MANY_IN_FLIGHT", "UNKNOWN_STYLE", "BAD_SLOT", "TIMEOUT",
                                  "BUSY", "SHUTTING_DOWN", "PROCESSING_FAILED", "INTERNAL"};
    return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN";
}

static inline void fs__put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void fs__put32(unsigned char *p, uint32_t v) { fs__put16(p, (uint16_t)v); fs__put16(p + 2, (uint16_t)(v >> 16)); }
static inline void fs__put64(unsigned char *p, uint64_t v) { fs__put32(p, (uint32_t)v); fs__put32(p + 4, (uint32_t)(v >> 32)); }
static inline void fs__putf(unsigned char *p, float v) { uint32_t u; memcpy(&u, &v, 4); fs__put32(p, u); }
static inline uint16_t fs__get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fs__get32(const unsigned char *p) { return fs__get16(p) | ((uint32_t)fs__get16(p + 2) << 16); }
static inline uint64_t fs__get64(const unsigned char *p) { return fs__get32(p) | ((uint64_t)fs__get32(p + 4) << 32); }

static inline void fs__header(unsigned char *p, uint16_t type, uint32_t length) {
    memcpy(p, "FSTY", 4);
    fs__put16(p + 4, type);
    fs__put16(p + 6, 0);
    fs__put32(p + 8, length);
}

static inline void fs__drop_connection(fs_client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static inline int fs__fail(fs_client *c, int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(c->error, sizeof c->error, format, args);
    va_end(args);
    if (status != FS_ERR_ARGUMENT) fs__drop_connection(c);
    return status;
}

static inline int fs__wait(fs_client *c, short events) {
    struct pollfd p;
    p.fd = c->fd;
    p.events = events;
    p.revents = 0;
    int ready;
    do ready = poll(&p, 1, c->timeout_ms); while (ready < 0 && errno == EINTR);
    if (ready == 0) return fs__fail(c, FS_ERR_TIMEOUT, "no progress from the server within %d ms", c->timeout_ms);
    if (ready < 0) return fs__fail(c, FS_ERR_IO, "poll: %s", strerror(errno));
    return FS_OK;
}

static inline int fs__write(fs_client *c, const void *data, size_t size) {
    const unsigned char *p = (const unsigned char *)data;
#ifdef MSG_NOSIGNAL
    const int flags = MSG_NOSIGNAL;
#else
    const int flags = 0;
#endif
    while (size) {
        int status = fs__wait(c, POLLOUT);
        if (status) return status;
        ssize_t sent = send(c->fd, p, size, flags);
        if (sent < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (sent < 0) return fs__fail(c, FS_ERR_IO, "send: %s", strerror(errno));
        p += sent;
        size -= (size_t)sent;
    }
    return FS_OK;
}

static inline int fs__zeros(fs_client *c, size_t size) {
    static const unsigned char zeros[16] = {0};
    return size ? fs__write(c, zeros, size) : FS_OK;
}

static inline int fs__read(fs_client *c, void *data, size_t size) {
    unsigned char *p = (unsigned char *)data;
    while (size) {
        int status = fs__wait(c, POLLIN);
        if (status) return status;
        ssize_t got = recv(c->fd, p, size, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got < 0) return fs__fail(c, FS_ERR_IO, "recv: %s", strerror(errno));
        if (got == 0) return fs__fail(c, FS_ERR_IO, "the server closed the connection");
        p += got;
        size -= (size_t)got;
    }
    return FS_OK;
}

static inline int fs__skip(fs_client *c, size_t size) {
    unsigned char scratch[4096];
    while (size) {
        size_t part = size < sizeof scratch ? size : sizeof scratch;
        int status = fs__read(c, scratch, part);
        if (status) return status;
        size -= part;
    }
    return FS_OK;
}

/* Reads a message header; checks magic, flags, and that the type is a server message no longer than `limit`. */
static inline int fs__read_header(fs_client *c, uint16_t *type, uint32_t *length, uint64_t frame_limit) {
    unsigned char h[FS_HEADER_SIZE];
    int status = fs__read(c, h, sizeof h);
    if (status) return status;
    if (memcmp(h, "FSTY", 4) != 0 || fs__get16(h + 6) != 0)
        return fs__fail(c, FS_ERR_PROTOCOL, "the server sent a message with a bad header");
    *type = fs__get16(h + 4);
    *length = fs__get32(h + 8);
    uint64_t limit = *type == FS_RESULT ? FS_RESULT_SIZE + frame_limit : *type == FS_WELCOME ? 600000u
                   : *type == FS_ERROR ? 16u + 1024u : *type == FS_DROPPED ? 24u : *type == FS_PONG ? 8u : 0u;
    if (limit == 0) return fs__fail(c, FS_ERR_PROTOCOL, "unexpected message type 0x%02x from the server", *type);
    if (*length > limit) return fs__fail(c, FS_ERR_PROTOCOL, "a message from the server is too long");
    return FS_OK;
}

/* Turns a fatal ERROR payload into client->error. */
static inline int fs__server_error(fs_client *c, const unsigned char *payload, uint32_t length) {
    unsigned code = fs__get16(payload);
    c->server_error = (uint16_t)code;
    return fs__fail(c, FS_ERR_SERVER, "server error %s: %.*s", fs_error_name(code), (int)(length - 16u),
                    (const char *)payload + 16);
}

static inline void fs_close(fs_client *c);

/* --- connecting ------------------------------------------------------------------------------------------------- */

static inline int fs__open_socket(fs_client *c, const char *address) {
    if (strncmp(address, "unix:", 5) == 0) {
        struct sockaddr_un where;
        memset(&where, 0, sizeof where);
        where.sun_family = AF_UNIX;
        if (strlen(address + 5) >= sizeof where.sun_path)
            return fs__fail(c, FS_ERR_ARGUMENT, "%s: socket path too long", address);
        strcpy(where.sun_path, address + 5);
        c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&where, sizeof where) != 0)
            return fs__fail(c, FS_ERR_IO, "cannot connect to %s: %s", address, strerror(errno));
        int buffer = 4 << 20;  /* whole frames in one go (the kernel caps it) */
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        return FS_OK;
    }
    char host[256];
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || (size_t)(colon - address) >= sizeof host || !colon[1])
        return fs__fail(c, FS_ERR_ARGUMENT, "%s: give HOST:PORT or unix:PATH", address);
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = 0;
    if (host[0] == '[') {  /* [IPv6]:port */
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']') return fs__fail(c, FS_ERR_ARGUMENT, "%s: bad IPv6 address", address);
        memmove(host, host + 1, n - 2);
        host[n - 2] = 0;
    }
    struct addrinfo hints, *found = NULL, *each;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int resolved = getaddrinfo(host, colon + 1, &hints, &found);
    if (resolved != 0) return fs__fail(c, FS_ERR_IO, "cannot resolve %s: %s", host, gai_strerror(resolved));
    for (each = found; each; each = each->ai_next) {
        c->fd = socket(each->ai_family, each->ai_socktype, each->ai_protocol);
        if (c->fd >= 0 && connect(c->fd, each->ai_addr, each->ai_addrlen) == 0) break;
        if (c->fd >= 0) close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(found);
    if (c->fd < 0) return fs__fail(c, FS_ERR_IO, "cannot connect to %s: %s", address, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return FS_OK;
}

static inline int fs__parse_welcome(fs_client *c, unsigned char *p, uint32_t length) {
    if (length < 40) return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME is too short");
    c->version = fs__get16(p);
    c->mode = fs__get16(p + 2);
    c->in_flight = fs__get16(p + 4);
    uint16_t flags = fs__get16(p + 6);
    c->capabilities = fs__get32(p + 8);
    c->max_width = fs__get32(p + 12);
    c->max_height = fs__get32(p + 16);
    c->max_pixels = fs__get32(p + 20);
    c->shm_slot_bytes = fs__get32(p + 24);
    c->shm_slots = fs__get16(p + 28);
    c->default_style = fs__get16(p + 30);
    c->style_count = fs__get16(p + 32);
    uint32_t shm_length = fs__get16(p + 34), server_length = fs__get16(p + 36);
    if (c->in_flight < 1 || c->in_flight > FS_MAX_IN_FLIGHT || c->style_count < 1
        || c->default_style >= c->style_count || shm_length > 255 || server_length > 255
        || 40u + shm_length + server_length > length)
        return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME has fields out of range");
    char shm_name[256];
    memcpy(shm_name, p + 40, shm_length);
    shm_name[shm_length] = 0;
    /* The style texts become NUL-terminated strings in place (each is moved over its length field), so the
     * payload buffer, kept until fs_close, holds them all. */
    c->style_names = (char **)calloc(2u * c->style_count, sizeof(char *));
    if (!c->style_names) return fs__fail(c, FS_ERR_IO, "out of memory");
    c->style_titles = c->style_names + c->style_count;
    uint32_t at = 40u + shm_length + server_length;
    for (unsigned i = 0; i < 2u * c->style_count; i++) {
        if (at + 2u > length) return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME style list is truncated");
        uint32_t n = fs__get16(p + at);
        if (n > 255 || at + 2u + n > length) return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME style list is truncated");
        memmove(p + at, p + at + 2u, n);
        p[at + n] = 0;
        if (i % 2 == 0) c->style_names[i / 2] = (char *)p + at;
        else c->style_titles[i / 2] = (char *)p + at;
        at += 2u + n;
    }
    if (at != length) return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME is longer than its fields");
    if (!(flags & 1u)) return FS_OK;
    if (c->shm_slots < 1 || c->shm_slots > c->in_flight || c->shm_slot_bytes < 1 || shm_length == 0)
        return fs__fail(c, FS_ERR_PROTOCOL, "WELCOME shared memory fields disagree");
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", shm_name);
    int fd = open(path, O_RDWR);
    if (fd < 0) return fs__fail(c, FS_ERR_IO, "cannot open shared memory %s: %s", path, strerror(errno));
    c->shm_size = (size_t)c->shm_slots * c->shm_slot_bytes;
    struct stat info;
    if (fstat(fd, &info) != 0 || (size_t)info.st_size < c->shm_size) {
        close(fd);
        return fs__fail(c, FS_ERR_PROTOCOL, "shared memory %s is smaller than announced", path);
    }
    void *mapped = mmap(NULL, c->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mapped == MAP_FAILED) return fs__fail(c, FS_ERR_IO, "cannot map shared memory: %s", strerror(errno));
    c->shm = (unsigned char *)mapped;
    return FS_OK;
}

/* Connects to "HOST:PORT" or "unix:PATH" and shakes hands. On failure client->error says why (and
 * client->server_error holds the server's code if it refused, e.g. FS_E_UNAUTHORIZED or FS_E_BUSY). */
static inline int fs_connect(fs_client *c, const char *address, const fs_options *options) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 30000;
    size_t token_length = options->token ? strlen(options->token) : 0;
    size_t name_length = options->name ? strlen(options->name) : 0;
    if (token_length > 255 || name_length > 255 || options->in_flight < 1 || options->in_flight > FS_MAX_IN_FLIGHT
        || (options->shared_memory && options->slot_bytes == 0))
        return fs__fail(c, FS_ERR_ARGUMENT, "bad options: token and name up to 255 bytes, in_flight 1..%d, "
                        "slot_bytes with shared memory", FS_MAX_IN_FLIGHT);
    int status = fs__open_socket(c, address);
    if (status) return status;
    unsigned char hello[FS_HEADER_SIZE + 20 + 255 + 255];
    uint32_t length = (uint32_t)(20 + token_length + name_length);
    fs__header(hello, FS_HELLO, length);
    unsigned char *p = hello + FS_HEADER_SIZE;
    fs__put16(p, 1);
    fs__put16(p + 2, FS_PROTOCOL_VERSION);
    fs__put16(p + 4, (uint16_t)options->mode);
    fs__put16(p + 6, (uint16_t)options->in_flight);
    fs__put16(p + 8, options->shared_memory ? 1 : 0);
    fs__put16(p + 10, (uint16_t)token_length);
    fs__put16(p + 12, (uint16_t)name_length);
    fs__put16(p + 14, 0);
    fs__put32(p + 16, options->shared_memory ? options->slot_bytes : 0);
    if (token_length) memcpy(p + 20, options->token, token_length);
    if (name_length) memcpy(p + 20 + token_length, options->name, name_length);
    if ((status = fs__write(c, hello, FS_HEADER_SIZE + length))) return status;
    uint16_t type = 0;
    if ((status = fs__read_header(c, &type, &length, 0))) return status;
    if (type != FS_WELCOME && type != FS_ERROR)
        return fs__fail(c, FS_ERR_PROTOCOL, "the server answered HELLO with message type 0x%02x", type);
    unsigned char *payload = (unsigned char *)malloc(length + 1u);
    if (!payload) return fs__fail(c, FS_ERR_IO, "out of memory");
    if ((status = fs__read(c, payload, length))) {
        free(payload);
        return status;
    }
    if (type == FS_ERROR) {
        status = length >= 16 ? fs__server_error(c, payload, length)
                              : fs__fail(c, FS_ERR_PROTOCOL, "a short ERROR from the server");
        free(payload);
        return status;
    }
    c->welcome = payload;
    status = fs__parse_welcome(c, payload, length);
    if (status) fs_close(c);
    return status;
}

/* The index of the style called `name`, or -1. */
static inline int fs_style_index(const fs_client *c, const char *name) {
    for (unsigned i = 0; i < c->style_count; i++)
        if (strcmp(c->style_names[i], name) == 0) return (int)i;
    return -1;
}

/* --- frames ----------------------------------------------------------------------------------------------------- */

/* Checks a frame's style mix against the server's offer and styles (docs/protocol.md, "Style mix"). */
static inline int fs__check_mix(fs_client *c, const fs_frame *f) {
    if (!f->mix_count) return FS_OK;
    if (!(c->capabilities & FS_CAP_STYLE_MIX))
        return fs__fail(c, FS_ERR_ARGUMENT, "the server does not take style mixes");
    if (f->mix_count > FS_MAX_MIX)
        return fs__fail(c, FS_ERR_ARGUMENT, "a style mix has 1..%d styles, got %u", FS_MAX_MIX, f->mix_count);
    double total = 0.0;
    for (unsigned i = 0; i < f->mix_count; i++) {
        float weight = f->mix[i].weight;
        if (f->mix[i].style >= c->style_count || !isfinite(weight) || weight < 0.0f)
            return fs__fail(c, FS_ERR_ARGUMENT, "style mix entry %u: style out of range, or a weight that is "
                            "negative or not finite", i);
        total += weight;
    }
    if (!(total > 0.0)) return fs__fail(c, FS_ERR_ARGUMENT, "the style mix's weights sum to zero");
    return FS_OK;
}

/* Writes a frame's style-mix block at `p`; returns its size (0 without a mix). */
static inline size_t fs__put_mix(unsigned char *p, const fs_frame *f) {
    if (!f->mix_count) return 0;
    fs__put16(p, (uint16_t)f->mix_count);
    fs__put16(p + 2, 0);
    for (unsigned i = 0; i < f->mix_count; i++) {
        unsigned char *entry = p + FS_MIX_HEAD_SIZE + (size_t)i * FS_MIX_ENTRY_SIZE;
        fs__put16(entry, f->mix[i].style);
        fs__put16(entry + 2, 0);
        fs__putf(entry + 4, f->mix[i].weight);
    }
    return FS_MIX_HEAD_SIZE + (size_t)f->mix_count * FS_MIX_ENTRY_SIZE;
}

/* Sends one frame (through a shared-memory slot when granted), with its style mix if it has one. Fails with
 * FS_ERR_ARGUMENT, sending nothing, if client->in_flight frames already await replies (call fs_receive first) or
 * a field is out of range. */
static inline int fs_send_frame(fs_client *c, const fs_frame *f) {
    if (c->fd < 0) return fs__fail(c, FS_ERR_ARGUMENT, "not connected");
    if (c->pending_count >= c->in_flight)
        return fs__fail(c, FS_ERR_ARGUMENT, "%u frames already in flight: receive a reply first", c->in_flight);
    unsigned channels = fs_channels(f->pixel_format);
    if (f->pixel_format < FS_RGBA8 || f->pixel_format > FS_BGR8 || f->width < 1 || f->height < 1
        || f->width > c->max_width || f->height > c->max_height || (uint64_t)f->width * f->height > c->max_pixels
        || f->stride < f->width * channels || f->stride >= f->width * channels + 1024u || !f->pixels
        || f->motion_type > FS_PLANE_F32 || f->depth_type > FS_PLANE_F32 || (f->motion_type && !f->motion)
        || (f->depth_type && !f->depth) || (f->depth_type && !f->motion_type))
        return fs__fail(c, FS_ERR_ARGUMENT, "frame %llu: size, stride, format or planes out of range",
                        (unsigned long long)f->frame_id);
    int status = fs__check_mix(c, f);
    if (status) return status;
    size_t motion_at, depth_at;
    size_t body = fs_body_layout(f->width, f->height, f->stride, f->motion_type, f->depth_type, &motion_at,
                                 &depth_at);
    size_t pixels = (size_t)f->stride * f->height;
    size_t motion_bytes = (size_t)f->width * f->height * 2u * fs_plane_item(f->motion_type);
    size_t depth_bytes = (size_t)f->width * f->height * fs_plane_item(f->depth_type);
    uint32_t slot = FS_NO_SLOT;
    if (c->shm) {
        if (body > c->shm_slot_bytes)
            return fs__fail(c, FS_ERR_ARGUMENT, "a frame body of %zu bytes does not fit the %u-byte slots", body,
                            c->shm_slot_bytes);
        for (slot = 0; slot < c->shm_slots && c->slot_busy[slot]; slot++) {}
        if (slot == c->shm_slots) return fs__fail(c, FS_ERR_ARGUMENT, "no free shared-memory slot");
        unsigned char *base = c->shm + (size_t)slot * c->shm_slot_bytes;
        memcpy(base, f->pixels, pixels);
        if (motion_bytes) memcpy(base + motion_at, f->motion, motion_bytes);
        if (depth_bytes) memcpy(base + depth_at, f->depth, depth_bytes);
    }
    unsigned char h[FS_HEADER_SIZE + FS_FRAME_SIZE + FS_MIX_HEAD_SIZE + FS_MAX_MIX * FS_MIX_ENTRY_SIZE];
    unsigned char *p = h + FS_HEADER_SIZE;
    size_t mix_bytes = fs__put_mix(p + FS_FRAME_SIZE, f);
    fs__header(h, FS_FRAME, (uint32_t)(FS_FRAME_SIZE + mix_bytes + (c->shm ? 0 : body)));
    fs__put64(p, f->frame_id);
    fs__put64(p + 8, f->timestamp);
    fs__put32(p + 16, f->width);
    fs__put32(p + 20, f->height);
    fs__put32(p + 24, f->stride);
    p[28] = f->pixel_format;
    p[29] = f->origin;
    p[30] = f->motion_type;
    p[31] = f->depth_type;
    fs__put16(p + 32, f->mix_count ? (uint16_t)FS_DEFAULT_STYLE : f->style);
    fs__put16(p + 34, (uint16_t)(f->mix_count ? f->flags | FS_FLAG_MIX : f->flags & ~FS_FLAG_MIX));
    fs__putf(p + 36, f->strength);
    fs__putf(p + 40, f->motion_scale_x);
    fs__putf(p + 44, f->motion_scale_y);
    fs__put32(p + 48, slot);
    fs__put32(p + 52, 0);
    status = fs__write(c, h, FS_HEADER_SIZE + FS_FRAME_SIZE + mix_bytes);
    if (!status && !c->shm) {
        status = fs__write(c, f->pixels, pixels);
        if (!status && motion_bytes) status = fs__zeros(c, motion_at - pixels);
        if (!status && motion_bytes) status = fs__write(c, f->motion, motion_bytes);
        if (!status && depth_bytes) status = fs__zeros(c, depth_at - (motion_at + motion_bytes));
        if (!status && depth_bytes) status = fs__write(c, f->depth, depth_bytes);
    }
    if (status) return status;
    for (unsigned i = 0; i < FS_MAX_IN_FLIGHT; i++) {
        if (c->pending[i].used) continue;
        fs_pending_frame entry = {f->frame_id, c->order++, slot, f->width, f->height, f->stride, f->pixel_format, 1};
        c->pending[i] = entry;
        break;
    }
    if (slot != FS_NO_SLOT) c->slot_busy[slot] = 1;
    c->pending_count++;
    return FS_OK;
}

/* Finds the pending frame `frame_id`; `in_order` requires it to be the oldest. */
static inline fs_pending_frame *fs__pending(fs_client *c, uint64_t frame_id, int in_order) {
    fs_pending_frame *found = NULL, *oldest = NULL;
    for (unsigned i = 0; i < FS_MAX_IN_FLIGHT; i++) {
        fs_pending_frame *entry = &c->pending[i];
        if (!entry->used) continue;
        if (entry->frame_id == frame_id) found = entry;
        if (!oldest || entry->order < oldest->order) oldest = entry;
    }
    return found && (!in_order || found == oldest) ? found : NULL;
}

static inline void fs__settle(fs_client *c, fs_pending_frame *entry) {
    if (entry->slot != FS_NO_SLOT) c->slot_busy[entry->slot] = 0;
    entry->used = 0;
    c->pending_count--;
}

/* Waits for the next reply. For a RESULT, the stylized pixels (height rows of stride bytes, in the frame's format
 * and origin) are copied to `pixels` if it is not NULL and holds `capacity` bytes or more. Replies come in frame
 * order, except that in FS_LATEST mode a DROPPED may come before the RESULT of an earlier frame. */
static inline int fs_receive(fs_client *c, fs_reply *r, void *pixels, size_t capacity) {
    if (c->fd < 0) return fs__fail(c, FS_ERR_ARGUMENT, "not connected");
    if (c->pending_count == 0) return fs__fail(c, FS_ERR_ARGUMENT, "no frame awaits a reply");
    memset(r, 0, sizeof *r);
    uint16_t type = 0;
    uint32_t length = 0;
    uint64_t frame_limit = (uint64_t)c->max_pixels * 4u + (uint64_t)c->max_height * 1023u;
    int status = fs__read_header(c, &type, &length, frame_limit);
    if (status) return status;
    unsigned char p[16 + 1024];
    if (type == FS_RESULT) {
        if (length < FS_RESULT_SIZE) return fs__fail(c, FS_ERR_PROTOCOL, "a short RESULT");
        if ((status = fs__read(c, p, FS_RESULT_SIZE))) return status;
        r->kind = FS_REPLY_RESULT;
        r->frame_id = fs__get64(p);
        r->timestamp = fs__get64(p + 8);
        r->width = fs__get32(p + 16);
        r->height = fs__get32(p + 20);
        r->stride = fs__get32(p + 24);
        r->pixel_format = p[28];
        r->origin = p[29];
        r->style = fs__get16(p + 30);
        uint32_t slot = fs__get32(p + 32);
        r->queue_us = fs__get32(p + 36);
        r->process_us = fs__get32(p + 40);
        fs_pending_frame *entry = fs__pending(c, r->frame_id, 1);
        size_t bytes = (size_t)r->stride * r->height;
        if (!entry || entry->width != r->width || entry->height != r->height || entry->stride != r->stride
            || entry->pixel_format != r->pixel_format || entry->slot != slot
            || length != FS_RESULT_SIZE + (slot == FS_NO_SLOT ? bytes : 0))
            return fs__fail(c, FS_ERR_PROTOCOL, "a RESULT that does not answer the oldest frame in flight");
        int fits = pixels && capacity >= bytes;
        if (slot == FS_NO_SLOT)
            status = fits ? fs__read(c, pixels, bytes) : fs__skip(c, bytes);
        else if (fits)
            memcpy(pixels, c->shm + (size_t)slot * c->shm_slot_bytes, bytes);
        if (status) return status;
        fs__settle(c, entry);
        if (pixels && !fits) return fs__fail(c, FS_ERR_ARGUMENT, "the result needs %zu bytes", bytes);
        return FS_OK;
    }
    if (type == FS_PONG) return fs__fail(c, FS_ERR_PROTOCOL, "a PONG with no PING outstanding");
    if (length > sizeof p || (type == FS_DROPPED && length != 24) || (type == FS_ERROR && length < 16))
        return fs__fail(c, FS_ERR_PROTOCOL, "a malformed reply");
    if ((status = fs__read(c, p, length))) return status;
    if (type == FS_DROPPED) {
        r->kind = FS_REPLY_DROPPED;
        r->frame_id = fs__get64(p);
        r->timestamp = fs__get64(p + 8);
        fs_pending_frame *entry = fs__pending(c, r->frame_id, 0);
        if (!entry) return fs__fail(c, FS_ERR_PROTOCOL, "DROPPED for a frame not in flight");
        fs__settle(c, entry);
        return FS_OK;
    }
    uint16_t flags = fs__get16(p + 2);
    if ((flags & 1u) || !(flags & 2u)) return fs__server_error(c, p, length);
    r->kind = FS_REPLY_ERROR;
    r->error_code = fs__get16(p);
    r->frame_id = fs__get64(p + 8);
    memcpy(r->message, p + 16, length - 16u);
    r->message[length - 16u] = 0;
    fs_pending_frame *entry = fs__pending(c, r->frame_id, 1);
    if (!entry) return fs__fail(c, FS_ERR_PROTOCOL, "an ERROR for a frame not in flight");
    fs__settle(c, entry);
    return FS_OK;
}

/* Says goodbye, closes the connection and frees everything. */
static inline void fs_close(fs_client *c) {
    if (c->fd >= 0) {
        unsigned char bye[FS_HEADER_SIZE];
        fs__header(bye, FS_BYE, 0);
        fs__write(c, bye, sizeof bye);
    }
    fs__drop_connection(c);
    if (c->shm) munmap(c->shm, c->shm_size);
    free(c->style_names);
    free(c->welcome);
    c->shm = NULL;
    c->welcome = NULL;
    c->style_names = c->style_titles = NULL;
}

#endif /* FRAMESTYLE_CLIENT_H */
