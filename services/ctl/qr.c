#include "qr.h"

#include <qrencode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onramp/error.h"
#include "onramp/file.h"

#define QUIET 4 /* modules of quiet zone around the code (ISO/IEC 18004) */

/* The code's modules; dark(q, x, y) with the quiet zone as light. */
static QRcode *encode(const char *text)
{
    /* Medium error correction: labels get scratched. Alphanumeric mode is
     * chosen by libqrencode when the text allows it (uppercase labels). */
    return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
}

static int dark(const QRcode *q, int x, int y)
{
    x -= QUIET;
    y -= QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return 0;
    return q->data[y * q->width + x] & 1;
}

int onr_qr_print(const char *text, FILE *out)
{
    QRcode *q;
    int size;

    if (text == NULL || out == NULL)
        return ONR_EINVAL;
    q = encode(text);
    if (q == NULL)
        return ONR_ENOMEM;
    size = q->width + 2 * QUIET;
    /* Light modules are drawn in the text colour (blocks), dark ones left
     * as the background (spaces): right on the usual light-on-dark
     * terminal, as `qrencode -t UTF8` does. */
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; x++) {
            int top = dark(q, x, y);
            int bottom = y + 1 < size ? dark(q, x, y + 1) : 0;

            fputs(top ? (bottom ? " " : "\u2584") : (bottom ? "\u2580" : "\u2588"), out);
        }
        fputc('\n', out);
    }
    QRcode_free(q);
    return ferror(out) ? ONR_EIO : ONR_OK;
}

/* ---- PNG ----------------------------------------------------------------- */

static uint32_t crc32(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Append a chunk (length, type, data, CRC over type and data). */
static size_t chunk(uint8_t *out, const char type[4], const uint8_t *data, size_t len)
{
    put32(out, (uint32_t)len);
    memcpy(out + 4, type, 4);
    if (len > 0)
        memcpy(out + 8, data, len);
    put32(out + 8 + len, crc32(out + 4, 4 + len, 0));
    return 12 + len;
}

/* A zlib stream of `raw` in deflate "stored" blocks (RFC 1950, 1951). */
static size_t zlib_stored(const uint8_t *raw, size_t len, uint8_t *out)
{
    uint32_t a = 1;
    uint32_t b = 0;
    size_t o = 0;

    out[o++] = 0x78; /* deflate, 32 KiB window */
    out[o++] = 0x01; /* no preset dictionary; check bits */
    for (size_t done = 0; done < len || len == 0;) {
        size_t n = len - done > 65535 ? 65535 : len - done;

        out[o++] = done + n == len ? 1 : 0; /* BFINAL, BTYPE 00 */
        out[o++] = (uint8_t)n;
        out[o++] = (uint8_t)(n >> 8);
        out[o++] = (uint8_t)~n;
        out[o++] = (uint8_t)(~n >> 8);
        memcpy(out + o, raw + done, n);
        o += n;
        done += n;
        if (len == 0)
            break;
    }
    for (size_t i = 0; i < len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    put32(out + o, b << 16 | a);
    return o + 4;
}

int onr_qr_write_png(const char *text, const char *path, int scale)
{
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    QRcode *q = NULL;
    uint8_t *raw = NULL;
    uint8_t *png = NULL;
    uint8_t ihdr[13];
    size_t side;
    size_t row;
    size_t raw_len;
    size_t cap;
    size_t len = 0;
    int rc = ONR_ENOMEM;

    if (text == NULL || path == NULL || scale < 1 || scale > 32)
        return ONR_EINVAL;
    q = encode(text);
    if (q == NULL)
        return ONR_ENOMEM;
    side = (size_t)(q->width + 2 * QUIET) * (size_t)scale;
    row = 1 + (side + 7) / 8; /* filter byte, then 1 bit per pixel */
    raw_len = row * side;
    raw = calloc(1, raw_len);
    cap = sizeof(signature) + 3 * 12 + 13 + raw_len + raw_len / 65535 * 5 + 16;
    png = malloc(cap);
    if (raw == NULL || png == NULL)
        goto out;
    /* Grayscale, 1 bit: 1 is white. Filter type 0 on every row. */
    for (size_t y = 0; y < side; y++) {
        for (size_t x = 0; x < side; x++) {
            if (!dark(q, (int)(x / (size_t)scale), (int)(y / (size_t)scale)))
                raw[y * row + 1 + x / 8] |= (uint8_t)(0x80 >> (x % 8));
        }
    }
    memcpy(png, signature, sizeof(signature));
    len = sizeof(signature);
    put32(ihdr, (uint32_t)side);
    put32(ihdr + 4, (uint32_t)side);
    ihdr[8] = 1;  /* bit depth */
    ihdr[9] = 0;  /* grayscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    len += chunk(png + len, "IHDR", ihdr, sizeof(ihdr));
    {
        uint8_t *z = malloc(raw_len + raw_len / 65535 * 5 + 16);
        size_t z_len;

        if (z == NULL)
            goto out;
        z_len = zlib_stored(raw, raw_len, z);
        len += chunk(png + len, "IDAT", z, z_len);
        free(z);
    }
    len += chunk(png + len, "IEND", NULL, 0);
    rc = onr_file_write_atomic(path, png, len, ONR_FILE_PUBLIC);
out:
    free(png);
    free(raw);
    QRcode_free(q);
    return rc;
}
