/*
 * an521_fmt.h - the small printf both cores of the AN521 use (host
 * runtime and firmware SDK): %s %c %d %i %u %x %p %%, the l, ll and z
 * length modifiers, a field width with an optional 0 flag. No floats, no
 * precision. Output goes through put(arg, c), one character at a time.
 */
#ifndef AN521_FMT_H
#define AN521_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Returns the number of characters produced. */
int an521_vformat(void (*put)(void *arg, char c), void *arg, const char *fmt, va_list ap);

/* Into buf[size], always NUL-terminated (size > 0); returns the length
 * the whole text would have had, as snprintf does. */
int an521_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif /* AN521_FMT_H */
