/*
 * Configuration files in the mosquitto.conf style, for services, tools and
 * the device's own state directory:
 *
 *   # a comment
 *   key value
 *   provider prov-1 providers/prov-1.pub     (a key may repeat: a list)
 *
 * Keys are [a-z0-9_]+. The value is the rest of the line, trimmed; it may
 * hold spaces (onr_config_split cuts it into fields). Blank lines and
 * lines starting with '#' are ignored. Files are bounded (ONR_CONFIG_MAX
 * bytes, ONR_CONFIG_LINE_MAX per line) and must be text: a NUL or control
 * byte is an error. Relative paths in values are taken relative to the
 * file's directory (onr_config_path).
 */
#ifndef ONRAMP_CONFIG_H
#define ONRAMP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ONR_CONFIG_MAX (1024 * 1024)
#define ONR_CONFIG_LINE_MAX 4096
#define ONR_CONFIG_KEY_MAX 64

struct onr_config;

/* Where and why a file was refused. */
struct onr_config_error {
    size_t line;      /* 1-based; 0 when not about one line */
    char reason[96];
};

/*
 * onr_config_load: read and parse the file at `path`. On success *out is a
 * new configuration (free with onr_config_free). On ONR_EFORMAT, `err`
 * (if not NULL) says which line and why. Returns ONR_OK, ONR_EINVAL,
 * ONR_ENOENT, ONR_ETOOBIG, ONR_EFORMAT, ONR_ENOMEM or ONR_EIO.
 */
int onr_config_load(const char *path, struct onr_config **out, struct onr_config_error *err);

/*
 * onr_config_parse: the same for `len` bytes of `text` (borrowed); `dir`
 * (copied, may be NULL for the current directory) is where relative paths
 * are resolved from.
 */
int onr_config_parse(const char *text, size_t len, const char *dir, struct onr_config **out,
                     struct onr_config_error *err);

/* onr_config_free: accepts NULL. */
void onr_config_free(struct onr_config *cfg);

/*
 * onr_config_get: the last value of `key`, or NULL if it is absent.
 * The string lives as long as `cfg` is not changed or freed.
 */
const char *onr_config_get(const struct onr_config *cfg, const char *key);

/* onr_config_count / onr_config_at: the values of a repeated key, in file
 * order (NULL past the end). Lifetime as onr_config_get. */
size_t onr_config_count(const struct onr_config *cfg, const char *key);
const char *onr_config_at(const struct onr_config *cfg, const char *key, size_t index);

/*
 * onr_config_set: replace every value of `key` with `value` (both copied):
 * a command-line override (`-o key=value`). Returns ONR_OK, ONR_EINVAL (a
 * bad key, or a value with a control character) or ONR_ENOMEM.
 */
int onr_config_set(struct onr_config *cfg, const char *key, const char *value);

/*
 * onr_config_get_uint: the value of `key` as a decimal number in
 * [min, max], or `dflt` if absent. Returns ONR_OK, ONR_EFORMAT (not a
 * number) or ONR_ERANGE; *out is set only on ONR_OK.
 */
int onr_config_get_uint(const struct onr_config *cfg, const char *key, uint64_t dflt,
                        uint64_t min, uint64_t max, uint64_t *out);

/*
 * onr_config_path: `value` as a path: itself if absolute, else relative to
 * the configuration file's directory, into `out` (`cap` bytes).
 * Returns ONR_OK, ONR_EINVAL or ONR_ESPACE.
 */
int onr_config_path(const struct onr_config *cfg, const char *value, char *out, size_t cap);

/*
 * onr_config_check_keys: ONR_OK if every key in `cfg` is one of `known`
 * (`n` entries); otherwise ONR_EFORMAT with *unknown (if not NULL) set to
 * the first stray key (lifetime as onr_config_get), so typos are caught.
 */
int onr_config_check_keys(const struct onr_config *cfg, const char *const *known, size_t n,
                          const char **unknown);

/*
 * onr_config_split: cut `value` at runs of spaces and tabs into at most
 * `max` fields, copied into `buf` (`cap` bytes); fields[i] point into
 * `buf`; *n is the count. Returns ONR_OK, ONR_ESPACE or ONR_ERANGE (more
 * than `max` fields).
 */
int onr_config_split(const char *value, char *buf, size_t cap, const char **fields, size_t max,
                     size_t *n);

/*
 * onr_config_origin: 1 if `value` is a web origin as a browser sends it in
 * Origin (RFC 6454): http:// or https://, then a host name or address
 * with an optional port, nothing after it, at most ONR_ORIGIN_MAX bytes;
 * else 0. The pairing page's http_origin (onramp-admin's pairing_origin).
 */
#define ONR_ORIGIN_MAX 128
int onr_config_origin(const char *value);

#endif /* ONRAMP_CONFIG_H */
