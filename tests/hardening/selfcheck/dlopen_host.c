/* dlopen_host.c - loads leaky_module.so, calls it, drops the pointer,
 * dlclose()s it and exits: the way srambench treats a plugin. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    void *h = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
    void *(*fn)(void);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    *(void **)&fn = dlsym(h, "sb_selfcheck_leaky_open");
    if (!fn) return 2;
    if (fn() == NULL) return 2;
    return dlclose(h) != 0 ? 2 : 0;
}
