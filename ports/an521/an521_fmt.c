/*
 * an521_fmt.c - the AN521's small printf (an521_fmt.h). Every argument
 * is consumed by exactly its conversion, so an unknown conversion is
 * printed as it is and takes none.
 */
#include <stdbool.h>
#include <stdint.h>

#include "an521_fmt.h"

struct out {
    void (*put)(void *, char);
    void *arg;
    int n;
};

static void emit(struct out *o, char c)
{
    o->put(o->arg, c);
    o->n++;
}

static void num(struct out *o, unsigned long long v, unsigned base, bool neg, int width, char pad)
{
    char d[24];
    int i = 0;
    do
        d[i++] = "0123456789abcdef"[v % base];
    while ((v /= base) != 0);
    if (neg && pad == '0')
        emit(o, '-');
    for (int w = i + (neg ? 1 : 0); w < width; w++)
        emit(o, pad);
    if (neg && pad != '0')
        emit(o, '-');
    while (i > 0)
        emit(o, d[--i]);
}

int an521_vformat(void (*put)(void *, char), void *arg, const char *f, va_list ap)
{
    struct out o = {put, arg, 0};
    for (; *f; f++) {
        if (*f != '%') {
            emit(&o, *f);
            continue;
        }
        f++;
        char pad = ' ';
        int width = 0, lng = 0; /* lng 0: int, 1: long / size_t, 2: long long */
        if (*f == '0') {
            pad = '0';
            f++;
        }
        for (; *f >= '0' && *f <= '9'; f++)
            width = width * 10 + (*f - '0');
        for (; *f == 'l' || *f == 'z'; f++)
            lng = *f == 'z' ? 1 : lng + 1;
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            num(&o, v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng == 0 ? va_arg(ap, unsigned)
                                   : lng == 1 ? va_arg(ap, unsigned long)
                                              : va_arg(ap, unsigned long long);
            num(&o, v, *f == 'x' ? 16 : 10, false, width, pad);
            break;
        }
        case 'p':
            emit(&o, '0');
            emit(&o, 'x');
            num(&o, (uintptr_t)va_arg(ap, void *), 16, false, 8, '0');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            s = s ? s : "(null)";
            while (s[len])
                len++;
            for (; len < width; width--)
                emit(&o, ' ');
            while (*s)
                emit(&o, *s++);
            break;
        }
        case 'c':
            emit(&o, (char)va_arg(ap, int));
            break;
        case '\0': /* a lone % at the end */
            return o.n;
        default: /* %% and anything we do not know */
            emit(&o, *f);
        }
    }
    return o.n;
}

struct sbuf {
    char *buf;
    size_t size, n;
};

static void sput(void *arg, char c)
{
    struct sbuf *s = arg;
    if (s->n + 1 < s->size)
        s->buf[s->n++] = c;
}

int an521_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sbuf s = {buf, size, 0};
    int n = an521_vformat(sput, &s, fmt, ap);
    if (size)
        buf[s.n] = '\0';
    return n;
}
