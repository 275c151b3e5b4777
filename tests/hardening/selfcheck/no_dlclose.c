/* no_dlclose.c - LD_PRELOADed by tools/check-sanitize.sh: dlclose() keeps the
 * module mapped, so leaks inside plugins are reported with their symbols
 * (LeakSanitizer and valgrind symbolise at exit, after the host unloaded
 * them, and would print "<unknown module>" otherwise). Built without
 * sanitizers so that it can also sit under non-instrumented programs. */
int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
