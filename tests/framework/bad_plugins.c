/* Plugins the loader must refuse; which one is chosen by -D at build time. */
#include <stdlib.h>

#include "sb_plugin.h"

#if defined(SB_BAD_ABI)
static const sb_backend_plugin plugin = {
    {SB_ABI_MAJOR + 1, 0, SB_KIND_BACKEND, "badabi", "1.0.0", "built for a future ABI", NULL},
    NULL, NULL, NULL, NULL, NULL, NULL};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
#elif defined(SB_WRONG_KIND)
/* Named like a backend, declares itself a dataset. */
static const sb_dataset_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_DATASET, "wrongkind", "1.0.0", "a dataset in a backend's file", NULL),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
#elif defined(SB_NULL_RUN)
/* Leaves two required functions NULL; the others abort, so a test shows the
 * refusal comes before the host calls any of them. */
static int b_open(const sb_host *host, const sb_options *opts, void **be, sb_error *err) {
    (void)host; (void)opts; (void)be; (void)err;
    abort();
}
static void b_close(void *be) {
    (void)be;
    abort();
}
static void b_release(void *prog) {
    (void)prog;
    abort();
}
static const sb_backend_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_BACKEND, "norun", "1.0.0", "no prepare(), no run()", NULL),
    b_open, b_close, NULL, b_release, NULL, NULL};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
#else
/* No sb_plugin_entry at all. */
SB_EXPORT int sb_not_the_entry = 1;
#endif
