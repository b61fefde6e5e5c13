/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Generic helpers: strings, buffers, vectors, files, hashing, lock files,
 * cache dirs.  The floor of the library: util.c calls nothing else of it,
 * and nothing here knows a context, a kernel or a guest.
 */
#ifndef LIBUML_UTIL_H
#define LIBUML_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* For _cleanup_(uml_freep) char *s = NULL; */
static inline void uml_freep(void *p)
{
	free(*(void **)p);
}

/*
 * The public ref/unref pair of an object with an `int refcount` member:
 * atomic, NULL-safe, unref returns NULL and calls free_fn with the last
 * reference.
 */
#define UML_DEFINE_REF_UNREF(type, name, free_fn)					\
	UML_EXPORT struct type *name##_ref(struct type *p)				\
	{										\
		if (p)									\
			__atomic_add_fetch(&p->refcount, 1, __ATOMIC_RELAXED);		\
		return p;								\
	}										\
	UML_EXPORT struct type *name##_unref(struct type *p)				\
	{										\
		if (p && __atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL) == 0)	\
			free_fn(p);							\
		return NULL;								\
	}

/* A public getter of one member that returns fallback for a NULL object. */
#define UML_DEFINE_GETTER(rtype, fname, type, expr, fallback)				\
	UML_EXPORT rtype fname(struct type *p)						\
	{										\
		return p ? (rtype)(expr) : (fallback);					\
	}

/* Closes *fd if open and marks it closed. */
void uml_close_fd(int *fd);

uint64_t uml_now_usec(void);			/* CLOCK_MONOTONIC */
/* Milliseconds from now until a CLOCK_MONOTONIC deadline in usec, for poll(): -1 for UINT64_MAX. */
int uml_ms_until(uint64_t deadline_usec);
/* n_hex random lowercase hex digits and a NUL into out; -EIO when there is no randomness. */
int uml_random_hex(char *out, size_t n_hex);

/* ---- strings ------------------------------------------------------------- */

bool uml_has_space_or_ctrl(const char *s);
/* Replaces *slot by a copy of value (NULL clears it); -ENOMEM leaves it. */
int uml_set_string(char **slot, const char *value);
/* Does s consist of 1..max characters of [A-Za-z0-9._-], and is it not "." or ".."? */
bool uml_valid_name(const char *s, size_t max);

/* A growable byte buffer, always NUL-terminated. */
struct uml_buf {
	char *data;
	size_t len;
	size_t cap;
};
int uml_buf_append(struct uml_buf *b, const void *data, size_t len);
int uml_buf_printf(struct uml_buf *b, const char *fmt, ...) _printf_(2, 3);
void uml_buf_drop_front(struct uml_buf *b, size_t n);
void uml_buf_free(struct uml_buf *b);

/* A growable NULL-terminated array of allocated strings (an argv). */
struct uml_strv {
	char **v;
	size_t n;
	size_t cap;
};
int uml_strv_add(struct uml_strv *s, const char *str);
int uml_strv_addf(struct uml_strv *s, const char *fmt, ...) _printf_(2, 3);
/* Takes an allocated string (freed on failure too). */
int uml_strv_take(struct uml_strv *s, char *str);
void uml_strv_free(struct uml_strv *s);
/* Frees a NULL-terminated array of allocated strings. */
void uml_strv_free_array(char **v);

/*
 * Makes room for need elements of size bytes in the array *pv of capacity
 * *cap (doubling, from 8); 0 or -ENOMEM, which leaves the array as it was.
 */
int uml_grow(void *pv, size_t *cap, size_t need, size_t size);

/* A growable array of ints (file descriptors). */
struct uml_intv {
	int *v;
	size_t n;
	size_t cap;
};
int uml_intv_add(struct uml_intv *s, int value);
void uml_intv_free(struct uml_intv *s);

/* ---- files --------------------------------------------------------------- */

int uml_mkdir_p(const char *path, mode_t mode);
int uml_rm_rf(const char *path);		/* files and dirs below path, then path */
int uml_read_file(const char *path, char **ret, size_t *len);	/* NUL-terminated */
int uml_write_all(int fd, const void *buf, size_t len);
int uml_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Reads up to len bytes at off (fewer only at the end of the file); bytes read. */
ssize_t uml_pread_all(int fd, void *buf, size_t len, uint64_t off);
/*
 * Creates a new file DIR/.BASE.RANDOM next to path with mode (less the
 * umask), never through a symlink; its fd (O_CLOEXEC), its name in
 * *ret_tmp, or a negative errno.
 */
int uml_tmpfile_next_to(const char *path, mode_t mode, char **ret_tmp);
/* Writes a file through a temporary and rename(), so readers never see half. */
int uml_write_file(const char *path, const char *data, size_t len);
int uml_path_absolute(const char *path, char **ret);	/* relative -> cwd-based */
/* Finds an executable on $PATH (or takes a name with a '/'); -ENOENT if none. */
int uml_find_program(const char *name, char **ret);
/* Does the file at path hold exactly want? */
bool uml_stamp_matches(const char *path, const char *want);
/* "SIZE INODE MTIME\n" of path (allocated): changes whenever the file does. */
int uml_file_identity(const char *path, char **ret);
/* Opens (creating, never through a symlink) path and takes an exclusive flock; the fd, or -errno. */
int uml_lock_file(const char *path);

/* ---- hashing --------------------------------------------------------------- */

/* FNV-1a: identifies inputs of stamps and cache entries, not a security hash. */
#define UML_HASH_INIT 0xcbf29ce484222325ULL
uint64_t uml_hash_bytes(uint64_t h, const void *data, size_t len);
uint64_t uml_hash_str(uint64_t h, const char *s);	/* with its NUL */

#endif
