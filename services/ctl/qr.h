/*
 * Label QR codes, for the factory and onrampctl: in a terminal and as a
 * PNG file. libqrencode makes the code; the PNG is written here (1-bit
 * grayscale, zlib "stored" blocks) so no image library is needed.
 */
#ifndef ONRAMP_QR_H
#define ONRAMP_QR_H

#include <stdio.h>

/*
 * onr_qr_print: `text` as a QR code on `out`, two modules per character
 * cell with Unicode half blocks, dark on light, with its quiet zone.
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM (or text too long for a QR code)
 * or ONR_EIO.
 */
int onr_qr_print(const char *text, FILE *out);

/*
 * onr_qr_write_png: `text` as a QR code in a PNG file at `path` (written
 * atomically, mode 0644), `scale` pixels per module (1..32).
 * Returns ONR_OK, ONR_EINVAL, ONR_ENOMEM or ONR_EIO.
 */
int onr_qr_write_png(const char *text, const char *path, int scale);

#endif /* ONRAMP_QR_H */
