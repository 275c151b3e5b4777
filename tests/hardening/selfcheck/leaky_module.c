/* leaky_module.c - a dlopen'ed module that leaks on purpose: check-sanitize's
 * self-check proves LeakSanitizer names this function even though the host
 * dlclose()s the module before exit (the no-dlclose shim keeps it mapped). */
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) void *sb_selfcheck_leaky_open(void);

__attribute__((visibility("default"))) void *sb_selfcheck_leaky_open(void) {
    char *p = malloc(4242);
    if (p) memset(p, 1, 4242);
    return p;
}
